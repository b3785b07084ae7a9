"""The completeness index's hashing and proofs, against the JSON vectors any other language can reuse."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import IntegrityError, MalformedProof
from ledger.proof.index import (
    EMPTY_BUCKET,
    IndexBuilder,
    index_keys,
    key_hash,
    parse_index_proof,
    seqs_hash,
    verify_index_proof,
)

VECTORS = json.loads((Path(__file__).parents[1] / "testdata" / "index" / "vectors.json").read_text())
ROOT = bytes.fromhex(VECTORS["roots"]["40"])


def test_hashes_match_the_vectors() -> None:
    """Key hash, seqs chain and empty bucket are pinned: a change is a format change."""
    for key, digest in VECTORS["key_hash"].items():
        assert key_hash(key).hex() == digest
    assert seqs_hash(VECTORS["seqs_hash"]["seqs"]).hex() == VECTORS["seqs_hash"]["hash"]
    assert EMPTY_BUCKET.hex() == VECTORS["empty_bucket"]


def test_roots_recompute_from_the_entries() -> None:
    """The index root after each listed size, recomputed from the keys each seq names."""
    builder = IndexBuilder()
    assert builder.root().hex() == VECTORS["empty_root"]
    for entry in VECTORS["entries"]:
        builder.add(entry["seq"], entry["keys"])
        if str(entry["seq"]) in VECTORS["roots"]:
            assert builder.root().hex() == VECTORS["roots"][str(entry["seq"])]


@pytest.mark.parametrize("case", VECTORS["proofs"], ids=lambda c: c["proof"]["key"])
def test_each_proof_verifies_and_gives_its_seqs(case: dict[str, Any]) -> None:
    """Present keys give their full list; absent keys an empty one."""
    proof = parse_index_proof(case["proof"], "proof")
    assert verify_index_proof(proof, root=ROOT) == case["proof"]["seqs"]


def _mutations(raw: dict[str, Any]) -> list[dict[str, Any]]:
    changes = [
        lambda p: p["seqs"].append(p["tree_size"]),  # a seq added
        lambda p: p.__setitem__("key", p["key"] + "x"),  # another key
        lambda p: p["path"].__setitem__(3, "00" * 32),  # a sibling changed
        lambda p: p.__setitem__("bucket", (p["bucket"] + 1) % 4096),  # another bucket
    ]
    if raw["seqs"]:
        changes.append(lambda p: p["seqs"].pop())  # a seq dropped
    if raw["leaves"]:
        changes.append(lambda p: p["leaves"].pop(0))  # a leaf removed
    out = []
    for change in changes:
        mutated = copy.deepcopy(raw)
        change(mutated)
        out.append(mutated)
    return out


@pytest.mark.parametrize("case", VECTORS["proofs"], ids=lambda c: c["proof"]["key"])
def test_every_mutated_proof_is_refused(case: dict[str, Any]) -> None:
    """Any change to the list, the key, the bucket, a leaf or a sibling fails (computed, then compared)."""
    for mutated in _mutations(case["proof"]):
        with pytest.raises(IntegrityError):
            verify_index_proof(parse_index_proof(mutated, "proof"), root=ROOT)


def test_a_malformed_proof_is_an_input_error_naming_the_field() -> None:
    """Parsing is strict: wrong fields, non-hex hashes and negative seqs are MalformedProof."""
    raw = copy.deepcopy(VECTORS["proofs"][0]["proof"])
    raw["path"][0] = "zz" * 32
    with pytest.raises(MalformedProof, match=r"proof.path\[0\]: not hex"):
        parse_index_proof(raw, "proof")
    with pytest.raises(MalformedProof, match="fields must be"):
        parse_index_proof({"key": "x"}, "proof")


def test_the_keys_an_event_names_follow_the_documented_rules() -> None:
    """incident_id, output_id, each of output_ids, tool_id, clinician_id; strings only."""
    data = {"incident_id": "I", "output_ids": ["o1", "o2", 3], "tool_id": "t", "clinician_id": "c", "score": "s"}
    assert index_keys(data) == ["clinician:c", "incident:I", "output:o1", "output:o2", "tool:t"]
    assert index_keys({"output_id": 5}) == []


def test_a_sealed_event_names_its_subject_token_and_never_a_clear_value() -> None:
    """The field holding the ciphertext gives subject:<token>; a field sealed with it, or a look-alike, none."""
    data = {
        "incident_id": "I",
        "patient_ref": {"as": "string", "sealed": "AAAA", "subject": "9f3a"},
        "explanation": {"as": "string", "sealed_with": "patient_ref"},
        "note": {"subject": "not-sealed"},
    }
    assert index_keys(data) == ["incident:I", "subject:9f3a"]


def test_a_key_named_twice_is_named_once_and_odd_sealed_shapes_name_nothing() -> None:
    """output_id among output_ids is one key; a ciphertext field whose subject is not a string, or with a fourth
    member, gives no subject key."""
    data = {
        "output_id": "o1",
        "output_ids": ["o1", "o2"],
        "a": {"as": "string", "sealed": "AAAA", "subject": 7},
        "b": {"as": "string", "sealed": "AAAA", "subject": "t", "extra": 1},
        "c": ["o3"],
    }
    assert index_keys(data) == ["output:o1", "output:o2"]
