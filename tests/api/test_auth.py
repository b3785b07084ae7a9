"""API keys and roles: 401 without a usable key, 403 for the wrong role or source; keys stored as hashes."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from fastapi.testclient import TestClient

from ledger.apikeys import KeyStore, Role
from ledger.store.url import parse_database_url
from tests.api.conftest import Keys, bearer
from tests.factories import many_shown, shown


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer lk_nothex_nothex"},
        {"Authorization": "Bearer lk_0123456789abcdef_" + "0" * 64},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["none", "malformed", "unknown", "not-bearer"],
)
def test_no_usable_key_gets_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/events", json=shown(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "unauthorized"


def test_a_wrong_secret_for_a_real_key_id_gets_401(client: TestClient, keys: Keys) -> None:
    key_id = keys.emitter.split("_")[1]
    forged = f"lk_{key_id}_{'ab' * 32}"
    assert client.post("/v1/events", json=shown(), headers=bearer(forged)).status_code == 401


def test_a_revoked_key_gets_401(client: TestClient, keys: Keys) -> None:
    assert client.post("/v1/events", json=shown(), headers=bearer(keys.emitter)).status_code == 201
    keys.store.revoke(keys.emitter.split("_")[1])
    assert client.post("/v1/events", json=shown(), headers=bearer(keys.emitter)).status_code == 401


@pytest.mark.parametrize("role", ["reader", "auditor"])
def test_only_emitters_and_admins_may_append(client: TestClient, keys: Keys, role: str) -> None:
    response = client.post("/v1/events", json=shown(), headers=bearer(getattr(keys, role)))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_an_emitter_may_not_append_for_another_source_gets_403(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/events", json=shown(), headers=bearer(keys.other_emitter))
    assert response.status_code == 403
    assert "lis.cerner" in response.json()["message"]


def test_a_batch_with_one_event_of_another_source_gets_403_naming_it(client: TestClient, keys: Keys) -> None:
    events = many_shown(4)
    events[2]["source"] = "lis.cerner"
    response = client.post("/v1/events/batch", json={"events": events}, headers=bearer(keys.emitter))
    assert response.status_code == 403
    assert response.json()["message"].startswith("event 2:")


def test_an_admin_may_append_for_any_source(client: TestClient, keys: Keys) -> None:
    event = shown(source="lis.cerner")
    assert client.post("/v1/events", json=event, headers=bearer(keys.admin)).status_code == 201


@pytest.mark.parametrize(("role", "status"), [("emitter", 403), ("reader", 403), ("auditor", 200), ("admin", 200)])
def test_the_raw_log_is_for_auditors(client: TestClient, keys: Keys, role: str, status: int) -> None:
    assert client.get("/v1/log", headers=bearer(getattr(keys, role))).status_code == status


def test_an_emitter_reads_its_own_sources_events_only(client: TestClient, keys: Keys) -> None:
    mine, theirs = shown(), shown(source="lis.cerner")
    client.post("/v1/events", json=mine, headers=bearer(keys.emitter))
    client.post("/v1/events", json=theirs, headers=bearer(keys.other_emitter))
    assert client.get(f"/v1/events/{mine['event_id']}", headers=bearer(keys.emitter)).status_code == 200
    assert client.get(f"/v1/events/{theirs['event_id']}", headers=bearer(keys.emitter)).status_code == 403
    assert client.get(f"/v1/events/{theirs['event_id']}", headers=bearer(keys.reader)).status_code == 403


def test_keys_are_stored_only_as_hashes_of_their_secrets(store_url: str) -> None:
    new = KeyStore(store_url).create(Role.AUDITOR, label="hash check")
    secret = new.token.rsplit("_", 1)[1]
    rows = _raw_rows(store_url)
    assert rows
    dumped = repr(rows)
    assert secret not in dumped and bytes.fromhex(secret).hex() not in dumped
    assert new.token not in dumped


def test_creating_an_emitter_key_needs_a_source(store_url: str) -> None:
    from ledger.errors import InputError

    with pytest.raises(InputError, match="needs --source"):
        KeyStore(store_url).create(Role.EMITTER, label="no source")
    with pytest.raises(InputError, match="only emitter keys"):
        KeyStore(store_url).create(Role.READER, source="ehr.epic-prod", label="bound reader")


def _raw_rows(store_url: str) -> list[tuple[object, ...]]:
    url = parse_database_url(store_url)
    if url.backend == "sqlite":
        with sqlite3.connect(str(url.sqlite_path)) as conn:
            return conn.execute("SELECT * FROM ledger_api_keys").fetchall()
    schema = url.settings["POSTGRES_SCHEMA"]
    with psycopg.connect(store_url.split("?")[0]) as conn:
        return conn.execute(f'SELECT * FROM "{schema}".ledger_api_keys').fetchall()
