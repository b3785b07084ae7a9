"""The view tables' database: the ledger's own (SQLite file or PostgreSQL schema), one SQL dialect.

``ViewDatabase`` compiles the templates of projections.schema for its backend,
runs reads in one snapshot (``reading``) and writes in one transaction
(``writing``). Database errors are classified by ledger.dberrors: a database
that cannot be reached or is busy is StoreUnavailable; a write the database
refuses is WriteRefused, which the runner turns into ProjectionFailed for the
event that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, Protocol

import orjson

from ledger import dberrors
from ledger.errors import StoreUnavailable
from ledger.store import Ledger
from projections.recorders import PostgresViewRecorder, SQLiteViewRecorder
from projections.schema import (
    META_TABLE,
    TABLES,
    TRACKING_TABLE,
    Statement,
    column_kinds,
    insert_parts,
    unnest_form,
)

Row = tuple[Any, ...]
Params = Mapping[str, Any]

_IN_LIST = re.compile(r"@in\(([\w.]+),\s*:(\w+)\)")
_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_CAST_PARAM = re.compile(r"(?<![:\w]):(\w+)(?=::)")  # sent in binary: arrays dump much faster


class WriteRefused(Exception):
    """The database refused a write (a constraint, a type); ``kind`` names the error, no values."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


class PositionMoved(Exception):
    """Another process advanced (or a rebuild reset) a projection since we read its position."""


class Cursor(Protocol):
    """The DB-API cursor both drivers give (only what is used here)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def executemany(self, query: Any, params_seq: Any, /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class ViewDatabase:
    """The view tables of one ledger database, on SQLite or PostgreSQL."""

    def __init__(self, ledger: Ledger, *, create: bool = True) -> None:
        """The view tables of ``ledger``; ``create=False`` on a read-only replica (the primary creates them)."""
        self.backend = ledger.url.backend
        datastore: Any = ledger.datastore  # the application's own pool
        if self.backend == "sqlite":
            self.recorder: SQLiteViewRecorder | PostgresViewRecorder = SQLiteViewRecorder(datastore)
            names = {key: name for key, name in TABLES.items()}
            names.update(meta=META_TABLE, tracking=TRACKING_TABLE)
            self._types = {"int": "INTEGER", "float": "REAL"}
        else:
            self.recorder = PostgresViewRecorder(datastore)
            schema = '"' + str(datastore.schema).replace('"', '""') + '"'
            names = {key: f"{schema}.{name}" for key, name in TABLES.items()}
            names.update(meta=f"{schema}.{META_TABLE}", tracking=f"{schema}.{TRACKING_TABLE}")
            self._types = {"int": "BIGINT", "float": "DOUBLE PRECISION"}
        self.names = names
        self.plain_names = {key: name.rsplit(".", 1)[-1] for key, name in names.items()}
        if not create:
            return
        try:
            with translated():
                self.recorder.create_table()
        except WriteRefused as exc:
            raise StoreUnavailable(f"cannot create the tracking table: {exc.kind}") from exc

    def sql(self, template: str) -> str:
        """The template compiled for this backend (cached)."""
        return _compile(template, self.backend, tuple(sorted({**self.names, **self._types}.items())))

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A read-only snapshot: every select in the block sees the same state of the views."""
        try:
            with translated(), self.recorder.reading() as cursor:
                yield Reader(self, cursor)
        except WriteRefused as exc:
            raise StoreUnavailable(f"database error: {exc.kind}") from exc

    @contextmanager
    def writing(self, *, bulk: bool = False) -> Iterator[Writer]:
        """One transaction; rolled back if the block raises.

        ``bulk`` (rebuilds): on PostgreSQL, commit without waiting for the WAL flush
        (``synchronous_commit = off``). A crash may then lose the last few
        transactions, but each whole, rows and position together, so the views
        stay exactly-once and simply resume from an earlier position. Bulk upserts
        go through a temporary table (``Writer.insert_many``).
        """
        with translated(), self.recorder.writing() as cursor:
            if bulk and self.backend == "postgres":
                cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            yield Writer(self, cursor, bulk=bulk)

    def select(self, template: str, params: Params | None = None) -> list[Row]:
        """One select in its own snapshot."""
        with self.reading() as reader:
            return reader.select(template, params)


class Reader:
    """Selects inside one snapshot."""

    def __init__(self, db: ViewDatabase, cursor: Cursor) -> None:
        self.db = db
        self.cursor = cursor

    def select(self, template: str, params: Params | None = None) -> list[Row]:
        """The rows of one select, as tuples."""
        self.cursor.execute(self.db.sql(template), self._params(params or {}))
        return [tuple(row) for row in self.cursor.fetchall()]

    def _params(self, params: Params) -> Params:
        if self.db.backend != "sqlite":
            return params
        # SQLite takes a list as JSON text, which @in() reads with json_each.
        return {k: orjson.dumps(v).decode() if isinstance(v, list | tuple) else v for k, v in params.items()}


class Writer(Reader):
    """Writes inside one transaction, and the tracking of projections' positions."""

    def __init__(self, db: ViewDatabase, cursor: Cursor, *, bulk: bool = False) -> None:
        super().__init__(db, cursor)
        self.bulk = bulk

    def execute(self, template: str, params: Params | None = None) -> None:
        """Run one statement."""
        self.cursor.execute(self.db.sql(template), self._params(params or {}))

    def executemany(self, template: str, rows: Sequence[Params]) -> None:
        """Run one statement for each parameter set (scalar parameters only)."""
        self.cursor.executemany(self.db.sql(template), rows)

    def insert_many(self, statement: Statement, rows: Sequence[Params]) -> None:
        """Run a bulk statement for many rows: on PostgreSQL as one INSERT ... FROM unnest(columns)."""
        if self.db.backend == "sqlite" or len(rows) < 2:
            self.executemany(statement.sql, rows)
            return
        template, columns = unnest_form(statement)
        table = self.db.names[statement.table]
        if "ON CONFLICT" not in template:
            self._copy(statement, table, columns, rows)  # a plain insert: COPY, the fastest way into PostgreSQL
        elif self.bulk:
            self._copy_upsert(statement, table, columns, rows)
        else:
            self.execute(template, {c: [row[c] for row in rows] for c in columns})

    def _copy(self, statement: Statement, table: str, columns: tuple[str, ...], rows: Sequence[Params]) -> None:
        """COPY rows in; a rebuild's batches in binary (less to format here, less to parse on the server)."""
        values = itemgetter(*columns)  # one tuple per row, built in C
        form = " (FORMAT BINARY)" if self.bulk else ""
        try:
            with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{form}") as copy:  # type: ignore[attr-defined]
                if self.bulk:
                    copy.set_types(_copy_types(statement.table, columns))
                for row in rows:
                    copy.write_row(values(row))
        except TypeError as exc:  # binary: a value not of its column's type, refused like the database would
            raise WriteRefused("TypeError (a value does not fit its column)") from exc

    def _copy_upsert(self, statement: Statement, table: str, columns: tuple[str, ...], rows: Sequence[Params]) -> None:
        """A rebuild's batch of an INSERT ... ON CONFLICT: COPY into a temporary table, then one INSERT ... SELECT.

        The unnest form dumps its arrays in Python (about 30 µs a row); COPY
        formats rows in C. Rows go in seq order, so the first of a key still wins.
        """
        staging = "pg_temp.bulk_" + self.db.plain_names[statement.table]
        tail = insert_parts(statement)[2]  # ON CONFLICT ...
        listed = ", ".join(columns)
        self.cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {table}) ON COMMIT DROP")
        self._copy(statement, staging, columns, rows)
        self.cursor.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {staging} ORDER BY seq{tail}")  # noqa: S608
        self.cursor.execute(f"DROP TABLE {staging}")

    def advance(self, name: str, *, expected: int, seq: int) -> None:
        """Move ``name`` from position ``expected`` to ``seq``; PositionMoved if it is not at ``expected``.

        The compare is done under the row's lock (SQLite: the write lock of BEGIN
        IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE), then eventsourcing's own
        ``_insert_tracking`` writes the new position, in this transaction.
        """
        lock = "" if self.db.backend == "sqlite" else " FOR UPDATE"
        rows = self.select(
            "SELECT notification_id FROM {tracking} WHERE application_name = :name" + lock,  # noqa: S608
            {"name": name},
        )
        current = int(rows[0][0]) if rows else 0
        if current != expected:
            raise PositionMoved(name)
        self.db.recorder.track(self.cursor, name, seq)  # type: ignore[arg-type]


@contextmanager
def translated() -> Iterator[None]:
    """Database failures as ledger.dberrors classifies them: unreachable or busy, or a write refused (no values)."""
    try:
        yield
    except Exception as exc:
        if not dberrors.is_database_error(exc):
            raise
        if dberrors.is_transient(exc):
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        code = dberrors.sqlstate(exc)
        raise WriteRefused(f"{type(exc).__name__}" + (f" (SQLSTATE {code})" if code else "")) from exc


_BINARY_TYPES: Final = {"{int}": "int8", "{float}": "float8", "TEXT": "text"}


@lru_cache(maxsize=64)
def _copy_types(table: str, columns: tuple[str, ...]) -> list[str]:
    kinds = column_kinds(table)
    return [_BINARY_TYPES[kinds[c]] for c in columns]


@lru_cache(maxsize=512)
def _compile(template: str, backend: str, names: tuple[tuple[str, str], ...]) -> str:
    text = template.format_map(dict(names))
    if backend == "sqlite":
        return _IN_LIST.sub(r"\1 IN (SELECT value FROM json_each(:\2))", text)
    text = _IN_LIST.sub(r"\1 = ANY(:\2)", text).replace("%", "%%")
    return _PARAM.sub(r"%(\1)s", _CAST_PARAM.sub(r"%(\1)b", text))
