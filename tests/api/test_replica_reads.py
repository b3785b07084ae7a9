"""Reads from a streaming replica (LEDGER_READ_DATABASE_URL): the log and the views, each answer with its lag.

The primary and its synchronous standby are the test's own (tests/pgcluster.py,
never the machine's server), with ``synchronous_commit = remote_apply``: an
append is acknowledged only once the standby has applied it. So a read of the
replica that starts after an acknowledgement must find the event, whatever lag
it reports; and the lag it reports must be the replica's own measure, in the
header and in the log page's ``replica_lag_seconds`` alike.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.replica import LAG_HEADER
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from tests.api.conftest import EMITTER_SOURCE, bearer
from tests.factories import shown
from tests.pgcluster import PgCluster, throwaway_pair

pytestmark = pytest.mark.slow

EMITTERS = 4
EVENTS_EACH = 15


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary and its synchronous (remote_apply) standby, shared by this module's tests (each its own schema)."""
    with throwaway_pair("remote_apply") as clusters:
        yield clusters


@pytest.fixture
def urls(pair: tuple[PgCluster, PgCluster]) -> tuple[str, str]:
    """The same fresh schema on the primary and, streamed, on the standby."""
    primary, standby = pair
    schema = f"r_{uuid.uuid4().hex[:10]}"
    primary.sql(f'CREATE SCHEMA "{schema}"')
    return f"{primary.url()}?schema={schema}", f"{standby.url()}?schema={schema}"


def _tokens(primary_url: str) -> dict[str, str]:
    store = KeyStore(primary_url)
    try:
        return {
            "emitter": store.create(Role.EMITTER, source=EMITTER_SOURCE, label="emitter").token,
            "auditor": store.create(Role.AUDITOR, label="auditor").token,
            "reader": store.create(Role.READER, label="reader").token,
        }
    finally:
        store.close()


def test_replica_reads_find_every_acknowledged_append_and_report_their_lag(
    urls: tuple[str, str], make_client: Callable[[Settings], TestClient]
) -> None:
    """Under load from several emitters, each log page read from the replica holds every event acknowledged
    before the read began (remote_apply), and says its lag in the header and in the page, the same number."""
    primary_url, replica_url = urls
    tokens = _tokens(primary_url)
    client = make_client(Settings(database_url=primary_url, read_database_url=replica_url, key_cache_s=0))
    acked: dict[str, int] = {}
    lock = threading.Lock()
    problems: list[str] = []

    def emit(worker: int) -> None:
        for event in (shown(f"out-{worker}-{i}", event_id=str(uuid.uuid4())) for i in range(EVENTS_EACH)):
            answer = client.post("/v1/events", json=event, headers=bearer(tokens["emitter"]))
            if answer.status_code != 201:
                problems.append(f"append answered {answer.status_code}")
                return
            with lock:
                acked[event["event_id"]] = answer.json()["seq"]

    emitters = [threading.Thread(target=emit, args=(n,)) for n in range(EMITTERS)]
    for thread in emitters:
        thread.start()
    reads = 0
    while any(t.is_alive() for t in emitters) or reads == 0:
        with lock:
            before = dict(acked)
        page = client.get("/v1/log", params={"limit": 1000}, headers=bearer(tokens["auditor"]))
        assert page.status_code == 200
        lag = float(page.headers[LAG_HEADER])
        assert lag >= 0
        assert page.json()["replica_lag_seconds"] == pytest.approx(lag, abs=1e-3)
        found = {r["event_id"] for r in page.json()["records"]}
        assert set(before) <= found, "an acknowledged event was missing from the replica"
        reads += 1
    for thread in emitters:
        thread.join()
    assert not problems
    assert len(acked) == EMITTERS * EVENTS_EACH


def test_views_on_the_replica_answer_with_their_lag_and_wait_for_min_seq(
    urls: tuple[str, str], make_client: Callable[[Settings], TestClient]
) -> None:
    """A query answered by the replica's views carries the lag header; min_seq waits until the views projected
    on the primary have streamed to the replica, and the answer's position holds that seq."""
    primary_url, replica_url = urls
    tokens = _tokens(primary_url)
    client = make_client(Settings(database_url=primary_url, read_database_url=replica_url, key_cache_s=0))
    event = shown("out-v", event_id=str(uuid.uuid4()))
    receipt = client.post("/v1/events", json=event, headers=bearer(tokens["emitter"]))
    assert receipt.status_code == 201
    seq = receipt.json()["seq"]
    answer = client.get("/v1/incidents", params={"min_seq": seq}, headers=bearer(tokens["reader"]))
    assert answer.status_code == 200, answer.text
    assert float(answer.headers[LAG_HEADER]) >= 0
    assert answer.json()["position"] >= seq
    beyond = client.get("/v1/incidents", params={"min_seq": seq + 10}, headers=bearer(tokens["reader"]))
    assert beyond.status_code == 422  # beyond the primary's head: it would never come


def test_the_primary_alone_reports_no_lag(urls: tuple[str, str], make_client: Callable[[Settings], TestClient]) -> None:
    """Without a replica configured, reads come from the primary: no lag header, and a null lag in the page."""
    primary_url, _ = urls
    tokens = _tokens(primary_url)
    client = make_client(Settings(database_url=primary_url, key_cache_s=0))
    page = client.get("/v1/log", headers=bearer(tokens["auditor"]))
    assert page.status_code == 200
    assert LAG_HEADER not in page.headers
    assert page.json()["replica_lag_seconds"] is None
