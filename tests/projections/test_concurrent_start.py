"""Server workers start together on an empty database: each opens the views, none fails on the other's DDL."""

from __future__ import annotations

import threading

import pytest

from ledger.store import Ledger
from projections.db import ViewDatabase
from tests.ledgers import env_settings

STARTERS = 4


def _open_views(url: str, barrier: threading.Barrier, failures: list[BaseException]) -> None:
    try:
        with Ledger(env_settings(url)) as ledger:
            barrier.wait(timeout=30)
            ViewDatabase(ledger)
    except BaseException as exc:  # noqa: BLE001 - the test reports whatever a starter hit
        failures.append(exc)


@pytest.mark.parametrize("attempt", range(3))
def test_workers_opening_the_views_at_once_on_a_fresh_schema_all_succeed(pg_url: str, attempt: int) -> None:
    with Ledger(env_settings(pg_url)):
        pass  # the ledger's own tables exist, as when `ledger serve` starts its workers
    barrier, failures = threading.Barrier(STARTERS), []
    starters = [threading.Thread(target=_open_views, args=(pg_url, barrier, failures)) for _ in range(STARTERS)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(timeout=60)
    assert failures == []
