"""A database that is down gives 503 with Retry-After, never a 500; the app starts anyway and recovers.

PostgreSQL is reached through a TCP proxy that the test cuts and restores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from tests.api.conftest import bearer
from tests.api.proxy import TcpProxy
from tests.factories import shown


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    """A proxy to the test's PostgreSQL, initially down."""
    parts = urlsplit(pg_url)
    tcp = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield tcp
    tcp.down()


def _through(pg_url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(pg_url)
    return parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()


def _eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds} s")
        time.sleep(0.2)


def _assert_503(response: object) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == "2"  # type: ignore[attr-defined]
    assert response.json()["code"] == "store_unavailable"  # type: ignore[attr-defined]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


def test_the_app_starts_with_the_database_down_answers_503_and_recovers(
    pg_url: str, proxy: TcpProxy, make_client: Callable[[Settings], TestClient]
) -> None:
    token = KeyStore(pg_url).create(Role.EMITTER, source="ehr.epic-prod", label="outage").token
    settings = Settings(database_url=_through(pg_url, proxy), db_connect_timeout_s=1, reconnect_interval_s=0.2)
    client = make_client(settings)  # the database is unreachable: the app starts all the same
    assert client.get("/healthz").status_code == 200
    _assert_503(client.get("/readyz"))
    _assert_503(client.post("/v1/events", json=shown(), headers=bearer(token)))

    proxy.up()
    _eventually(lambda: client.get("/readyz").status_code == 200)
    assert client.post("/v1/events", json=shown(), headers=bearer(token)).status_code == 201


def test_a_database_that_goes_down_gives_503_and_a_retry_after_it_returns_succeeds(
    pg_url: str, proxy: TcpProxy, make_client: Callable[[Settings], TestClient]
) -> None:
    tokens = KeyStore(pg_url)
    emitter = tokens.create(Role.EMITTER, source="ehr.epic-prod", label="outage").token
    auditor = tokens.create(Role.AUDITOR, label="outage").token
    proxy.up()
    settings = Settings(database_url=_through(pg_url, proxy), db_connect_timeout_s=1, key_cache_s=60)
    client = make_client(settings)
    assert client.post("/v1/events", json=shown(), headers=bearer(emitter)).status_code == 201
    assert client.get("/v1/log", headers=bearer(auditor)).status_code == 200

    proxy.down()
    event = shown()
    _assert_503(client.post("/v1/events", json=event, headers=bearer(emitter)))
    _assert_503(client.post("/v1/events/batch", json={"events": [shown()]}, headers=bearer(emitter)))
    _assert_503(client.get("/v1/log", headers=bearer(auditor)))
    _assert_503(client.get("/readyz"))

    proxy.up()
    _eventually(lambda: client.get("/readyz").status_code == 200)
    assert client.post("/v1/events", json=event, headers=bearer(emitter)).status_code == 201
    assert client.get("/v1/log", headers=bearer(auditor)).json()["head_seq"] == 2
