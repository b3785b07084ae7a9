"""One-dimensional PostgreSQL arrays in binary, built with a few joins rather than per element.

psycopg's generic list dumper packs each element in Python; for the ten
columns of a batch of rows that was the largest client cost of an append.
Each class here holds an array already in PostgreSQL's binary form (the
``array_send`` layout: dimensions, a has-nulls flag, the element type, the
length and lower bound, then each element as a 4-byte length and its bytes),
and its dumper passes that through under the array type. None holds a null.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from uuid import UUID

from psycopg.adapt import AdaptersMap, Dumper
from psycopg.pq import Format

_EMPTY = struct.Struct(">iiI")  # no dimensions, no nulls, element type
_HEAD = struct.Struct(">iiIii")  # one dimension, no nulls, element type, length, lower bound 1
_LENGTH = struct.Struct(">i")
_INT8 = struct.Struct(">q")
_INT2 = struct.Struct(">h")


class PgArray:
    """A one-dimensional array in PostgreSQL's binary form."""

    __slots__ = ("payload",)
    element_oid = 0
    array_oid = 0

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    @classmethod
    def _pack(cls, items: Sequence[bytes], width: int | None = None) -> bytes:
        """The array of already-encoded elements; ``width`` if they all have that length."""
        if not items:
            return _EMPTY.pack(0, 0, cls.element_oid)
        head = _HEAD.pack(1, 0, cls.element_oid, len(items), 1)
        if width is not None:  # one length prefix, joined between the elements
            prefix = _LENGTH.pack(width)
            return head + prefix + prefix.join(items)
        return head + b"".join([_LENGTH.pack(len(item)) + item for item in items])


class ByteaArray(PgArray):
    """bytea[]."""

    element_oid, array_oid = 17, 1001

    @classmethod
    def of(cls, items: Sequence[bytes], *, width: int | None = None) -> ByteaArray:
        """The array of ``items`` (all ``width`` bytes long, if given)."""
        if width is not None and (
            sum(map(len, items)) != width * len(items) or min(map(len, items), default=width) != width
        ):
            raise ValueError(f"an element is not {width} bytes long")
        return cls(cls._pack(items, width))


class Int8Array(PgArray):
    """bigint[]."""

    element_oid, array_oid = 20, 1016

    @classmethod
    def of(cls, items: Sequence[int]) -> Int8Array:
        """The array of ``items``."""
        return cls(cls._pack([_INT8.pack(item) for item in items], 8))


class Int2Array(PgArray):
    """smallint[]."""

    element_oid, array_oid = 21, 1005

    @classmethod
    def of(cls, items: Sequence[int]) -> Int2Array:
        """The array of ``items``."""
        return cls(cls._pack([_INT2.pack(item) for item in items], 2))


class UuidArray(PgArray):
    """uuid[]."""

    element_oid, array_oid = 2950, 2951

    @classmethod
    def of(cls, items: Sequence[UUID]) -> UuidArray:
        """The array of ``items``."""
        return cls(cls._pack([item.bytes for item in items], 16))


class TextArray(PgArray):
    """text[] (UTF-8)."""

    element_oid, array_oid = 25, 1009

    @classmethod
    def of(cls, items: Sequence[str]) -> TextArray:
        """The array of ``items``."""
        return cls(cls._pack([item.encode() for item in items]))


class _PayloadDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: PgArray) -> bytes:
        return obj.payload


def register_arrays(adapters: AdaptersMap) -> None:
    """Let ``adapters`` pass these arrays to PostgreSQL as they are (idempotent)."""
    for cls in (ByteaArray, Int8Array, Int2Array, UuidArray, TextArray):
        adapters.register_dumper(cls, type(f"{cls.__name__}Dumper", (_PayloadDumper,), {"oid": cls.array_oid}))
