"""An independent verifier, written from docs/ledger-format.md alone, against the JSON vectors.

It uses only hashlib and struct, so that it could be ported line for line to
another language; the project's own code must agree with it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from ledger.proof.chain import GENESIS, entry_bytes, link_hash
from ledger.proof.merkle import leaf_hash, root_of_leaves
from ledger.proof.verify import verify_rows

VECTORS = json.loads((Path(__file__).parents[1] / "testdata" / "chain-vectors.json").read_text("utf-8"))


def independent_mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + independent_mth(leaves[:split]) + independent_mth(leaves[split:])).digest()


def test_vectors_verify_with_the_independent_procedure() -> None:
    prev = bytes(32)
    leaves = []
    for number, e in enumerate(VECTORS["entries"], start=1):
        assert e["seq"] == number
        entry = struct.pack(">Qq", e["seq"], e["recorded_us"]) + e["canonical"].encode("utf-8")
        assert entry.hex() == e["entry_hex"]
        assert bytes.fromhex(e["prev_hash"]) == prev
        digest = hashlib.sha256(b"\x02" + prev + entry).digest()
        assert digest.hex() == e["hash"]
        leaves.append(hashlib.sha256(b"\x00" + entry).digest())
        assert leaves[-1].hex() == e["leaf_hash"]
        prev = digest
    assert independent_mth(leaves).hex() == VECTORS["merkle_root"]


def test_project_code_agrees_with_the_vectors() -> None:
    prev = GENESIS
    for e in VECTORS["entries"]:
        entry = entry_bytes(seq=e["seq"], recorded_us=e["recorded_us"], body=e["canonical"].encode())
        prev = link_hash(prev=prev, entry=entry)
        assert prev.hex() == e["hash"]
    leaves = [leaf_hash(bytes.fromhex(e["entry_hex"])) for e in VECTORS["entries"]]
    assert root_of_leaves(leaves).hex() == VECTORS["merkle_root"]


def _rows() -> list[tuple[object, ...]]:
    return [
        (
            e["seq"],
            "id",
            e["recorded_us"],
            bytes.fromhex(e["prev_hash"]),
            bytes.fromhex(e["hash"]),
            hashlib.sha256(e["canonical"].encode()).digest(),
            "ledger:x",
            e["canonical"].encode(),
            bytes.fromhex(e["leaf_hash"]),
        )
        for e in VECTORS["entries"]
    ]


def test_the_verifier_passes_the_vectors() -> None:
    report = verify_rows(_rows())
    assert report.intact and report.events == len(VECTORS["entries"])


@pytest.mark.parametrize("position", range(6))
def test_the_verifier_names_the_seq_of_any_flipped_byte(position: int) -> None:
    rows = _rows()
    row = list(rows[position])
    body = bytearray(row[7])  # type: ignore[arg-type]
    body[len(body) // 2] ^= 0x40
    row[7] = bytes(body)
    rows[position] = tuple(row)
    report = verify_rows(rows)
    seq = row[0]
    kinds = [(f.seq, f.kind) for f in report.findings]
    assert kinds == [(seq, "hash mismatch"), (seq, "leaf mismatch"), (seq, "digest mismatch")]


def test_a_verifier_over_no_rows_reports_zero_events_not_a_pass_of_something() -> None:
    report = verify_rows([])
    assert report.intact and report.events == 0 and report.head_seq == 0
