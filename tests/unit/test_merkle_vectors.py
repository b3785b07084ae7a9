"""The verifiers against transparency-dev/merkle's JSON test vectors (all 196).

The vectors live beside the project checkout in ``shared/conformance/`` (see its
README); they are referenced, never copied. Each file is one case: the verifier
must raise MalformedProof or RootMismatch exactly when ``wantErr`` is true.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import MalformedProof, RootMismatch
from ledger.proof.merkle import verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "transparency-dev-merkle"
EXPECTED_FILES = 196
ABSENT = f"conformance vectors not found at {VECTORS} (shared/ must sit beside the project checkout)"


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json")) if VECTORS.is_dir() else []


def _cases(kind: str) -> list[Any]:
    files = _vector_files(kind)
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT), id=f"{kind}-absent")]
    return [pytest.param(path, id=path.relative_to(VECTORS).with_suffix("").as_posix()) for path in files]


def _hash(text: str | None) -> bytes:
    return base64.b64decode(text or "", validate=True)


def _proof(items: list[str] | None) -> list[bytes]:
    return [_hash(item) for item in items or []]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.skipif(not VECTORS.is_dir(), reason=ABSENT)
def test_all_196_conformance_vectors_are_found() -> None:
    found = _vector_files("inclusion") + _vector_files("consistency")
    assert len(found) == EXPECTED_FILES


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_inclusion_verifier_rejects_exactly_the_vectors_that_want_an_error(path: Path) -> None:
    case = _load(path)
    outcome = _outcome(
        lambda: verify_inclusion(
            index=case["leafIdx"],
            size=case["treeSize"],
            leaf_hash=_hash(case["leafHash"]),
            proof=_proof(case["proof"]),
            root=_hash(case["root"]),
        )
    )
    assert (outcome is not None) == case["wantErr"], f"{case['desc']}: {outcome!r}"


@pytest.mark.parametrize("path", _cases("consistency"))
def test_consistency_verifier_rejects_exactly_the_vectors_that_want_an_error(path: Path) -> None:
    case = _load(path)
    outcome = _outcome(
        lambda: verify_consistency(
            size1=case["size1"],
            size2=case["size2"],
            root1=_hash(case["root1"]),
            root2=_hash(case["root2"]),
            proof=_proof(case["proof"]),
        )
    )
    assert (outcome is not None) == case["wantErr"], f"{case['desc']}: {outcome!r}"


def _outcome(verify: Callable[[], None]) -> Exception | None:
    """None if ``verify()`` accepts; the error if it rejects with one of the two classes."""
    try:
        verify()
    except (MalformedProof, RootMismatch) as error:
        return error
    return None
