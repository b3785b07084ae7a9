"""How a reader of the whole log (a projections rebuild) gets it: pages of records, or one binary COPY stream.

``Ledger.batches`` serves it. On PostgreSQL it streams the records after the
start by binary COPY from one snapshot, on a connection of its own
(ledger.pgcopy), and only the four columns the projections read: seq,
recorded_us, topic and the stored bytes. Each row is unpacked with one struct
call into a lean ``Scanned`` tuple rather than a Record (bytea arrives as
bytes, no UUID or hash is decoded). Records appended after that snapshot are
left to the ordinary steps that follow the bulk load.

Either way the rows come in seq order, duplicates and gaps included, exactly as
``Ledger.read`` gives them: the projector refuses both, never skips.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Sequence
from contextlib import closing
from typing import Any, Final, NamedTuple, cast

from psycopg.sql import SQL, Literal

from ledger import pgcopy
from ledger.store.recorder import type_of_topic

# A row of (seq, recorded_us, topic, state) up to topic's length, when neither int8 is NULL:
# the field count, then each field's length and value.
_HEAD: Final = struct.Struct(">hiqiqi")
_INT32: Final = struct.Struct(">i")
_USUAL: Final = (4, 8, 8)  # four fields; seq and recorded_us of 8 bytes
_SELECT: Final = "SELECT seq, recorded_us, topic, state FROM {} WHERE seq > {} ORDER BY seq"


class Scanned(NamedTuple):
    """What a reader of the whole log gets of a record streamed by binary COPY (a Record's seq, type, body, time)."""

    seq: int
    type: str
    body: bytes
    recorded_us: int


def scanned(source: pgcopy.CopySource, *, after_seq: int, size: int) -> Generator[Sequence[Scanned], None, None]:
    """The rows after ``after_seq`` by binary COPY from one snapshot, in seq order, in lists of up to ``size``."""
    select = SQL(_SELECT).format(source.name(), Literal(after_seq))
    types: dict[bytes, str] = {}  # a few dozen topics, a million rows
    batch: list[Scanned] = []
    with closing(pgcopy.connect(source)) as conn, closing(pgcopy.raw_rows(conn, select)) as rows:
        for data in rows:
            batch.append(_record(data, types))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def _record(data: Any, types: dict[bytes, str]) -> Scanned:
    try:
        count, seq_length, seq, recorded_length, recorded_us, length = _HEAD.unpack_from(data)
    except struct.error:
        return _odd_record(data)  # too short to be a usual row: fields() says what is wrong
    if (count, seq_length, recorded_length) != _USUAL or length < 0 or len(data) < _HEAD.size + length + 4:
        return _odd_record(data)
    topic = bytes(data[_HEAD.size : _HEAD.size + length])
    body_at = _HEAD.size + length + _INT32.size
    if _INT32.unpack_from(data, body_at - _INT32.size)[0] < 0:
        return _odd_record(data)
    event_type = types.get(topic)
    if event_type is None:
        event_type = types[topic] = type_of_topic(topic.decode())
    return Scanned(seq, event_type, bytes(data[body_at:]), recorded_us)


def _odd_record(data: Any) -> Scanned:
    """A row with a NULL (or not four columns): read field by field, NULLs passed on as a Record has them.

    A NULL body reads as empty (read_fact: "missing"); a NULL recorded_us stays None,
    which the view rows' NOT NULL refuses. seq is never NULL here (``seq > start``).
    """
    seq, recorded_us, topic, state = pgcopy.fields(data, count=4)
    return Scanned(
        cast(int, pgcopy.int8(seq)),
        type_of_topic(None if topic is None else topic.decode()),
        state or b"",
        cast(int, pgcopy.int8(recorded_us)),
    )
