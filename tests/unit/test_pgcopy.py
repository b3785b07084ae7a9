"""Reading binary COPY rows: the fast layout and the general parser agree, and odd rows are read as they are."""

from __future__ import annotations

import struct

import pytest

from ledger import pgcopy
from ledger.errors import StoreUnavailable

PREV, HASH, DIGEST, LEAF = (bytes([n]) * 32 for n in (1, 2, 3, 4))
STATE = b'{"type":"output.shown"}'


def encode(*fields: bytes | None) -> bytes:
    """One row as PostgreSQL's binary COPY sends it: field count, then length and bytes of each (-1: NULL)."""
    row = struct.pack(">h", len(fields))
    for value in fields:
        row += struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value
    return row


def row(*, seq: int = 7, state: bytes | None = STATE, no_topic: bool = False, hash_: bytes | None = HASH) -> bytes:
    """A row of pgcopy.COLUMNS."""
    int8 = struct.Struct(">q").pack
    return encode(int8(seq), int8(1_700_000_000_000_000), PREV, hash_, DIGEST, LEAF, bytes([no_topic]), state)


def test_a_usual_row_reads_the_same_with_the_fast_layout_and_the_parser() -> None:
    data = row()
    fields = pgcopy.LAYOUT.unpack_from(data)
    count, n1, seq, n2, us, n3, prev, n4, hash_, n5, digest, n6, leaf, n7, no_topic, n8 = fields
    assert (count, n1, n2, n3, n4, n5, n6, n7) == pgcopy.LENGTHS and n8 == len(data) - pgcopy.LAYOUT.size
    assert data[pgcopy.LAYOUT.size :] == STATE and not no_topic
    assert pgcopy.parse_row(data) == (seq, None, us, prev, hash_, digest, "", STATE, leaf)
    assert (seq, us, prev, hash_, digest, leaf) == (7, 1_700_000_000_000_000, PREV, HASH, DIGEST, LEAF)


def test_nulls_are_none_and_a_missing_topic_is_none() -> None:
    parsed = pgcopy.parse_row(row(state=None, no_topic=True, hash_=None))
    assert parsed[4] is None and parsed[6] is None and parsed[7] is None


def test_a_short_hash_is_read_as_it_is_and_breaks_the_fast_layout() -> None:
    data = row(hash_=HASH[:31])
    assert pgcopy.parse_row(data)[4] == HASH[:31]
    assert pgcopy.LAYOUT.unpack_from(data)[7] != 32  # the length the fast path checks


def test_a_negative_seq_is_read_signed() -> None:
    assert pgcopy.parse_row(row(seq=-3))[0] == -3


@pytest.mark.parametrize("data", [row()[:-1], row() + b"\x00", encode(b"\x00" * 8)], ids=["cut", "long", "one field"])
def test_a_row_without_the_columns_asked_for_is_refused(data: bytes) -> None:
    with pytest.raises(StoreUnavailable, match="COPY row"):
        pgcopy.parse_row(data)
