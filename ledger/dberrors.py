"""Database failures become the ledger's errors here, and only here.

eventsourcing raises its PersistenceError family; the ledger's own SQL (the key
vault, the recorders' extra statements, verification's COPY, the API key
table, the projections' views) raises psycopg's and sqlite3's. This module is
the one that knows those classes:

    translated()            a failure becomes StoreUnavailable ("database error: ...", exit 3, HTTP 503)
    translated(label=...)   the same, named after the store that failed ("API key store: ...")
    is_database_error(exc)  whether ``exc`` is a driver's (or eventsourcing's) error at all
    is_transient(exc)       whether it says the database is unreachable or busy (try again later)
    sqlstate(exc)           PostgreSQL's SQLSTATE code for it, if there is one

Each is translated once, with ``raise ... from``, and a message carries the
error's type only: a driver's message may quote a value from a row, and a row
may hold a patient reference. SQLite's own messages quote no value ("file is
not a database"), so theirs is kept.

Importing this module loads neither eventsourcing nor psycopg: an error can
only come from a driver that is loaded, so the classes are looked up in
``sys.modules`` when a failure is being classified.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ledger.errors import StoreUnavailable

_PERSISTENCE = "eventsourcing.persistence"


@contextmanager
def translated(*, label: str | None = None) -> Iterator[None]:
    """Run the block; a database failure in it is raised as StoreUnavailable (exit 3, HTTP 503).

    With ``label``, the message is ``"<label>: <error type>"`` whatever failed.
    """
    try:
        yield
    except Exception as exc:
        if not (is_database_error(exc) or isinstance(exc, OSError)):
            raise
        raise StoreUnavailable(_message(exc) if label is None else f"{label}: {type(exc).__name__}") from exc


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is sqlite3's, psycopg's or eventsourcing's persistence error."""
    return isinstance(exc, (sqlite3.Error, _loaded("psycopg", "Error"), _loaded(_PERSISTENCE, "PersistenceError")))


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or is busy, rather than that it refused something."""
    return isinstance(
        exc,
        (
            sqlite3.OperationalError,
            _loaded("psycopg", "OperationalError", "InterfaceError"),
            _loaded(_PERSISTENCE, "OperationalError", "InterfaceError"),
        ),
    )


def sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE for ``exc`` (or for the psycopg error eventsourcing raised it from), if any."""
    psycopg_error = _loaded("psycopg", "Error")
    cause = exc.__cause__ if isinstance(exc.__cause__, psycopg_error) else exc
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


def _message(exc: BaseException) -> str:
    if isinstance(exc, _loaded(_PERSISTENCE, "PersistenceError")):
        return f"database error: {type(exc).__name__}{_sqlite_detail(exc.__cause__)}"
    if is_database_error(exc):
        return f"database error: {type(exc).__name__}{_sqlite_detail(exc)}"
    return f"database unreachable: {type(exc).__name__}"


def _sqlite_detail(exc: BaseException | None) -> str:
    return f" ({exc})" if isinstance(exc, sqlite3.DatabaseError) else ""


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The named exception classes of ``module`` if it is loaded (an empty tuple matches nothing)."""
    found = sys.modules.get(module)
    return tuple(getattr(found, name) for name in names) if found is not None else ()
