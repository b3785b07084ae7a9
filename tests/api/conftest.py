"""The API suite's fixtures: the real app (FastAPI's test client, lifespan and all) on each store, with keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role

EMITTER_SOURCE = "ehr.epic-prod"  # the source of tests.factories' events


@dataclass(frozen=True)
class Keys:
    """One token per role, and the store that issued them."""

    store: KeyStore
    admin: str
    auditor: str
    reader: str
    emitter: str
    other_emitter: str  # bound to another source


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def keys(store_url: str) -> Keys:
    """Keys of every role on the store under test."""
    store = KeyStore(store_url)
    return Keys(
        store,
        admin=store.create(Role.ADMIN, label="admin").token,
        auditor=store.create(Role.AUDITOR, label="auditor").token,
        reader=store.create(Role.READER, label="reader").token,
        emitter=store.create(Role.EMITTER, source=EMITTER_SOURCE, label="emitter").token,
        other_emitter=store.create(Role.EMITTER, source="lis.cerner", label="other").token,
    )


@pytest.fixture
def settings(store_url: str) -> Settings:
    """The app's settings on the store under test; keys are looked up on every request."""
    return Settings(database_url=store_url, key_cache_s=0, db_connect_timeout_s=2)


@pytest.fixture
def make_client(request: pytest.FixtureRequest) -> Callable[[Settings], TestClient]:
    """Start apps (lifespan included); each is shut down at the end of the test.

    Each app's shutdown is scheduled when it starts, on the test's own stack of
    finalizers, so it runs before the teardown of every fixture set up earlier:
    the store (a PostgreSQL schema) is dropped only once no app holds it. Shut
    down after it, a running app could deadlock with the DROP SCHEMA.
    """

    def start(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings))
        client.__enter__()
        request.node.addfinalizer(lambda: client.__exit__(None, None, None))
        return client

    return start


@pytest.fixture
def client(settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]) -> TestClient:
    """The app on the store under test (keys already created).

    make_client comes last so that it is set up after the store and torn down before it: the app stops
    before the test's PostgreSQL schema is dropped (the other way round, its writers deadlocked the DROP).
    """
    return make_client(settings)


@pytest.fixture
def emitter(keys: Keys) -> dict[str, str]:
    """Headers of the emitter bound to tests.factories' source."""
    return bearer(keys.emitter)


@pytest.fixture
def auditor(keys: Keys) -> dict[str, str]:
    """Headers of an auditor."""
    return bearer(keys.auditor)
