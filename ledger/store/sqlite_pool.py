"""The ledger's SQLite connections: eventsourcing's pool, with a statement cache that holds.

eventsourcing 9.5.6 opens each connection with ``cached_statements=True``,
which Python reads as a cache of one statement: every append then compiles
its BEGIN, its row insert and its node insert again, each time (about half of
a single append's CPU in SQLite). The ledger's connections keep Python's
default of 128; everything else (WAL, the lock timeout, autocommit, rows by
name) is as eventsourcing sets it.
"""

from __future__ import annotations

import sqlite3

from eventsourcing.persistence import InterfaceError
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore

CACHED_STATEMENTS = 128


class LedgerSQLitePool(SQLiteConnectionPool):
    """eventsourcing's SQLite pool, whose connections cache compiled statements."""

    @classmethod
    def replacing(cls, old: SQLiteConnectionPool) -> LedgerSQLitePool:
        """A pool with ``old``'s settings (``old`` is closed; it has opened no connection yet)."""
        old.close()
        return cls(
            db_name=old.db_name,
            lock_timeout=old.lock_timeout,
            pool_size=old.pool_size,
            max_overflow=old.max_overflow,
            pool_timeout=old.pool_timeout,
            max_age=old.max_age,
            pre_ping=old.pre_ping,
        )

    def _create_connection(self) -> SQLiteConnection:
        try:
            conn = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: transactions are begun explicitly
                cached_statements=CACHED_STATEMENTS,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as exc:
            raise InterfaceError(exc) from exc
        try:
            if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
                # The first statement: a file that is not an SQLite database fails here.
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                    self.journal_mode_was_changed_to_wal = True
                self.is_journal_mode_wal = True
        except sqlite3.Error as exc:
            conn.close()
            raise InterfaceError(exc) from exc
        conn.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=conn, max_age=self.max_age)


def use_ledger_pool(datastore: SQLiteDatastore) -> None:
    """Give ``datastore`` the ledger's pool, before it opens any connection."""
    if not isinstance(datastore.pool, LedgerSQLitePool):
        datastore.pool = LedgerSQLitePool.replacing(datastore.pool)
