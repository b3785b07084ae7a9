"""Tampering as an attacker would, on both stores: `ledger verify` names the seq and exits 1."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from ledger.store import Ledger
from scripts.cli import main
from tests.attacker import Attacker
from tests.factories import many_shown, shown
from tests.ledgers import env_settings

COUNT = 12


@pytest.fixture
def filled(audited_url: str) -> str:
    with Ledger(env_settings(audited_url)) as ledger:
        for start in range(0, COUNT, 4):
            ledger.submit(many_shown(4, prefix=f"b{start}"))
    return audited_url


def verify(url: str, tmp_path: Path) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    code = main(["verify", "--database-url", url, "--format", "json", "--output", str(report)])
    return code, json.loads(report.read_text())


def kinds_at(report: dict) -> list[tuple[int | None, str]]:
    return [(f["seq"], f["kind"]) for f in report["findings"]]


def test_untouched_ledger_verifies_with_exit_0(filled: str, tmp_path: Path) -> None:
    code, report = verify(filled, tmp_path)
    assert code == 0
    assert report["intact"] and report["events"] == COUNT and report["findings"] == []


def test_one_changed_byte_is_a_hash_mismatch_at_its_seq(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    (state,) = attacker.run("SELECT state FROM {events} WHERE seq = 7")[0]
    forged = bytearray(state)
    forged[forged.index(b"dr-ada")] ^= 0x01  # one bit of one byte
    attacker.run("UPDATE {events} SET state = %s WHERE seq = 7", params=(bytes(forged),))
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report) == [(7, "hash mismatch"), (7, "leaf mismatch"), (7, "digest mismatch")]


@pytest.mark.parametrize("column", ["hash", "prev_hash", "recorded_us"])
def test_a_chain_column_set_to_null_is_reported_at_its_seq_not_a_crash(
    filled: str, tmp_path: Path, column: str
) -> None:
    if filled.startswith("sqlite"):
        pytest.skip("SQLite's table declares the chain columns NOT NULL; PostgreSQL's are added to eventsourcing's")
    Attacker(filled).run(f"UPDATE {{events}} SET {column} = NULL WHERE seq = 6")
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert (6, "missing chain column") in kinds_at(report)
    assert any(column in f.get("detail", "") for f in report["findings"] if f["seq"] == 6)


def test_deleted_event_is_a_gap_at_its_seq(filled: str, tmp_path: Path) -> None:
    Attacker(filled).run("DELETE FROM {events} WHERE seq = 5")
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report)[:2] == [(5, "gap"), (6, "broken link")]


def test_deleted_last_event_is_invisible_to_the_chain_alone(filled: str, tmp_path: Path) -> None:
    # Cutting the tail leaves a shorter, internally valid chain: only a checkpoint
    # kept outside the database can tell (see the auditor toolkit), so say so here.
    Attacker(filled).run("DELETE FROM {events} WHERE seq = %s", params=(COUNT,))
    code, report = verify(filled, tmp_path)
    assert code == 0 and report["events"] == COUNT - 1


def test_forged_row_spliced_into_the_middle_breaks_the_link_after_it(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    prev_hash, recorded_us = attacker.run("SELECT hash, recorded_us FROM {events} WHERE seq = 4")[0]
    forged_event = shown(output_id="out-never-shown")
    body = json.dumps(forged_event, sort_keys=True, separators=(",", ":")).encode()
    # The attacker knows the formula and links the forged entry correctly to seq 4 ...
    entry = struct.pack(">Qq", 5, recorded_us) + body
    forged_hash = hashlib.sha256(b"\x02" + bytes(prev_hash) + entry).digest()
    key = attacker.event_key(forged_event["event_id"])
    attacker.run(  # ... and makes room for it by renumbering everything after.
        "UPDATE {events} SET seq = seq + 1000000 WHERE seq >= 5",
        "UPDATE {events} SET seq = seq - 999999 WHERE seq >= 1000000",
    )
    attacker.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state, seq, digest, recorded_us, "
        "prev_hash, hash, leaf_hash) VALUES (%s, 1, %s, %s, 5, %s, %s, %s, %s, %s)",
        params=(
            key, "ledger:output.shown", body, hashlib.sha256(body).digest(), recorded_us, bytes(prev_hash),
            forged_hash, hashlib.sha256(b"\x00" + entry).digest(),
        ),
    )  # fmt: skip
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report)[0] == (6, "broken link")  # the forged entry itself links; the next cannot


def test_forged_event_without_a_chain_position_is_an_unchained_event(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    if attacker.backend == "sqlite":
        pytest.skip("on SQLite seq is the rowid: a row cannot exist without one (the tail tests cover it)")
    forged = shown()
    attacker.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s)",
        params=(attacker.event_key(forged["event_id"]), "ledger:output.shown", b"{}"),
    )
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report) == [(None, "unchained event")]
    assert forged["event_id"] in report["findings"][0]["detail"]


def test_forged_event_appended_with_a_guessed_hash_is_a_mismatch_at_its_seq(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    (prev_hash,) = attacker.run("SELECT hash FROM {events} WHERE seq = %s", params=(COUNT,))[0]
    forged = shown()
    body = json.dumps(forged, sort_keys=True, separators=(",", ":")).encode()
    guessed = hashlib.sha256(bytes(prev_hash) + body).digest()  # no domain prefix, no framing
    attacker.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state, seq, digest, recorded_us, "
        "prev_hash, hash, leaf_hash) VALUES (%s, 1, 'ledger:output.shown', %s, %s, %s, 0, %s, %s, %s)",
        params=(attacker.event_key(forged["event_id"]), body, COUNT + 1, hashlib.sha256(body).digest(),
                bytes(prev_hash), guessed, guessed),
    )  # fmt: skip
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert (COUNT + 1, "hash mismatch") in kinds_at(report)


def test_two_swapped_events_are_hash_mismatches_at_both_seqs(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    states = dict(attacker.run("SELECT seq, state FROM {events} WHERE seq IN (8, 9)"))
    for seq, other in ((8, 9), (9, 8)):
        attacker.run("UPDATE {events} SET state = %s WHERE seq = %s", params=(states[other], seq))
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert [k for k in kinds_at(report) if k[1] == "hash mismatch"] == [(8, "hash mismatch"), (9, "hash mismatch")]


def test_two_swapped_rows_break_the_link_at_the_first(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    attacker.run(
        "UPDATE {events} SET seq = 1000 WHERE seq = 8",
        "UPDATE {events} SET seq = 8 WHERE seq = 9",
        "UPDATE {events} SET seq = 9 WHERE seq = 1000",
    )
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report)[0] == (8, "broken link")
