"""Property-based: schemathesis drives every operation of the app's own OpenAPI document against a
real server (SQLite) and finds no server error and no response that breaks the document."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.ledgers import env_settings

OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(base URL, admin token, OpenAPI document) of a server on a fresh SQLite ledger."""
    folder = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'ledger.sqlite3'}"
    token = KeyStore(url).create(Role.ADMIN, label="schemathesis").token
    with Ledger(env_settings(url)) as ledger:  # a signing key, as a real server has: evidence bundles need one
        KeyFolder(folder / "keys").activate_new("ledger.fuzz.example", ledger=ledger, actor=OPERATOR, reason=None)
    (folder / "checkpoints").mkdir()
    settings = Settings(database_url=url, keys_dir=str(folder / "keys"), checkpoint_dir=str(folder / "checkpoints"))
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", token, app.openapi()
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


# The document needs no store: building an app opens nothing (the lifespan does).
schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite:///unused.sqlite3")).openapi())
# The coverage phase enumerates the catalogue's 22-way event schema at collection time (about 30 s);
# the examples phase (one per event type) and the fuzzing phase stay. It found that GET on
# /v1/events/batch answered 422, not 405: test_reads keeps that fixed.
schema.config.phases.coverage.enabled = False


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_honours_its_openapi_document(case: Any, live: tuple[str, str, dict[str, Any]]) -> None:
    base, token, _ = live
    # positive_data_acceptance is off: JSON Schema cannot say everything the catalogue checks
    # (e.g. a year of at least 1000), so schema-valid is not always catalogue-valid.
    headers = {"Authorization": f"Bearer {token}"}
    case.call_and_validate(base_url=base, headers=headers, excluded_checks=[positive_data_acceptance])


def test_the_document_is_the_one_served(live: tuple[str, str, dict[str, Any]]) -> None:
    import httpx

    base, _, document = live
    assert httpx.get(f"{base}/openapi.json").json() == document
    assert Path(__file__).exists()
