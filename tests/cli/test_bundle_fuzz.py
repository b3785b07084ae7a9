"""Fuzzing evidence bundles: any file parses or is "not a well-formed bundle"; verification never raises; the
command never prints a traceback and exits 2 exactly when the file is not a bundle.

Seeds are a real bundle exported from a SQLite ledger holding the demo story.
Byte mutations (random bytes, truncations, flipped, inserted and deleted
bytes) and structural ones (a field of the document or of an entry replaced
by any JSON value, or removed) go through ``parse_bundle`` and then
``verify_bundle``; a handful go through ``ledger verify-bundle`` itself.
Derandomized and bounded (``CASES``, ``CLI_CASES``): docs/reliability.md
reports these counts.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidBundle
from ledger.proof.bundle import Bundle, parse_bundle, verify_bundle
from ledger.proof.keys import Keyring, parse_keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests import sepsis_story as scenario
from tests.fuzzing import DETERMINISTIC
from tests.ledgers import env_settings

CASES = 300
"""Examples per in-process property (two of them)."""
CLI_CASES = 12
"""Examples through the command itself."""
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}

FUZZ = settings(DETERMINISTIC, max_examples=CASES)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """(a real exported bundle, the trusted keys file that verifies it)."""
    tmp = tmp_path_factory.mktemp("fuzz-seed")
    url = f"sqlite:///{tmp}/ledger.sqlite3"
    with Ledger(env_settings(url)) as ledger:
        ledger.submit(scenario.story())
        KeyFolder(tmp / "keys").activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None)
    folders = ["--keys-dir", str(tmp / "keys"), "--checkpoint-dir", str(tmp / "checkpoints")]
    bundle = tmp / "bundle.json"
    assert main(["export", "--incident", "INC-2026-041", "--database-url", url, *folders, "--output", str(bundle)]) == 0
    return bundle.read_bytes(), tmp / "keys" / "trusted.keys"


def _flipped(seed: bytes, changes: list[tuple[int, int]]) -> bytes:
    data = bytearray(seed)
    for at, mask in changes:
        data[at % len(data)] ^= mask
    return bytes(data)


@st.composite
def byte_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """Random bytes, or the seed truncated, or with a few bytes flipped, inserted or deleted."""
    how = draw(st.sampled_from(["random", "truncate", "flip", "insert", "delete"]))
    at = draw(st.integers(0, len(seed)))
    if how == "random":
        return draw(st.binary(max_size=400))
    if how == "truncate":
        return seed[:at]
    if how == "flip":
        return _flipped(seed, draw(st.lists(st.tuples(st.integers(0, len(seed)), st.integers(1, 255)), min_size=1,
                                            max_size=4)))  # fmt: skip
    if how == "insert":
        return seed[:at] + draw(st.binary(min_size=1, max_size=8)) + seed[at:]
    return seed[:at] + seed[at + draw(st.integers(1, 64)) :]


NUMBERS = st.integers(-(2**65), 2**65) | st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1])
"""Integers around the edges of the entry header's u64 seq and i64 recorded_us (orjson reads up to 64 bits)."""
JSON = st.recursive(
    st.none()
    | st.booleans()
    | NUMBERS
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "00" * 32, "0" * 64, "AAAA", "="]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def structural_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed's document with one field (of the bundle, an entry or a proof) replaced by any JSON, or removed;
    or an entry's seq or recorded_us set to an integer at the edge of what the entry header holds."""
    document: dict[str, Any] = json.loads(seed)
    entry = draw(st.sampled_from(document["entries"]))
    target = draw(st.sampled_from(["bundle", "entry", "proof", "number"]))
    if target == "number":
        entry[draw(st.sampled_from(["seq", "recorded_us"]))] = draw(NUMBERS)
    elif target == "proof" and entry["inclusion_proof"]:
        proof = entry["inclusion_proof"]
        proof[draw(st.integers(0, len(proof) - 1))] = draw(JSON)
    else:
        where = document if target == "bundle" else entry
        key = draw(st.sampled_from(sorted(where)))
        if draw(st.booleans()):
            del where[key]
        else:
            where[key] = draw(JSON)
    return json.dumps(document).encode()


def _parsed(data: bytes) -> Bundle | None:
    try:
        return parse_bundle(data)
    except InvalidBundle as exc:
        event("not a bundle: " + re.sub(r"\[\d+\]|\(.*|byte \d+.*", "", str(exc).split(":")[0]).strip())
        return None


def _check(data: bytes, trusted: Keyring) -> None:
    """Parse (InvalidBundle or a Bundle, nothing else), then verify (a report, never an exception)."""
    bundle = _parsed(data)
    if bundle is None:
        return
    for keys in (trusted, None):
        report = verify_bundle(bundle, trusted=keys)
        assert report.result in ("verified", "self-consistent", "failed")
        assert report.ok == (report.result != "failed")
        event(f"parsed, {report.result}")


@FUZZ
@given(data=st.data())
def test_any_bytes_parse_as_a_bundle_or_are_refused_as_one_and_never_raise_in_verification(
    seed: tuple[bytes, Path], data: st.DataObject
) -> None:
    _check(data.draw(byte_mutations(seed[0])), parse_keyring(seed[1].read_text()))


@FUZZ
@given(data=st.data())
def test_any_json_in_any_field_parses_or_is_refused_by_name_and_never_raises_in_verification(
    seed: tuple[bytes, Path], data: st.DataObject
) -> None:
    _check(data.draw(structural_mutations(seed[0])), parse_keyring(seed[1].read_text()))


@settings(DETERMINISTIC, max_examples=CLI_CASES)
@given(data=st.data())
def test_the_command_exits_2_exactly_for_a_file_that_is_not_a_bundle_and_never_prints_a_traceback(
    seed: tuple[bytes, Path], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    strategy = st.one_of(byte_mutations(seed[0]), structural_mutations(seed[0]))
    content = data.draw(strategy)
    path = tmp_path_factory.mktemp("fuzz") / "bundle.json"
    path.write_bytes(content)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["verify-bundle", str(path), "--trusted-keys", str(seed[1])])
    text = err.getvalue()
    assert "Traceback" not in text
    if _parsed(content) is None:
        assert code == 2
        assert text.strip().splitlines()[-1].startswith(f"ledger: {path} is not a well-formed bundle: ")
    else:
        assert code in (0, 1) and ("VERIFIED" in text) == (code == 0)
    event(f"exit {code}")
