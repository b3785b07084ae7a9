"""On PostgreSQL, verification in chunks and processes reports exactly what the one-pass reference reports."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ledger import verify_chunks
from ledger.checkpointing import make_checkpoint
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.proof.verify import Claim, verify_rows
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.attacker import Attacker
from tests.factories import many_shown
from tests.ledgers import env_settings

ACTOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}
COPY_OF_8 = (
    "INSERT INTO {events} (originator_id, originator_version, topic, state, seq, digest, recorded_us, prev_hash, "
    "hash, leaf_hash) SELECT gen_random_uuid(), 1, topic, state, seq, digest, recorded_us, prev_hash, hash, leaf_hash "
    "FROM {events} WHERE seq = 8"
)

# Chunks of 4 seqs start at 1, 5, 9, 13, ...: the attacks sit on and beside their boundaries.
ATTACKS = {
    "untouched": [],
    "a changed byte at seq 7": ["UPDATE {events} SET state = state || '\\x20'::bytea WHERE seq = 7"],
    "the first seq of a chunk deleted": ["DELETE FROM {events} WHERE seq = 5"],
    "the last seq of a chunk deleted": ["DELETE FROM {events} WHERE seq = 8"],
    "a whole chunk deleted": ["DELETE FROM {events} WHERE seq BETWEEN 5 AND 8"],
    "a NULL state": ["UPDATE {events} SET state = NULL WHERE seq = 6"],
    "a NULL topic at a chunk's first seq": ["UPDATE {events} SET topic = NULL WHERE seq = 9"],
    "a NULL hash": ["UPDATE {events} SET hash = NULL WHERE seq = 11"],
    "a NULL prev_hash at a chunk's first seq": ["UPDATE {events} SET prev_hash = NULL WHERE seq = 5"],
    "a NULL recorded time": ["UPDATE {events} SET recorded_us = NULL WHERE seq = 14"],
    "a 31-byte hash at a chunk's last seq": ["UPDATE {events} SET hash = substring(hash from 1 for 31) WHERE seq = 12"],
    "a 33-byte leaf hash": ["UPDATE {events} SET leaf_hash = leaf_hash || '\\x00'::bytea WHERE seq = 10"],
    "time reversed across a boundary": ["UPDATE {events} SET recorded_us = 0 WHERE seq = 13"],
    "a seq far past the end": ["UPDATE {events} SET seq = 100 WHERE seq = 30"],
    "a seq below 1": ["UPDATE {events} SET seq = 0 WHERE seq = 3"],
    "a duplicate at a chunk's last seq": ["DROP INDEX {schema}.ledger_events_seq_idx", COPY_OF_8],
    "the tail rewritten": ["UPDATE {events} SET state = state || '\\x20'::bytea WHERE seq > 20"],
}


@pytest.fixture
def keys(tmp_path: Path) -> KeyFolder:
    return KeyFolder(tmp_path / "keys")


@pytest.fixture
def log(pg_url: str, tmp_path: Path, keys: KeyFolder) -> str:
    """30 events and checkpoints at sizes 7, 13 and 22 (a key event comes first)."""
    with Ledger(env_settings(pg_url)) as ledger:
        key = keys.activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None).key
        (tmp_path / "published").mkdir()
        folder = CheckpointDirectory(tmp_path / "published")
        for count in (6, 6, 9, 8):
            ledger.submit(many_shown(count, prefix=f"p{count}-{ledger.head_seq()}"))
            if ledger.head_seq() < 30:
                make_checkpoint(ledger, key, origin="test/log", folder=folder)
    return pg_url


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_chunked_verification_reports_what_the_reference_reports(
    log: str, keys: KeyFolder, attack: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = Attacker(log)
    schema = attacker.db.settings["POSTGRES_SCHEMA"]
    attacker.run(*(statement.replace("{schema}", f'"{schema}"') for statement in attack))
    monkeypatch.setattr(verify_chunks, "CHUNK_SEQS", 4)
    monkeypatch.setattr(verify_chunks, "PROCESSES", 2)
    with Ledger(env_settings(log), create_tables=False) as ledger:
        claims = [Claim("database", c.note) for c in ledger.checkpoints()]
        assert [c.size for c in ledger.checkpoints()] == [7, 13, 22]
        keyring, unchained = keys.keyring(), ledger.unchained_events
        reference = verify_rows(ledger.scan(), unchained=unchained, claims=claims, keyring=keyring, origin="test/log")
        source = ledger.copy_source()
        assert source is not None
        chunked = verify_chunks.verify_chunks(
            source, unchained=unchained, claims=claims, keyring=keyring, origin="test/log"
        )
    assert chunked.to_json() == reference.to_json()
    assert reference.intact == (attack == [])


def test_chunks_cover_every_seq_once_and_stay_few() -> None:
    chunks = verify_chunks.plan_chunks(10, 4)
    assert [(c.lo, c.hi) for c in chunks] == [(None, 5), (5, 9), (9, None)]
    assert verify_chunks.plan_chunks(None, 4) == [verify_chunks.Chunk(None, None)]
    assert verify_chunks.plan_chunks(4, 4) == [verify_chunks.Chunk(None, None)]
    assert len(verify_chunks.plan_chunks(2**62, 4)) <= verify_chunks.MAX_CHUNKS


def test_one_row_in_each_chunk_reports_the_gaps_between(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger(env_settings(pg_url)) as ledger:
        ledger.submit(many_shown(12))
    Attacker(pg_url).run("DELETE FROM {events} WHERE seq NOT IN (1, 6, 12)")
    monkeypatch.setattr(verify_chunks, "CHUNK_SEQS", 4)
    monkeypatch.setattr(verify_chunks, "PROCESSES", 2)
    with Ledger(env_settings(pg_url), create_tables=False) as ledger:
        source = ledger.copy_source()
        assert source is not None
        report = verify_chunks.verify_chunks(source, unchained=ledger.unchained_events)
    gaps = [(f.seq, f.detail) for f in report.findings if f.kind == "gap"]
    assert gaps == [(2, "seqs 2-5 missing before seq 6"), (7, "seqs 7-11 missing before seq 12")]
    assert report.events == 3 and report.head_seq == 12


def test_an_error_mid_chunk_propagates_instead_of_hanging_on_the_half_read_copy(
    log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Attacker(log).run("UPDATE {events} SET state = state || '\\x20'::bytea WHERE seq = 3")  # off the fast path

    def fails(row: object, cursor: object) -> list[object]:
        raise RuntimeError("the check stopped")

    monkeypatch.setattr(verify_chunks, "check_row", fails)
    monkeypatch.setattr(verify_chunks, "PROCESSES", 1)  # the coordinator reads the chunk itself
    outcome: list[str] = []

    def verify() -> None:
        with Ledger(env_settings(log), create_tables=False) as ledger:
            source = ledger.copy_source()
            assert source is not None
            try:
                verify_chunks.verify_chunks(source, unchained=ledger.unchained_events)
            except RuntimeError as exc:
                outcome.append(str(exc))

    verifying = threading.Thread(target=verify, daemon=True)
    verifying.start()
    verifying.join(timeout=60)
    assert not verifying.is_alive(), "verification hung on a COPY left half read"
    assert outcome == ["the check stopped"]
