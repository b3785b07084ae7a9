"""Database failures become StoreUnavailable here, for every module of the ledger that reads or writes a database.

eventsourcing raises its PersistenceError family; the ledger's own SQL (the key
vault, the recorders' extra statements) raises psycopg's and sqlite3's. Each
is translated once, with ``raise ... from``, and the message carries the
error's type only: a driver's message may quote a value from a row, and a
row may hold a patient reference. SQLite's own messages quote no value
("file is not a database"), so theirs is kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger.errors import StoreUnavailable


@contextmanager
def translated() -> Iterator[None]:
    """Run the block; a database failure in it is raised as StoreUnavailable (exit 3, HTTP 503)."""
    try:
        yield
    except PersistenceError as exc:
        raise StoreUnavailable(f"database error: {type(exc).__name__}{_sqlite_detail(exc.__cause__)}") from exc
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"database error: {type(exc).__name__}{_sqlite_detail(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreUnavailable(f"database error: {type(exc).__name__}") from exc
    except OSError as exc:
        raise StoreUnavailable(f"database unreachable: {type(exc).__name__}") from exc


def _sqlite_detail(exc: BaseException | None) -> str:
    return f" ({exc})" if isinstance(exc, sqlite3.DatabaseError) else ""
