"""JSON from outside the ledger, read strictly: orjson's parse, and no key twice in one object.

orjson, like the standard library and most parsers, keeps the last of two equal
keys, so ``{"source": "a", "source": "b"}`` would be checked as source ``b``
here and may be read as ``a`` by another tool: a duplicate key makes one body
mean two things. Every reader of outside JSON (the API's request bodies, its
fast path, ``ledger import``, evidence bundles) uses :func:`loads`.

orjson cannot report duplicates, so they are found by a second pass of the
standard library's C scanner with a pairs hook that only compares counts; the
path of the duplicate is worked out only when there is one.

    loads(data) -> object              orjson.JSONDecodeError if not JSON, DuplicateKey if a key repeats
    DuplicateKey.field_error(known)    where, naming only keys a schema defines (``schema_names``)
"""

from __future__ import annotations

import json
from collections.abc import Container
from typing import Any

import orjson

from ledger.errors import FieldError, InputError

Path = tuple[str | int, ...]


class DuplicateKey(InputError):
    """A JSON object holds a key twice: at ``path`` (its object), the ``position``-th key (from 1) repeats."""

    def __init__(self, *, path: Path, key: str, position: int) -> None:
        self.path = path
        self.key = key
        self.position = position
        super().__init__(str(self.field_error()))

    def field_error(self, known: Container[str] = ()) -> FieldError:
        """Where the duplicate is, naming only keys in ``known`` (names a schema defines, never one the
        client invented: an unknown key may be a patient identifier); other keys are ``?``."""
        parts = [str(part) if isinstance(part, int) or part in known else "?" for part in self.path]
        if self.key in known:
            return FieldError(".".join([*parts, self.key]), "appears more than once in its object")
        return FieldError(".".join(parts), f"a key appears more than once in this object: key {self.position}")


def schema_names(schema: object) -> frozenset[str]:
    """Every property name a JSON Schema defines: names of a schema, safe to show (for ``field_error``)."""
    names: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                names.update(properties)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return frozenset(names)


class _Repeated(Exception):
    """Raised by the pairs hook; never leaves this module."""


def loads(data: bytes | str) -> Any:
    """``data`` parsed by orjson; DuplicateKey if any object in it holds a key twice."""
    value = orjson.loads(data)
    if isinstance(value, dict | list):  # a scalar holds no object
        _refuse_duplicates(data)
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Repeated
    return found


_DECODER = json.JSONDecoder(object_pairs_hook=_unique)


def _refuse_duplicates(data: bytes | str) -> None:
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        _DECODER.decode(text)
    except _Repeated:
        raise _locate(text) from None
    except RecursionError:  # deeper than the standard library's scanner goes (orjson allows 1024 levels)
        raise orjson.JSONDecodeError("nested too deeply to be checked", text, 0) from None


class _Pairs(list[tuple[str, Any]]):
    """An object's pairs, in order, duplicates kept."""


def _locate(text: str) -> DuplicateKey:
    try:
        found = _first_duplicate(json.loads(text, object_pairs_hook=_Pairs), ())
    except RecursionError:
        found = None
    return found or DuplicateKey(path=(), key="", position=0)  # a duplicate too deep to place


def _first_duplicate(node: Any, path: Path) -> DuplicateKey | None:
    """The first repeated key in document order, depth first."""
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for position, (key, value) in enumerate(node, start=1):
            if key in seen:
                return DuplicateKey(path=path, key=key, position=position)
            seen.add(key)
            found = _first_duplicate(value, (*path, key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _first_duplicate(value, (*path, index))
            if found is not None:
                return found
    return None
