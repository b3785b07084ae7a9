"""A JSON object with a key given twice is refused (422 naming where), never read as its last value.

``"source"`` twice would decide which source the event is checked against; a
body must mean one thing. Every body the API parses is checked: the single
append (full path and short path), the batch, and a declared body (erasure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api import fastappend
from api.settings import Settings
from tests.api.conftest import EMITTER_SOURCE, Keys, bearer
from tests.factories import shown

JSON = {"Content-Type": "application/json"}


def _with_duplicate(event: dict[str, Any], *, at: tuple[str, ...], key: str, first: object) -> bytes:
    """``event``'s JSON with ``"key": first`` inserted before the object's own ``key`` (so the last one wins)."""
    text = orjson.dumps(event).decode()
    target = event
    for part in at:
        target = target[part]
    own = orjson.dumps({key: target[key]}).decode()[1:-1]
    injected = orjson.dumps({key: first}).decode()[1:-1]
    assert text.count(own) == 1
    return text.replace(own, f"{injected},{own}").encode()


def _errors(response: Any) -> dict[str, str]:
    return {e["loc"]: e["msg"] for e in response.json()["errors"]}


def _appended(client: TestClient, keys: Keys) -> int:
    log = client.get("/v1/log", headers=bearer(keys.admin)).json()
    return len(log["records"])


def test_a_source_given_twice_is_refused_naming_the_field_and_nothing_is_appended(
    client: TestClient, keys: Keys
) -> None:
    body = _with_duplicate(shown(), at=(), key="source", first="lis.cerner")
    response = client.post("/v1/events", content=body, headers=bearer(keys.emitter) | JSON)
    assert response.status_code == 422
    assert _errors(response) == {"source": "appears more than once in its object"}
    assert "lis.cerner" not in response.text and EMITTER_SOURCE not in response.text
    assert _appended(client, keys) == 0


def test_the_short_path_refuses_a_repeated_key_as_the_app_does(
    make_client: Callable[[Settings], TestClient], settings: Settings, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = make_client(Settings(database_url=settings.database_url, key_cache_s=60, db_connect_timeout_s=2))
    assert cached.post("/v1/events", json=shown(), headers=bearer(keys.emitter)).status_code == 201  # key cached
    committed: list[str] = []
    commit = fastappend.commit_one

    async def spy(store: Any, event: Any, *, timeout: float) -> Any:
        committed.append(event.event_id)
        return await commit(store, event, timeout=timeout)

    monkeypatch.setattr(fastappend, "commit_one", spy)
    body = _with_duplicate(shown(output_id="out-2"), at=(), key="source", first=EMITTER_SOURCE)
    response = cached.post("/v1/events", content=body, headers=bearer(keys.emitter) | JSON)
    assert response.status_code == 422 and _errors(response) == {"source": "appears more than once in its object"}
    assert committed == [] and _appended(cached, keys) == 1


def test_a_repeated_key_inside_data_is_located_by_its_path(client: TestClient, keys: Keys) -> None:
    event = shown()
    body = _with_duplicate(event, at=("data",), key="output_id", first="out-other")
    response = client.post("/v1/events", content=body, headers=bearer(keys.admin) | JSON)
    assert response.status_code == 422
    assert _errors(response) == {"data.output_id": "appears more than once in its object"}


def test_an_unknown_key_given_twice_is_placed_by_position_never_named(client: TestClient, keys: Keys) -> None:
    event = shown()
    event["data"]["MRN_4242"] = "x"
    body = _with_duplicate(event, at=("data",), key="MRN_4242", first="y")
    response = client.post("/v1/events", content=body, headers=bearer(keys.admin) | JSON)
    assert response.status_code == 422
    position = list(event["data"]).index("MRN_4242") + 2
    assert _errors(response) == {"data": f"a key appears more than once in this object: key {position}"}
    assert "MRN" not in response.text


def test_a_repeated_key_in_a_batch_names_the_event_and_nothing_is_appended(client: TestClient, keys: Keys) -> None:
    first, second = shown(), shown(output_id="out-2")
    text = orjson.dumps({"events": [first, second]}).decode()
    own = '"actor":'
    at = text.rindex(own)
    body = (text[:at] + '"source":"lis.cerner",' + text[at:]).encode()
    response = client.post("/v1/events/batch", content=body, headers=bearer(keys.emitter) | JSON)
    assert response.status_code == 422
    assert _errors(response) == {"events.1.source": "appears more than once in its object"}
    assert _appended(client, keys) == 0


def test_the_batch_s_own_key_given_twice_is_refused(client: TestClient, keys: Keys) -> None:
    body = b'{"events": [], "events": [' + orjson.dumps(shown()) + b"]}"
    response = client.post("/v1/events/batch", content=body, headers=bearer(keys.emitter) | JSON)
    assert response.status_code == 422 and _errors(response) == {"events": "appears more than once in its object"}
    assert _appended(client, keys) == 0


def test_an_erasure_body_with_a_key_given_twice_is_refused_before_it_runs(client: TestClient, keys: Keys) -> None:
    body = b'{"subject": "patient:Patient/1", "subject": "patient:Patient/2", "legal_basis": "gdpr_art17"}'
    response = client.post("/v1/subjects/erase", content=body, headers=bearer(keys.admin) | JSON)
    assert response.status_code == 422
    assert (response.json()["code"], _errors(response)) == (
        "invalid_body",
        {"subject": "appears more than once in its object"},
    )
    assert "Patient/" not in response.text
