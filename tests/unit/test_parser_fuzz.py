"""Fuzzing the parsers an auditor's input reaches: each input parses or is refused by the ledger's own error family.

Random bytes, truncations and mutations (flipped, inserted and deleted bytes)
of the real inputs in tests/testdata (C2SP and Go signed notes, the ledger's
checkpoint vectors, keys) go through the signed-note, checkpoint and key
parsers and the Merkle proof verifiers. A parser may accept or raise
InputError; a verifier may also raise IntegrityError (the evidence says no).
Any other exception (UnicodeDecodeError, ValueError, IndexError, struct.error,
OverflowError...) is a bug: it would reach the command line as a traceback.

Bounded and reproducible: derandomized, a fixed number of examples each, no
example database written. ``CASES`` is what docs/reliability.md reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from ledger.errors import InputError, IntegrityError, LedgerError
from ledger.proof import merkle
from ledger.proof.checkpoint import open_checkpoint, parse_checkpoint_body, parse_signed_checkpoint
from ledger.proof.keys import Keyring, parse_keyring, parse_signing_key, parse_verifier_key
from ledger.proof.note import parse_note, verify_note
from tests.fuzzing import DETERMINISTIC

TESTDATA = Path(__file__).resolve().parents[1] / "testdata" / "notes"
CASES = 400
"""Examples per property; 10 properties below."""

FUZZ = settings(DETERMINISTIC, max_examples=CASES)


def _strings(value: Any) -> list[str]:
    """Every string anywhere in a JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _vectors() -> dict[str, Any]:
    return {path.stem: json.loads(path.read_text("utf-8")) for path in sorted(TESTDATA.glob("*.json"))}


def _parses(key: str) -> bool:
    try:
        parse_verifier_key(key)
    except InputError:
        return False
    return True


VECTORS = _vectors()
ALL_STRINGS = sorted({s for document in VECTORS.values() for s in _strings(document)})
NOTES = sorted(s for s in ALL_STRINGS if "\n\n\u2014 " in s)
BODIES = sorted(s for s in ALL_STRINGS if s.count("\n") >= 2 and "\u2014" not in s)
KEYS = sorted(s for s in ALL_STRINGS if s.count("+") >= 2 and "\n" not in s and " " not in s)
VERIFIER_KEYS = "# trusted\n" + "".join(k + "\n" for k in KEYS if not k.startswith("PRIVATE+") and _parses(k))
KEYRING = Keyring(parse_verifier_key(k["verifier_key"]) for k in VECTORS["ledger-checkpoints"]["keys"].values())


def mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed, truncated, or with a few bytes flipped, inserted or deleted; or random bytes."""

    def mutate(seed: bytes) -> st.SearchStrategy[bytes]:
        end = max(len(seed) - 1, 0)
        flips = st.lists(st.tuples(st.integers(0, end), st.integers(1, 255)), min_size=1, max_size=4)
        return st.one_of(
            st.integers(0, len(seed)).map(lambda n: seed[:n]),
            flips.map(lambda changes: _flipped(seed, changes)),
            st.tuples(st.integers(0, len(seed)), st.binary(min_size=1, max_size=8)).map(
                lambda at: seed[: at[0]] + at[1] + seed[at[0] :]
            ),
            st.tuples(st.integers(0, len(seed)), st.integers(1, 16)).map(lambda at: seed[: at[0]] + seed[sum(at) :]),
        )

    return st.one_of(st.binary(max_size=300), st.sampled_from(seeds).flatmap(mutate))


def _flipped(seed: bytes, changes: list[tuple[int, int]]) -> bytes:
    if not seed:
        return seed
    data = bytearray(seed)
    for at, mask in changes:
        data[at % len(data)] ^= mask
    return bytes(data)


def _text(data: bytes) -> str:
    """Bytes as the text a caller would hand over (invalid UTF-8 replaced, as read_text would refuse it)."""
    return data.decode("utf-8", errors="replace")


def refuses_only_as_input(call: Callable[[], object]) -> None:
    """``call`` returns, or raises the ledger's InputError; nothing else."""
    try:
        call()
    except InputError as exc:
        event(f"refused: {type(exc).__name__}")
    else:
        event("accepted")


def refuses_only_as_ledger(call: Callable[[], object]) -> None:
    """``call`` returns, or raises InputError (malformed) or IntegrityError (the evidence says no); nothing else."""
    try:
        call()
    except (InputError, IntegrityError) as exc:
        event(f"refused: {type(exc).__name__}")
    else:
        event("accepted")


def _encoded(values: list[str]) -> list[bytes]:
    return [v.encode("utf-8") for v in values]


def test_the_seeds_are_real_inputs() -> None:
    assert len(NOTES) >= 10 and len(BODIES) >= 5 and len(KEYS) >= 5
    signed = [v["signed"] for v in VECTORS["ledger-checkpoints"]["signed_checkpoints"]]
    assert set(signed) <= set(NOTES) and all(parse_signed_checkpoint(note).origin for note in signed)
    assert len(parse_keyring(VERIFIER_KEYS)) >= 3


# -- Signed notes and checkpoints ----------------------------------------------------------------


@FUZZ
@given(data=mutations(_encoded(NOTES)))
def test_the_note_parser_takes_any_bytes_or_refuses_them_as_input(data: bytes) -> None:
    refuses_only_as_input(lambda: parse_note(data))
    refuses_only_as_input(lambda: parse_note(_text(data)))


@FUZZ
@given(data=mutations(_encoded(NOTES)))
def test_note_verification_accepts_or_refuses_within_the_ledgers_errors(data: bytes) -> None:
    refuses_only_as_ledger(lambda: verify_note(data, KEYRING))


@FUZZ
@given(data=mutations(_encoded(BODIES)))
def test_the_checkpoint_body_parser_takes_any_text_or_refuses_it_as_input(data: bytes) -> None:
    refuses_only_as_input(lambda: parse_checkpoint_body(_text(data)))


@FUZZ
@given(data=mutations(_encoded(NOTES)))
def test_signed_checkpoints_parse_or_are_refused_as_input_and_open_within_the_ledgers_errors(data: bytes) -> None:
    refuses_only_as_input(lambda: parse_signed_checkpoint(data))
    refuses_only_as_ledger(lambda: open_checkpoint(data, KEYRING, origin="ledger.example/log"))


# -- Keys ------------------------------------------------------------------------------------------


@FUZZ
@given(data=mutations(_encoded(KEYS)))
def test_key_parsers_take_any_text_or_refuse_it_as_input(data: bytes) -> None:
    text = _text(data)
    refuses_only_as_input(lambda: parse_verifier_key(text))
    refuses_only_as_input(lambda: parse_signing_key(text))


@FUZZ
@given(data=mutations([VERIFIER_KEYS.encode()]))
def test_a_trusted_keys_file_parses_or_is_refused_as_input(data: bytes) -> None:
    refuses_only_as_input(lambda: parse_keyring(_text(data)))


# -- Merkle proofs ---------------------------------------------------------------------------------

SIZES = st.one_of(st.integers(-3, 70), st.integers(-(2**70), 2**70))
HASHES = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))


@FUZZ
@given(index=SIZES, size=SIZES, leaf=HASHES, proof=st.lists(HASHES, max_size=10), root=HASHES)
def test_the_inclusion_verifier_takes_any_numbers_and_bytes_within_the_ledgers_errors(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> None:
    refuses_only_as_ledger(
        lambda: merkle.verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=proof, root=root)
    )


@FUZZ
@given(size1=SIZES, size2=SIZES, root1=HASHES, root2=HASHES, proof=st.lists(HASHES, max_size=10))
def test_the_consistency_verifier_takes_any_numbers_and_bytes_within_the_ledgers_errors(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    refuses_only_as_ledger(
        lambda: merkle.verify_consistency(size1=size1, size2=size2, root1=root1, root2=root2, proof=proof)
    )


def _tree(size: int) -> merkle.MemoryNodes:
    leaves = [merkle.leaf_hash(bytes([i % 256, i // 256])) for i in range(size)]
    nodes = merkle.MemoryNodes()
    nodes.add(merkle.nodes_for_append(start_index=0, leaf_hashes=leaves, reader=nodes))
    return nodes


TREE = _tree(64)


@FUZZ
@given(
    size=st.integers(1, 64),
    data=st.data(),
    changes=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 31), st.integers(1, 255)), max_size=3),
    cut=st.integers(0, 12),
)
def test_mutated_real_proofs_verify_or_are_refused_within_the_ledgers_errors(
    size: int, data: st.DataObject, changes: list[tuple[int, int, int]], cut: int
) -> None:
    index = data.draw(st.integers(0, size - 1))
    size1 = data.draw(st.integers(1, size))
    inclusion = merkle.inclusion_proof(index=index, size=size, reader=TREE)
    consistency = merkle.consistency_proof(size1=size1, size2=size, reader=TREE)
    leaf = merkle.leaf_hash(bytes([index % 256, index // 256]))
    root, root1 = merkle.root(size, TREE), merkle.root(size1, TREE)
    for proof in (inclusion, consistency):
        for which, at, mask in changes:
            if proof:
                changed = bytearray(proof[which % len(proof)])
                changed[at] ^= mask
                proof[which % len(proof)] = bytes(changed)
    refuses_only_as_ledger(
        lambda: merkle.verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=inclusion[:cut], root=root)
    )
    refuses_only_as_ledger(
        lambda: merkle.verify_consistency(size1=size1, size2=size, root1=root1, root2=root, proof=consistency[:cut])
    )


def test_every_refusal_above_is_one_family() -> None:
    """The two halves the fuzz tests allow are the ledger's own, under one base class."""
    assert issubclass(InputError, LedgerError) and issubclass(IntegrityError, LedgerError)
