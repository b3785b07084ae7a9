"""The FHIR suite's fixtures: the real app on a fresh SQLite ledger, with a key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.store import Ledger
from tests.ledgers import env_settings

SOURCE = "ehr.epic-prod"  # the source the scenarios' EHR events carry


@dataclass(frozen=True)
class App:
    """A running app, its store and a token per role."""

    client: TestClient
    url: str
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        """The Authorization header of ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def head(self) -> int:
        """The log's last seq."""
        with Ledger(env_settings(self.url), create_tables=False) as ledger:
            return ledger.head_seq()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The app (lifespan included) on a fresh SQLite ledger."""
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    with Ledger(env_settings(url)):
        pass
    store = KeyStore(url)
    tokens = {
        "admin": store.create(Role.ADMIN, label="admin").token,
        "reader": store.create(Role.READER, label="reader").token,
        "emitter": store.create(Role.EMITTER, source=SOURCE, label="emitter").token,
        "other_emitter": store.create(Role.EMITTER, source="lis.cerner", label="other").token,
    }
    settings = Settings(database_url=url, key_cache_s=0, db_connect_timeout_s=2, checkpoint_interval_s=0)
    with TestClient(create_app(settings)) as client:
        yield App(client, url, tokens)
