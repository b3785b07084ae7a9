"""Fixtures of the projections suite: a ledger with its views, and the API with the queries router."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes import queries
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.store import Ledger
from projections.views import Views
from projections.worker import ProjectionWorker
from tests.ledgers import env_settings
from tests.projections.scenarios import Scenario


@dataclass
class Opened:
    """An open ledger and its views (kept current by ``sync``)."""

    ledger: Ledger
    views: Views

    def append(self, *scenarios: Scenario) -> None:
        """Append the scenarios' events, in order, and bring the views up to date."""
        for scenario in scenarios:
            self.ledger.submit(scenario.events)
        self.sync()

    def sync(self) -> int:
        """Project everything appended so far; the position reached."""
        return self.views.projector.catch_up()


@pytest.fixture
def opened(store_url: str) -> Iterator[Opened]:
    """A fresh ledger on each store, with its views."""
    with Ledger(env_settings(store_url)) as ledger:
        yield Opened(ledger, Views(ledger))


@pytest.fixture
def opened_sqlite(sqlite_url: str) -> Iterator[Opened]:
    """A fresh SQLite ledger with its views (for tests whose subject is not the store)."""
    with Ledger(env_settings(sqlite_url)) as ledger:
        yield Opened(ledger, Views(ledger))


@dataclass(frozen=True)
class Api:
    """The app with the queries router, an admin key to append with and a reader key to ask with."""

    client: TestClient
    admin: dict[str, str]
    reader: dict[str, str]

    def append(self, scenario: Scenario) -> int:
        """Append through POST /v1/events/batch; the seq of the last event."""
        done = self.client.post("/v1/events/batch", json={"events": scenario.events}, headers=self.admin)
        assert done.status_code == 201, done.text
        return int(done.json()["receipts"][-1]["seq"])

    def get(self, path: str, **params: object) -> dict[str, object]:
        """GET as the reader; the JSON body of a 200."""
        done = self.client.get(path, params={k: v for k, v in params.items() if v is not None}, headers=self.reader)
        assert done.status_code == 200, done.text
        body: dict[str, object] = done.json()
        return body


@pytest.fixture
def api(store_url: str) -> Iterator[Api]:
    """The real app (lifespan included) on the store under test, serving the queries router."""
    keys = KeyStore(store_url)
    admin = keys.create(Role.ADMIN, label="admin").token
    reader = keys.create(Role.READER, label="reader").token
    app = create_app(Settings(database_url=store_url, key_cache_s=0, db_connect_timeout_s=2))
    if not any(getattr(route, "path", "") == "/v1/gaps" for route in app.routes):
        app.include_router(queries.router)  # until the lead adds it to api.app.ROUTERS
    with TestClient(app) as client:
        yield Api(client, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {reader}"})
        worker = getattr(app.state, "query_projections", None)
        if isinstance(worker, ProjectionWorker):
            worker.stop()
    keys.close()


@pytest.fixture
def worker_factory() -> Iterator[Callable[[Ledger], ProjectionWorker]]:
    """ProjectionWorkers that are stopped at the end of the test."""
    made: list[ProjectionWorker] = []

    def make(ledger: Ledger) -> ProjectionWorker:
        worker = ProjectionWorker(ledger, interval=0.02)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop()
