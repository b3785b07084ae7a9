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

COUNT = 12


@pytest.fixture
def filled(store_url: str) -> str:
    with Ledger(store_url) as ledger:
        for start in range(0, COUNT, 4):
            ledger.submit(many_shown(4, prefix=f"b{start}"))
    return store_url


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
    (event_id,) = attacker.run("SELECT event_id FROM {chain} WHERE seq = 7")[0]
    (state,) = attacker.run("SELECT state FROM {events} WHERE originator_id = %s", params=(event_id,))[0]
    forged = bytearray(state)
    forged[forged.index(b"dr-ada")] ^= 0x01  # one bit of one byte
    attacker.run("UPDATE {events} SET state = %s WHERE originator_id = %s", params=(bytes(forged), event_id))
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report) == [(7, "hash mismatch"), (7, "digest mismatch")]


def test_deleted_event_is_a_gap_at_its_seq(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    (event_id,) = attacker.run("SELECT event_id FROM {chain} WHERE seq = 5")[0]
    attacker.run("DELETE FROM {events} WHERE originator_id = %s", params=(event_id,))
    attacker.run("DELETE FROM {chain} WHERE seq = 5")
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report)[:2] == [(5, "gap"), (6, "broken link")]


def test_deleted_chain_row_alone_leaves_an_unchained_event(filled: str, tmp_path: Path) -> None:
    Attacker(filled).run("DELETE FROM {chain} WHERE seq = 3")
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert (3, "gap") in kinds_at(report) and (None, "unchained event") in kinds_at(report)


def test_forged_row_spliced_into_the_middle_breaks_the_link_after_it(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    prev_hash, recorded_us = attacker.run("SELECT hash, recorded_us FROM {chain} WHERE seq = 4")[0]
    forged_event = shown(output_id="out-never-shown")
    body = json.dumps(forged_event, sort_keys=True, separators=(",", ":")).encode()
    # The attacker knows the formula and links the forged entry correctly to seq 4 ...
    entry = struct.pack(">Qq", 5, recorded_us) + body
    forged_hash = hashlib.sha256(b"\x02" + bytes(prev_hash) + entry).digest()
    key = attacker.event_key(forged_event["event_id"])
    attacker.run(  # ... and makes room for it by renumbering everything after.
        "UPDATE {chain} SET seq = seq + 1000000 WHERE seq >= 5",
        "UPDATE {chain} SET seq = seq - 999999 WHERE seq >= 1000000",
    )
    attacker.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s)",
        params=(key, "ledger:output.shown", body),
    )
    attacker.run(
        "INSERT INTO {chain} (seq, event_id, digest, recorded_us, prev_hash, hash) VALUES (5, %s, %s, %s, %s, %s)",
        params=(key, hashlib.sha256(body).digest(), recorded_us, bytes(prev_hash), forged_hash),
    )
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report)[0] == (6, "broken link")  # the forged entry itself links; the next cannot


def test_forged_event_without_a_chain_row_is_an_unchained_event(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    forged = shown()
    attacker.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s)",
        params=(attacker.event_key(forged["event_id"]), "ledger:output.shown", b"{}"),
    )
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report) == [(None, "unchained event")]
    assert forged["event_id"] in report["findings"][0]["detail"]


def test_two_swapped_events_are_hash_mismatches_at_both_seqs(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    ids = dict(attacker.run("SELECT seq, event_id FROM {chain} WHERE seq IN (8, 9)"))
    states = {
        seq: attacker.run("SELECT state FROM {events} WHERE originator_id = %s", params=(eid,))[0][0]
        for seq, eid in ids.items()
    }
    for seq, other in ((8, 9), (9, 8)):
        attacker.run("UPDATE {events} SET state = %s WHERE originator_id = %s", params=(states[other], ids[seq]))
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert [k for k in kinds_at(report) if k[1] == "hash mismatch"] == [(8, "hash mismatch"), (9, "hash mismatch")]


def test_two_swapped_chain_rows_break_the_link_at_the_first(filled: str, tmp_path: Path) -> None:
    attacker = Attacker(filled)
    attacker.run(
        "UPDATE {chain} SET seq = 1000 WHERE seq = 8",
        "UPDATE {chain} SET seq = 8 WHERE seq = 9",
        "UPDATE {chain} SET seq = 9 WHERE seq = 1000",
    )
    code, report = verify(filled, tmp_path)
    assert code == 1
    assert kinds_at(report)[0] == (8, "broken link")
