"""The short path of POST /v1/events (api.fastappend) answers exactly as the app does, and only when it may.

The suite's other tests run with the key cache off, so they exercise the full
path; here the cache is on, so that every request after the first takes the
short one, and each refusal must still come from the app's own implementation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api import fastappend
from api.keycache import KeyCache
from api.settings import Settings
from ledger.apikeys import ApiKey, Role
from ledger.errors import StoreUnavailable
from tests.api.conftest import Keys, bearer
from tests.factories import shown


@pytest.fixture
def cached(make_client: Callable[[Settings], TestClient], settings: Settings, keys: Keys) -> TestClient:
    """The app with authenticated keys cached for a minute: after a key's first request, the short path."""
    client = make_client(Settings(database_url=settings.database_url, key_cache_s=60, db_connect_timeout_s=2))
    for token in (keys.emitter, keys.other_emitter, keys.admin):
        assert client.get("/v1/log", headers=bearer(token), params={"limit": 1}).status_code in (200, 403)
    return client


@pytest.fixture
def short_path_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event ids the short path committed."""
    calls: list[str] = []
    commit = fastappend.commit_one

    async def spy(store: Any, event: Any, *, timeout: float) -> Any:
        calls.append(event.event_id)
        return await commit(store, event, timeout=timeout)

    monkeypatch.setattr(fastappend, "commit_one", spy)
    return calls


def test_the_short_path_answers_as_the_app_does(
    cached: TestClient, client: TestClient, keys: Keys, short_path_calls: list[str]
) -> None:
    fast = cached.post("/v1/events", json=shown(), headers=bearer(keys.emitter))
    slow = client.post("/v1/events", json=shown(output_id="out-2"), headers=bearer(keys.emitter))
    assert len(short_path_calls) == 1 and short_path_calls[0] == fast.json()["event_id"]
    assert (fast.status_code, slow.status_code) == (201, 201)
    assert set(fast.json()) == set(slow.json())
    assert fast.json()["seq"] + 1 == slow.json()["seq"]
    assert fast.headers["location"] == f"/v1/events/{fast.json()['event_id']}"
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert len(fast.headers["x-request-id"]) == 32
    assert int(fast.headers["content-length"]) == len(fast.content)


def test_a_retry_on_the_short_path_gets_200_and_the_original_receipt(
    cached: TestClient, keys: Keys, short_path_calls: list[str]
) -> None:
    event = shown()
    first = cached.post("/v1/events", json=event, headers=bearer(keys.emitter))
    again = cached.post("/v1/events", json=event, headers=bearer(keys.emitter))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and len(short_path_calls) == 2


def test_a_conflict_after_the_short_path_is_the_apps_409(
    cached: TestClient, keys: Keys, short_path_calls: list[str]
) -> None:
    event = shown()
    cached.post("/v1/events", json=event, headers=bearer(keys.emitter))
    response = cached.post(
        "/v1/events", json=shown(output_id="x", event_id=event["event_id"]), headers=bearer(keys.emitter)
    )
    assert response.status_code == 409 and len(short_path_calls) == 2
    body = response.json()
    assert (body["code"], body["event_id"], body["seq"]) == ("event_conflict", event["event_id"], 1)
    assert body["request_id"] == response.headers["x-request-id"]


def test_an_invalid_event_is_handed_to_the_app_with_its_body(
    cached: TestClient, keys: Keys, short_path_calls: list[str]
) -> None:
    event = shown()
    del event["data"]["surface"]
    response = cached.post("/v1/events", json=event, headers=bearer(keys.emitter))
    assert response.status_code == 422 and not short_path_calls
    assert [e["loc"] for e in response.json()["errors"]] == ["data.surface"]  # the replayed body was validated


@pytest.mark.parametrize(
    ("token", "path", "headers", "body", "status"),
    [
        ("other_emitter", "/v1/events", {}, None, 403),  # another source's event
        ("emitter", "/v1/events?x=1", {}, None, 422),  # an unknown query parameter
        ("emitter", "/v1/events", {"Content-Type": "text/plain"}, None, 415),
        ("emitter", "/v1/events", {}, b"{not json", 422),
        ("emitter", "/v1/events", {}, b" " * (1024 * 1024 + 1), 413),
        ("unknown", "/v1/events", {}, None, 401),
    ],
)
def test_every_other_request_gets_the_apps_own_refusal(
    cached: TestClient,
    keys: Keys,
    short_path_calls: list[str],
    token: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
) -> None:
    raw = getattr(keys, token, "lk_unknown_secret")
    content = orjson.dumps(shown()) if body is None else body
    sent = {"Content-Type": "application/json", **bearer(raw), **headers}
    response = cached.post(path, content=content, headers=sent)
    assert response.status_code == status and not short_path_calls
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_the_short_paths_log_line_is_the_routes(
    cached: TestClient, keys: Keys, short_path_calls: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="api.access"):
        response = cached.post("/v1/events", json=shown(), headers=bearer(keys.emitter))
    line = next(r.fields for r in caplog.records if getattr(r, "fields", {}).get("status") == 201)  # type: ignore[attr-defined]
    assert short_path_calls and line["route"] == "/v1/events" and line["seq"] == response.json()["seq"]
    assert (line["type"], line["role"], line["created"]) == ("output.shown", "emitter", True)
    assert line["request_id"] == response.headers["x-request-id"] and line["bytes"] > 0
    assert "patient" not in json.dumps(line).lower()


def test_a_bug_on_the_short_path_is_a_500_without_its_message_and_with_its_log_line(
    cached: TestClient, keys: Keys, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(store: Any, event: Any, *, timeout: float) -> Any:
        raise RuntimeError("Patient/p-4411 said something")

    monkeypatch.setattr(fastappend, "commit_one", broken)
    with caplog.at_level(logging.INFO):
        response = cached.post("/v1/events", json=shown(), headers=bearer(keys.emitter))
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert "p-4411" not in response.text and "p-4411" not in caplog.text
    line = next(r.fields for r in caplog.records if r.name == "api.access")  # type: ignore[attr-defined]
    assert (line["status"], line["route"]) == (500, "/v1/events")


def _key() -> ApiKey:
    return ApiKey("k1", Role.EMITTER, "src", "label", "2026-01-01T00:00:00Z", None)


def test_requests_that_miss_the_key_cache_together_share_one_lookup() -> None:
    cache = KeyCache(ttl=60)
    lookups = 0

    async def lookup() -> ApiKey:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.01)
        return _key()

    async def many() -> list[ApiKey | None]:
        return await asyncio.gather(*(cache.fetch("lk_token", lookup) for _ in range(20)))

    keys = asyncio.run(many())
    assert lookups == 1 and all(k == _key() for k in keys)
    assert cache.get("lk_token") == _key()


def test_a_failed_shared_lookup_fails_each_waiter_and_is_not_remembered() -> None:
    cache = KeyCache(ttl=60)
    calls = 0

    async def down() -> ApiKey:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise StoreUnavailable("database down")

    async def many() -> list[object]:
        return await asyncio.gather(*(cache.fetch("lk_token", down) for _ in range(5)), return_exceptions=True)

    errors = asyncio.run(many())
    assert all(isinstance(e, StoreUnavailable) for e in errors) and len({id(e) for e in errors}) == 5
    assert calls == 1
    assert asyncio.run(many()) and calls == 2  # looked up again next time
