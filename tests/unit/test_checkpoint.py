"""Checkpoints: the tlog-checkpoint body, signing and opening, write-once storage."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import (
    InconsistentCheckpoint,
    LedgerError,
    MalformedProof,
    SignatureInvalid,
)
from ledger.proof.checkpoint import (
    Checkpoint,
    CheckpointDirectory,
    open_checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
)
from ledger.proof.keys import Keyring, generate, parse_signing_key, parse_verifier_key
from ledger.proof.note import parse_note, sign_note

VECTORS = Path(__file__).parent.parent / "testdata" / "notes"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


LEDGER = _load("ledger-checkpoints.json")
C2SP = {vector["id"]: vector for vector in _load("c2sp-examples.json")["vectors"]}
SIGNERS = {name: parse_signing_key(key["signer_key"]) for name, key in LEDGER["keys"].items()}
VERIFIERS = {name: parse_verifier_key(key["verifier_key"]) for name, key in LEDGER["keys"].items()}
LOG = SIGNERS["ledger.example/log"]
LOG_RING = Keyring([VERIFIERS["ledger.example/log"]])
ORIGIN = "ledger.example/log"
ROOT = hashlib.sha256(b"leaf").digest()


def _checkpoint(fields: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        fields["origin"],
        fields["size"],
        bytes.fromhex(fields["root_hash_hex"]),
        tuple(fields["extensions"]),
    )


# The project's vectors


def test_signing_key_vectors_match_their_verifier_keys() -> None:
    for name, signer in SIGNERS.items():
        assert signer.verifier() == VERIFIERS[name]


@pytest.mark.parametrize("vector", LEDGER["signed_checkpoints"], ids=lambda v: v["id"])
def test_checkpoint_vectors_sign_byte_for_byte(vector: dict[str, Any]) -> None:
    checkpoint = _checkpoint(vector["checkpoint"])
    assert checkpoint.body() == vector["body"]
    signers = [SIGNERS[name] for name in vector["signed_by"]]
    assert sign_checkpoint(checkpoint, *signers) == vector["signed"]


@pytest.mark.parametrize("vector", LEDGER["signed_checkpoints"], ids=lambda v: v["id"])
def test_checkpoint_vectors_open_to_their_checkpoint(vector: dict[str, Any]) -> None:
    assert open_checkpoint(vector["signed"], LOG_RING) == _checkpoint(vector["checkpoint"])


@pytest.mark.parametrize("vector", LEDGER["malformed_bodies"], ids=lambda v: v["id"])
def test_malformed_checkpoint_bodies_are_refused_with_their_defect(vector: dict[str, str]) -> None:
    with pytest.raises(MalformedProof, match=re.escape(vector["message"])):
        parse_checkpoint_body(vector["body"])


def test_largest_tree_size_is_accepted() -> None:
    vector = LEDGER["largest_size"]
    assert parse_checkpoint_body(vector["body"]).size == vector["size"] == 2**64 - 1


def test_c2sp_example_checkpoint_parses() -> None:
    vector = C2SP["tlog_checkpoint_example"]
    assert parse_checkpoint_body(parse_note(vector["note"]).text) == _checkpoint(vector["checkpoint"])


# The body


def test_body_is_origin_size_and_base64_root_lines() -> None:
    body = Checkpoint(ORIGIN, 42, ROOT).body()
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n"


def test_ledger_writes_no_timestamp_or_other_extension_line() -> None:
    assert Checkpoint(ORIGIN, 42, ROOT).body().count("\n") == 3


def test_body_round_trips_through_parse() -> None:
    checkpoint = Checkpoint(ORIGIN, 7, ROOT, ("opaque",))
    assert parse_checkpoint_body(checkpoint.body()) == checkpoint


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions", "defect"),
    [
        ("", 1, ROOT, (), "origin is empty"),
        ("a\nb", 1, ROOT, (), "origin contains control character U\\+000A"),
        (ORIGIN, -1, ROOT, (), "tree size -1 is outside"),
        (ORIGIN, True, ROOT, (), "tree size True is not an integer"),
        (ORIGIN, 2**64, ROOT, (), "is outside 0..2\\^64-1"),
        (ORIGIN, 1, ROOT[:31], (), "root hash is 31 bytes, expected 32"),
        (ORIGIN, 1, ROOT, ("",), "extension line 1 is empty"),
        (ORIGIN, 1, ROOT, ("ok", "a\nb"), "extension line 2 contains control character"),
    ],
)
def test_invalid_checkpoints_cannot_be_built(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...], defect: str
) -> None:
    with pytest.raises(MalformedProof, match=defect):
        Checkpoint(origin, size, root, extensions)


# Signing and opening


def test_signed_checkpoint_round_trips() -> None:
    checkpoint = Checkpoint(ORIGIN, 12345, ROOT)
    assert open_checkpoint(sign_checkpoint(checkpoint, LOG), LOG_RING) == checkpoint


def test_cosigned_checkpoint_opens_with_only_the_log_key_trusted() -> None:
    witness = generate("witness.example/w1")
    signed = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), LOG, witness)
    assert open_checkpoint(signed, LOG_RING).size == 3


def test_checkpoint_signed_only_by_a_witness_is_refused() -> None:
    witness = generate("witness.example/w1")
    signed = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), witness)
    with pytest.raises(SignatureInvalid, match="no signature by a trusted key"):
        open_checkpoint(signed, LOG_RING)


def test_checkpoint_of_another_origin_is_refused_when_the_origin_is_given() -> None:
    signed = sign_checkpoint(Checkpoint("other.example/log", 3, ROOT), LOG)
    assert open_checkpoint(signed, LOG_RING).origin == "other.example/log"
    with pytest.raises(InconsistentCheckpoint, match="for origin 'other.example/log'"):
        open_checkpoint(signed, LOG_RING, origin=ORIGIN)


def test_signature_checked_before_the_body_is_trusted() -> None:
    # A well-signed note whose text is not a checkpoint is still refused.
    with pytest.raises(MalformedProof, match="needs origin, tree size and root hash"):
        open_checkpoint(sign_note("just a note\n", LOG), LOG_RING)


def _flips(data: bytes) -> list[bytes]:
    """``data`` with one bit flipped, for every byte and several bit positions."""
    return [
        data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]
        for index in range(len(data))
        for mask in (0x01, 0x02, 0x20, 0x80)
    ]


def _accepted(candidates: list[bytes], keyring: Keyring) -> list[bytes]:
    accepted = []
    for candidate in candidates:
        try:
            open_checkpoint(candidate, keyring)
        except (MalformedProof, SignatureInvalid):
            continue
        accepted.append(candidate)
    return accepted


def test_flipped_byte_anywhere_in_a_signed_checkpoint_is_refused() -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 20852163, ROOT), LOG).encode()
    assert _accepted(_flips(signed), LOG_RING) == []


def test_flipped_byte_outside_an_untrusted_cosignature_line_is_refused() -> None:
    witness = generate("witness.example/w1")
    signed = sign_checkpoint(Checkpoint(ORIGIN, 20852163, ROOT), LOG, witness).encode()
    witness_line = signed.index("\u2014 witness".encode())
    head, tail = signed[:witness_line], signed[witness_line:]
    assert _accepted([flipped + tail for flipped in _flips(head)], LOG_RING) == []
    # Whatever follows is an unknown signature line: ignored, as the spec says.


def test_an_untrusted_cosignature_is_ignored_even_when_corrupted() -> None:
    # The spec's rule, and its price: only trusted signatures protect the note.
    witness = generate("witness.example/w1")
    signed = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), LOG, witness)
    corrupted = signed[:-10] + ("A" if signed[-10] != "A" else "B") + signed[-9:]
    assert open_checkpoint(corrupted, LOG_RING).size == 3
    with pytest.raises(SignatureInvalid, match="witness.example/w1"):
        open_checkpoint(corrupted, Keyring([LOG.verifier(), witness.verifier()]))


# The write-once directory


@pytest.fixture
def directory(tmp_path: Path) -> CheckpointDirectory:
    return CheckpointDirectory(tmp_path)


def _signed(size: int, root: bytes = ROOT) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), LOG)


def test_checkpoint_file_is_named_by_its_size_zero_padded_to_20_digits(
    directory: CheckpointDirectory,
) -> None:
    path = directory.write(_signed(42))
    assert path.name == "00000000000000000042.checkpoint"
    assert path.read_text(encoding="utf-8") == _signed(42)


def test_published_checkpoint_file_is_read_only(directory: CheckpointDirectory) -> None:
    path = directory.write(_signed(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_publishing_the_same_checkpoint_twice_is_harmless(directory: CheckpointDirectory) -> None:
    assert directory.write(_signed(5)) == directory.write(_signed(5))
    assert directory.sizes() == [5]


def test_different_checkpoint_for_a_published_size_is_refused_and_the_first_kept(
    directory: CheckpointDirectory,
) -> None:
    first = _signed(5)
    directory.write(first)
    with pytest.raises(InconsistentCheckpoint, match="already holds a different checkpoint"):
        directory.write(_signed(5, root=hashlib.sha256(b"fork").digest()))
    assert directory.read(5) == first


def test_no_temporary_file_is_left_behind(directory: CheckpointDirectory) -> None:
    directory.write(_signed(5))
    with pytest.raises(InconsistentCheckpoint):
        directory.write(_signed(5, root=bytes(32)))
    assert sorted(p.name for p in directory.path.iterdir()) == ["00000000000000000005.checkpoint"]


def test_sizes_are_listed_in_size_order(directory: CheckpointDirectory) -> None:
    for size in (100, 2, 10, 0):
        directory.write(_signed(size))
    assert directory.sizes() == [0, 2, 10, 100]


def test_latest_is_the_checkpoint_of_the_largest_size(directory: CheckpointDirectory) -> None:
    for size in (9, 10, 2):
        directory.write(_signed(size))
    latest = directory.latest()
    assert latest is not None
    assert open_checkpoint(latest, LOG_RING).size == 10


def test_latest_of_an_empty_directory_is_none(directory: CheckpointDirectory) -> None:
    assert directory.latest() is None


def test_files_not_named_like_checkpoints_are_not_listed(directory: CheckpointDirectory) -> None:
    directory.write(_signed(3))
    (directory.path / "7.checkpoint").write_text(_signed(7))
    (directory.path / ".tmp123.tmp").write_text("partial")
    (directory.path / "README").write_text("operator notes")
    assert directory.sizes() == [3]


def test_checkpoint_file_renamed_to_another_size_is_refused(
    directory: CheckpointDirectory,
) -> None:
    directory.write(_signed(3))
    directory.file_for(4).write_text(_signed(3))
    with pytest.raises(InconsistentCheckpoint, match="holds a checkpoint of size 3"):
        directory.latest()


def test_malformed_text_is_not_published(directory: CheckpointDirectory) -> None:
    with pytest.raises(MalformedProof):
        directory.write("not a signed checkpoint\n")
    assert directory.sizes() == []


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="does not exist"):
        CheckpointDirectory(tmp_path / "nowhere")


def test_two_writers_racing_for_one_size_exactly_one_wins(
    directory: CheckpointDirectory,
) -> None:
    candidates = [_signed(8, root=hashlib.sha256(bytes([i])).digest()) for i in range(8)]
    barrier = threading.Barrier(len(candidates))
    outcomes: list[str] = []

    def publish(signed: str) -> None:
        barrier.wait()
        try:
            directory.write(signed)
            outcomes.append("won")
        except LedgerError:
            outcomes.append("refused")

    threads = [threading.Thread(target=publish, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    assert directory.read(8) in candidates
