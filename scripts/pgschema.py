"""The PostgreSQL schema named by ``?schema=NAME``: made by commands that write, checked by those that read."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ledger.errors import StoreUnavailable
from ledger.store.url import DatabaseUrl

EVENTS_TABLE = "ledger_events"  # eventsourcing names it after the application ("Ledger")


def prepare_schema(url: DatabaseUrl, *, create: bool) -> None:
    """With ``create``, make the schema if it is missing; without, refuse one missing or without a ledger.

    StoreUnavailable (exit 3) says which, in one line; the database's own
    messages are not repeated (they may quote a row).
    """
    schema = url.settings["POSTGRES_SCHEMA"]
    try:
        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if create:
                if exists is None:
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                return
            table = sql.Identifier(schema, EVENTS_TABLE).as_string(conn)
            has_ledger = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    except (psycopg.Error, OSError) as exc:
        raise StoreUnavailable(f"database error: {type(exc).__name__}") from exc
    if exists is None:
        raise StoreUnavailable(f"schema {schema} does not exist: there is no ledger in it to read")
    if not has_ledger or not has_ledger[0]:
        raise StoreUnavailable(f"no ledger at {url.display}")


def _conninfo(url: DatabaseUrl) -> str:
    s = url.settings
    return psycopg.conninfo.make_conninfo(
        host=s["POSTGRES_HOST"],
        port=s["POSTGRES_PORT"],
        dbname=s["POSTGRES_DBNAME"],
        user=s["POSTGRES_USER"],
        password=s["POSTGRES_PASSWORD"] or None,
        connect_timeout=int(s.get("POSTGRES_CONNECT_TIMEOUT", "5")),
    )
