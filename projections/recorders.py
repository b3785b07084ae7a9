"""eventsourcing's tracking recorders, extended to write view rows in the tracking transaction.

The position of each projection is a row of ``view_tracking`` written by the
library's own ``_insert_tracking`` (single-row tracking: the position must
strictly increase, or the insert raises). The view rows of a batch and that
row are written on the same cursor, in one transaction: either both are
committed or neither (exactly once).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder
from psycopg import Cursor
from psycopg.rows import tuple_row

from projections.schema import TRACKING_TABLE


class SQLiteViewRecorder(SQLiteTrackingRecorder):
    """Positions in ``view_tracking``; view rows written in the same SQLite transaction."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        if not datastore.single_row_tracking:
            raise ValueError("the views need eventsourcing's single-row tracking")
        self.insert_tracking_statement = (
            f"INSERT INTO {TRACKING_TABLE} "  # noqa: S608
            "VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = :notification_id "
            f"WHERE {TRACKING_TABLE}.notification_id < :notification_id "
            "RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {TRACKING_TABLE} WHERE application_name=?"  # noqa: S608
        )

    def construct_create_table_statements(self) -> list[str]:
        """The tracking table, named for the views (the library's own is ``tracking``)."""
        return [
            f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} (application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID"
        ]

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction, begun IMMEDIATE so that it never has to upgrade a read lock."""
        with self.datastore.get_connection(commit=True) as conn, conn.cursor() as cursor:
            cursor.row_factory = None
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Cursor]:
        """One read transaction: every SELECT in it sees the same snapshot."""
        with self.datastore.get_connection(commit=False) as conn, conn.cursor() as cursor:
            cursor.row_factory = None
            cursor.execute("BEGIN")
            try:
                yield cursor
            finally:
                conn.rollback()

    def track(self, cursor: sqlite3.Cursor, name: str, seq: int) -> None:
        """Record ``name``'s new position on the transaction's cursor."""
        self._insert_tracking(SQLiteCursor(cursor), Tracking(name, seq))


class PostgresViewRecorder(PostgresTrackingRecorder):
    """Positions in ``view_tracking``; view rows written in the same PostgreSQL transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        kwargs["tracking_table_name"] = TRACKING_TABLE
        super().__init__(datastore, **kwargs)
        if not datastore.single_row_tracking:
            raise ValueError("the views need eventsourcing's single-row tracking")

    def _create_table(self, curs: Any) -> None:
        # Every server worker opens the views when it starts. On an empty database each saw
        # "no tracking table" before creating it, and every one but the first then failed to
        # record eventsourcing's migration row. One lock, held to the end of the DDL's
        # transaction, queues them, and each looks again once it holds the lock.
        curs.execute("SELECT pg_advisory_xact_lock(hashtext('clinical-ai-ledger views ddl'))")
        names = (self.datastore.schema, self.tracking_table_name)
        table = ".".join('"' + name.replace('"', '""') + '"' for name in names)
        if curs.execute("SELECT to_regclass(%s) AS found", (table,)).fetchone()["found"] is not None:
            found = curs.execute(self.max_tracking_id_statement, (self.table_migration_identifier,)).fetchone()
            self.tracking_table_exists = True
            self.tracking_migration_previous = self.tracking_migration_current = found["max"]
        super()._create_table(curs)

    @contextmanager
    def writing(self) -> Iterator[Cursor[Any]]:
        """One write transaction (the pool's connections are in autocommit mode otherwise)."""
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor(row_factory=tuple_row) as cursor:
                yield cursor

    @contextmanager
    def reading(self) -> Iterator[Cursor[Any]]:
        """One read-only REPEATABLE READ transaction: every SELECT sees the same snapshot."""
        with self.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
            with conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield cursor

    def track(self, cursor: Cursor[Any], name: str, seq: int) -> None:
        """Record ``name``'s new position on the transaction's cursor."""
        self._insert_tracking(cursor, Tracking(name, seq))
