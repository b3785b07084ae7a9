"""ledger.strict_json: orjson's parse, and a key given twice in one object refused with where it is."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ledger.errors import FieldError
from ledger.proof.strict_json import DuplicateKey, loads

EVENTS = Path(__file__).parents[1] / "testdata" / "events"


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.name)
def test_a_body_without_repeated_keys_parses_exactly_as_orjson_parses_it(path: Path) -> None:
    data = path.read_bytes()
    assert loads(data) == orjson.loads(data)


@pytest.mark.parametrize(
    ("text", "path", "key", "position"),
    [
        ('{"source": "a", "source": "b"}', (), "source", 2),
        ('{"a": 1, "b": {"c": [0, {"x": 1, "y": 2, "x": 3}]}}', ("b", "c", 1), "x", 3),
        ('[{"k": 1}, {"k": 1, "k": 1}]', (1,), "k", 2),
        ('{"ab": 1, "a\\u0062": 2}', (), "ab", 2),  # two spellings of one key
        ('{"d": {"e": {}, "e": {}}, "d": 1}', ("d",), "e", 2),  # the first in document order
    ],
)
def test_a_repeated_key_is_refused_with_its_object_path_and_position(
    text: str, path: tuple[str | int, ...], key: str, position: int
) -> None:
    with pytest.raises(DuplicateKey) as refused:
        loads(text.encode())
    assert (refused.value.path, refused.value.key, refused.value.position) == (path, key, position)


def test_keys_repeated_in_different_objects_are_not_duplicates() -> None:
    assert loads(b'{"id": 1, "actor": {"id": 2}, "data": [{"id": 3}, {"id": 4}]}')["actor"] == {"id": 2}


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": NaN}', b'{"a": 1,}', b"\xff", b'{"a": "\xff"}'])
def test_what_orjson_refuses_is_refused_as_not_json(data: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        loads(data)


def test_the_field_error_names_only_known_keys() -> None:
    with pytest.raises(DuplicateKey) as refused:
        loads(b'{"data": {"MRN-1": {"note": 1, "note": 2}, "MRN-2": 0, "MRN-2": 0}}')
    assert refused.value.field_error({"data", "note"}) == FieldError(
        "data.?.note", "appears more than once in its object"
    )
    assert refused.value.field_error() == FieldError("?.?", "a key appears more than once in this object: key 2")
    assert "MRN" not in str(refused.value)
