"""The database itself refuses to change or remove what the ledger stored."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from ledger.store import Ledger
from ledger.store.url import parse_database_url
from tests.conftest import PG_ADMIN_URL
from tests.factories import many_shown
from tests.ledgers import env_settings


@pytest.mark.parametrize("table", ["stored_events", "ledger_merkle_nodes"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET hash = hash", "DELETE FROM {t}"])
def test_sqlite_refuses_update_and_delete(sqlite_url: str, table: str, statement: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(4))
    conn = sqlite3.connect(str(parse_database_url(sqlite_url).sqlite_path))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement.format(t=table))
    conn.close()


@pytest.mark.parametrize("table", ["ledger_events", "ledger_merkle_nodes"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET hash = hash", "DELETE FROM {t}", "TRUNCATE {t}"])
def test_postgres_refuses_update_delete_and_truncate(pg_url: str, pg_schema: str, table: str, statement: str) -> None:
    with Ledger(env_settings(pg_url)) as ledger:
        ledger.submit(many_shown(4))
    sql = statement.format(t=f'"{pg_schema}".{table}')
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"):
            conn.execute(sql)  # type: ignore[arg-type]
        count = conn.execute(f'SELECT count(*) FROM "{pg_schema}".{table}').fetchone()  # type: ignore[arg-type]
    assert count is not None and count[0] >= 2
