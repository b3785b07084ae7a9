"""The background worker the server runs: follows appends, lets readers wait for their writes, stops on failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.store import Ledger
from projections.errors import ProjectionFailed
from projections.worker import ProjectionWorker
from tests.attacker import Attacker
from tests.factories import many_shown
from tests.ledgers import env_settings
from tests.projections.conftest import Api
from tests.projections.scenarios import false_negative


def test_the_worker_follows_appends_and_wait_for_gives_read_your_writes(
    store_url: str, worker_factory: Callable[[Ledger], ProjectionWorker]
) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        worker = worker_factory(ledger)
        worker.start()
        for round_ in range(3):
            receipts = ledger.submit(many_shown(20, prefix=f"r{round_}"))
            assert worker.wait_for(receipts[-1].seq, timeout=10) >= receipts[-1].seq
        assert worker.running and worker.failure is None
        assert {s.state for s in worker.status()} == {"current"}
        worker.stop()
        assert not worker.running


def test_a_failure_stops_the_worker_and_is_kept_for_status(
    sqlite_url: str, worker_factory: Callable[[Ledger], ProjectionWorker]
) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(4))
    Attacker(sqlite_url).run("UPDATE {events} SET state = %s WHERE seq = 3", params=(b"[",))
    with Ledger(env_settings(sqlite_url)) as ledger:
        worker = worker_factory(ledger)
        worker.start()
        with pytest.raises(ProjectionFailed, match="seq 3"):
            worker.wait_for(4, timeout=10)
        assert isinstance(worker.failure, ProjectionFailed)
        assert worker.position() == 2


def test_a_worker_opened_from_a_url_closes_its_own_ledger(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(2))
    worker = ProjectionWorker(sqlite_url)
    assert worker.catch_up() == 2
    worker.stop()


def test_min_seq_waits_for_the_views_and_answers_with_the_position(api: Api) -> None:
    last = api.append(false_negative())
    body: Any = api.get("/v1/incidents", min_seq=last)
    assert body["position"] >= last and body["total"] == 1
    status: Any = api.get("/v1/projections/status")
    assert {v["name"] for v in status["views"]} == {"events", "outputs", "incidents"}
