"""The chain's rows on PostgreSQL as raw binary COPY rows, by seq range, in one shared snapshot.

What verification reads on PostgreSQL (ledger.verify_chunks). The coordinator
opens a read-only repeatable-read transaction and exports its snapshot
(``pg_export_snapshot``); every worker process opens its own connection and
imports that snapshot, so all of them read the same log, however many rows are
appended meanwhile. Each then streams seq ranges with ``COPY ... TO STDOUT
(FORMAT BINARY)``, read straight from libpq: one row per message, handed on as
the bytes of the binary format, not parsed into Python values. The verifier
unpacks a row whose columns have their usual widths with one struct call
(LAYOUT); ``parse_row`` reads any other row (a NULL, a hash of the wrong length).

Only the columns verification reads are sent, ``topic`` as whether it is NULL.
The module leaves eventsourcing alone so that worker processes start quickly;
psycopg's errors become StoreUnavailable in ledger.dberrors' ``translated``.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.dberrors import translated
from ledger.errors import StoreUnavailable

COLUMNS = "seq, recorded_us, prev_hash, hash, digest, leaf_hash, topic IS NULL, state"

# A row of COLUMNS when every column has its usual width: the field count, then each
# field's length and bytes (int8, int8, four 32-byte bytea, bool), then state's length;
# state's bytes run from LAYOUT.size to the end of the row.
LAYOUT = struct.Struct(">hiqiqi32si32si32si32si?i")
LENGTHS = (8, 8, 8, 32, 32, 32, 32, 1)  # the field count and the fixed fields' lengths, as LAYOUT reads them

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_FILE_HEADER = struct.Struct(">11sii")  # signature, flags, length of the header extension
_TRAILER = b"\xff\xff"  # a field count of -1 ends the data
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")


@dataclass(frozen=True)
class CopySource:
    """Where the events table is: connection parameters and its name (picklable, for worker processes)."""

    params: dict[str, Any] = field(repr=False)  # psycopg.connect's keywords, the password among them
    schema: str
    table: str

    def name(self) -> Composed:
        """The table's qualified name, quoted."""
        return SQL("{}.{}").format(Identifier(self.schema), Identifier(self.table))


@dataclass(frozen=True)
class Snapshot:
    """An exported snapshot of the log: what every worker process imports."""

    source: CopySource
    snapshot_id: str
    max_seq: int | None  # the largest seq in the snapshot, None for an empty log


# For these sessions only. Rows stream in the seq index's order: sorting the table instead
# (the planner's choice without statistics) spills it to disk and costs the server twice
# the CPU per row, on the cores the verifier needs. The coordinator's session sits idle in
# its transaction while the workers read: a server or pool default must not end it.
_SESSION = "-c enable_sort=off -c idle_in_transaction_session_timeout=0"


def _connect(source: CopySource) -> psycopg.Connection[Any]:
    conn = psycopg.connect(**source.params, options=_SESSION)
    # Read-only, and one snapshot for every statement of the transaction.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _value(conn: psycopg.Connection[Any], query: Composed | str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


@contextmanager
def exported_snapshot(source: CopySource) -> Iterator[tuple[Snapshot, psycopg.Connection[Any]]]:
    """A snapshot for worker processes to import, and the coordinator's connection in it; both end on exit."""
    with translated(), _connect(source) as conn:
        snapshot_id = str(_value(conn, "SELECT pg_export_snapshot()"))
        max_seq = _value(conn, SQL("SELECT max(seq) FROM {}").format(source.name()))
        yield Snapshot(source, snapshot_id, max_seq), conn


def open_snapshot(snapshot: Snapshot) -> psycopg.Connection[Any]:
    """A worker's own connection, reading in the coordinator's snapshot (the caller closes it)."""
    with translated():
        conn = _connect(snapshot.source)
        conn.execute(SQL("SET TRANSACTION SNAPSHOT {}").format(Literal(snapshot.snapshot_id)))
        return conn


def seq_before(conn: psycopg.Connection[Any], source: CopySource, seq: int) -> int | None:
    """The largest seq below ``seq``, None if there is none."""
    with translated():
        found: int | None = _value(conn, SQL("SELECT max(seq) FROM {} WHERE seq < %s").format(source.name()), (seq,))
    return found


def copy_rows(
    conn: psycopg.Connection[Any], source: CopySource, *, lo: int | None, hi: int | None
) -> Generator[Any, None, None]:
    """Raw binary COPY rows (COLUMNS) with ``lo <= seq < hi`` (None: unbounded), in seq order.

    Each row is a buffer that parse_row or LAYOUT reads; it is valid until the next one is read.
    """
    where: list[SQL | Composed] = [SQL("seq IS NOT NULL")]
    where += [SQL("seq >= {}").format(Literal(lo))] if lo is not None else []
    where += [SQL("seq < {}").format(Literal(hi))] if hi is not None else []
    query = SQL("SELECT {} FROM {} WHERE {} ORDER BY seq").format(SQL(COLUMNS), source.name(), SQL(" AND ").join(where))
    return raw_rows(conn, query)


def raw_rows(conn: psycopg.Connection[Any], select: Composed) -> Generator[Any, None, None]:
    """The rows of ``select`` by binary COPY, each as the raw buffer of one row (``fields`` reads any).

    A buffer is valid until the next row is read.
    """
    query = SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(select)
    with translated(), conn.cursor() as cursor, cursor.copy(query) as copy:
        # psycopg's own iteration costs more per row than hashing it; read libpq's messages
        # directly (blocking), and let psycopg read the end of the COPY and its result.
        get_copy_data = conn.pgconn.get_copy_data
        nbytes, data = get_copy_data(0)
        data = _after_header(data, nbytes)
        nbytes = len(data)
        while nbytes != len(_TRAILER):  # every row is longer: 2 bytes of field count, 4 per field
            if nbytes > 0:
                yield data
            elif nbytes < 0:
                raise psycopg.OperationalError("the COPY ended before its trailer")
            nbytes, data = get_copy_data(0)
        if data != _TRAILER:
            raise psycopg.DataError("the COPY did not end with the binary trailer")
        copy.read()


def connect(source: CopySource) -> psycopg.Connection[Any]:
    """A read-only repeatable-read connection of its own to the source's database (the caller closes it)."""
    with translated():
        return _connect(source)


def _after_header(data: Any, nbytes: int) -> Any:
    if nbytes < _FILE_HEADER.size:
        raise psycopg.DataError("the COPY did not start with the binary file header")
    signature, flags, extension = _FILE_HEADER.unpack_from(data)
    if signature != _SIGNATURE or flags != 0 or extension < 0:
        raise psycopg.DataError("the COPY did not start with the binary file header")
    return data[_FILE_HEADER.size + extension :]


def parse_row(data: Any) -> tuple[Any, ...]:
    """A raw row in verify_rows' order: (seq, event_id, recorded_us, prev_hash, hash, digest, topic, state, leaf_hash).

    NULL is None. event_id is None (verification does not read it); topic is None
    when NULL and "" otherwise (verification reads only whether it is there).
    """
    values = fields(data, count=len(LENGTHS))
    seq, recorded_us, prev_hash, hash_, digest, leaf_hash, topic_null, state = values
    topic = None if topic_null == b"\x01" else ""
    return (int8(seq), None, int8(recorded_us), prev_hash, hash_, digest, topic, state, leaf_hash)


def fields(data: Any, *, count: int) -> list[bytes | None]:
    """The fields of a raw row as bytes (None for NULL); StoreUnavailable unless there are ``count``."""
    view = memoryview(data)
    try:
        (found,) = _INT16.unpack_from(view)
        values: list[bytes | None] = []
        offset = _INT16.size
        for _ in range(found):
            (length,) = _INT32.unpack_from(view, offset)
            offset += _INT32.size
            values.append(None if length < 0 else bytes(view[offset : offset + length]))
            offset += max(length, 0)
    except struct.error as exc:
        raise StoreUnavailable("database error: a COPY row is cut short") from exc
    if found != count or offset != len(view):
        raise StoreUnavailable("database error: a COPY row does not have the columns asked for")
    return values


def int8(value: bytes | None) -> int | None:
    """An int8 field's value (None for NULL)."""
    return None if value is None else int.from_bytes(value, "big", signed=True)
