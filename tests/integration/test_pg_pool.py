"""A pre-pinging pool pings only the connections that sat idle (ledger/store/pg_pool.py)."""

from __future__ import annotations

import time
from dataclasses import replace

import psycopg
import pytest

from ledger.store import Ledger
from ledger.store.pg_pool import RecentlyAlive
from ledger.store.url import parse_database_url
from tests.conftest import PG_ADMIN_URL
from tests.factories import shown
from tests.ledgers import env_settings


class _Conn:
    """Counts what the pool's check sends."""

    autocommit = True  # as eventsourcing opens them

    def __init__(self) -> None:
        self.pings = 0

    def execute(self, query: str) -> None:
        self.pings += 1


def test_a_connection_handed_out_within_the_window_is_not_pinged_again() -> None:
    check, conn = RecentlyAlive(window=60.0), _Conn()
    check(conn)
    check(conn)
    check(conn)
    assert conn.pings == 1  # the first checkout: never seen, so pinged


def test_a_connection_idle_longer_than_the_window_is_pinged() -> None:
    check, conn = RecentlyAlive(window=0.01), _Conn()
    check(conn)
    time.sleep(0.05)
    check(conn)
    assert conn.pings == 2


def _one_connection_ledger(pg_url: str) -> Ledger:
    url = parse_database_url(pg_url)
    one = {"POSTGRES_PRE_PING": "y", "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
    return Ledger(env_settings(replace(url, settings={**url.settings, **one})))


@pytest.mark.postgres
def test_an_idle_connection_the_database_dropped_is_replaced_before_an_append(pg_url: str) -> None:
    with _one_connection_ledger(pg_url) as ledger:
        ledger.submit([shown()])
        with ledger.recorder.datastore.get_connection() as conn:
            pid = conn.info.backend_pid
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        time.sleep(0.6)  # longer than the window: the next checkout pings, finds it dead, replaces it
        receipt = ledger.submit([shown()])[0]
        assert receipt.seq == 2
