"""Appending through the API: 201, 200 on retry, 409, 422 naming the field, 413, 415; batches all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.settings import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES
from ledger.catalogue import CONTROL_TYPES
from ledger.store import Ledger
from tests.api.conftest import Keys, bearer
from tests.factories import many_shown, shown
from tests.ledgers import env_settings

EVENTS = Path(__file__).parents[1] / "testdata" / "events"
SECRET = "Patient/pseud-SECRET-4417"  # a value that must never come back in a response


def test_a_new_event_is_recorded_with_201_and_its_receipt(client: TestClient, emitter: dict[str, str]) -> None:
    event = shown()
    response = client.post("/v1/events", json=event, headers=emitter)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["event_id"] == event["event_id"]
    assert receipt["seq"] == 1 and receipt["leaf_index"] == 0
    assert receipt["prev_hash"] == "00" * 32 and len(receipt["hash"]) == 64
    assert receipt["recorded_at"].endswith("Z")
    assert response.headers["location"] == f"/v1/events/{event['event_id']}"


def test_the_same_event_again_gets_200_and_the_original_receipt(client: TestClient, emitter: dict[str, str]) -> None:
    event = shown()
    first = client.post("/v1/events", json=event, headers=emitter)
    again = client.post("/v1/events", json=event, headers=emitter)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_the_same_event_id_with_other_content_gets_409(client: TestClient, emitter: dict[str, str]) -> None:
    event = shown()
    client.post("/v1/events", json=event, headers=emitter)
    other = shown(output_id="out-2", event_id=event["event_id"])
    response = client.post("/v1/events", json=other, headers=emitter)
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["event_id"], body["seq"]) == ("event_conflict", event["event_id"], 1)


def test_a_malformed_event_gets_422_naming_the_field_and_never_its_value(
    client: TestClient, emitter: dict[str, str]
) -> None:
    event = shown()
    event["data"]["shown_at"] = SECRET
    del event["data"]["surface"]
    response = client.post("/v1/events", json=event, headers=emitter)
    assert response.status_code == 422
    errors = {e["loc"]: e["msg"] for e in response.json()["errors"]}
    assert "RFC 3339" in errors["data.shown_at"]
    assert errors["data.surface"] == "field required"
    assert "SECRET" not in response.text


def test_a_body_that_is_not_json_gets_422(client: TestClient, emitter: dict[str, str]) -> None:
    headers = {**emitter, "Content-Type": "application/json"}
    response = client.post("/v1/events", content=b'{"event_id": ', headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"index": None, "loc": "", "msg": "the body is not valid JSON"}]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_gets_415(
    client: TestClient, emitter: dict[str, str], content_type: str | None
) -> None:
    headers = dict(emitter) | ({"Content-Type": content_type} if content_type else {})
    response = client.post("/v1/events", content=orjson.dumps(shown()), headers=headers)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_an_event_over_1_mib_gets_413(client: TestClient, emitter: dict[str, str]) -> None:
    body = b'{"padding": "' + b"x" * MAX_EVENT_BYTES + b'"}'
    headers = {**emitter, "Content-Type": "application/json"}
    response = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 413
    assert str(MAX_EVENT_BYTES) in response.json()["message"]


def test_a_body_over_the_limit_is_refused_even_without_content_length(
    client: TestClient, emitter: dict[str, str]
) -> None:
    def chunks() -> object:
        for _ in range(20):
            yield b"x" * (MAX_EVENT_BYTES // 10)

    headers = {**emitter, "Content-Type": "application/json"}
    response = client.post("/v1/events", content=chunks(), headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 413


def test_a_batch_over_8_mib_gets_413(client: TestClient, emitter: dict[str, str]) -> None:
    body = b'{"events": ["' + b"x" * MAX_BATCH_BYTES + b'"]}'
    headers = {**emitter, "Content-Type": "application/json"}
    assert client.post("/v1/events/batch", content=body, headers=headers).status_code == 413


def test_a_batch_is_recorded_in_order_with_one_receipt_per_event(
    client: TestClient, emitter: dict[str, str], store_url: str
) -> None:
    events = many_shown(50)
    response = client.post("/v1/events/batch", json={"events": events}, headers=emitter)
    assert response.status_code == 201
    receipts = response.json()["receipts"]
    assert [r["event_id"] for r in receipts] == [e["event_id"] for e in events]
    assert [r["seq"] for r in receipts] == list(range(1, 51))
    again = client.post("/v1/events/batch", json={"events": events}, headers=emitter)
    assert again.status_code == 200 and again.json()["receipts"] == receipts


def test_an_invalid_event_in_a_batch_is_named_by_index_and_nothing_is_appended(
    client: TestClient, emitter: dict[str, str], store_url: str
) -> None:
    events = many_shown(10)
    del events[3]["actor"]
    events[7]["data"]["output_id"] = ""
    response = client.post("/v1/events/batch", json={"events": events}, headers=emitter)
    assert response.status_code == 422
    problems = [(e["index"], e["loc"], e["msg"]) for e in response.json()["errors"]]
    assert (3, "actor", "field required") in problems
    assert (7, "data.output_id", "must not be empty") in problems
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.head_seq() == 0


def test_a_conflict_in_a_batch_gets_409_with_its_index_and_appends_nothing(
    client: TestClient, emitter: dict[str, str], store_url: str
) -> None:
    recorded = shown()
    client.post("/v1/events", json=recorded, headers=emitter)
    events = [*many_shown(5), shown(output_id="changed", event_id=recorded["event_id"])]
    response = client.post("/v1/events/batch", json={"events": events}, headers=emitter)
    assert response.status_code == 409
    assert (response.json()["index"], response.json()["event_id"]) == (5, recorded["event_id"])
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.head_seq() == 1


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        ({"events": []}, "events", f"must hold 1 to {MAX_BATCH_EVENTS} events"),
        ({"events": "all"}, "events", "must be a list"),
        ({}, "events", "field required"),
        ([], "", "must be a JSON object with an events list"),
    ],
)
def test_a_batch_of_the_wrong_shape_gets_422(
    client: TestClient, emitter: dict[str, str], body: object, loc: str, msg: str
) -> None:
    response = client.post("/v1/events/batch", json=body, headers=emitter)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"index": None, "loc": loc, "msg": msg}]


def test_a_batch_of_more_than_1000_events_gets_422(client: TestClient, emitter: dict[str, str]) -> None:
    events = many_shown(MAX_BATCH_EVENTS + 1)
    response = client.post("/v1/events/batch", json={"events": events}, headers=emitter)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "events"


def _vectors(kind: str) -> list[Path]:
    return sorted(EVENTS.glob(f"*.{kind}.json"))


def test_every_valid_vector_is_recorded_and_every_invalid_one_refused_at_its_field(
    client: TestClient, keys: Keys
) -> None:
    admin = bearer(keys.admin)
    assert _vectors("valid") and _vectors("invalid")
    for path in _vectors("valid"):
        event = json.loads(path.read_text())["event"]
        response = client.post("/v1/events", json=event, headers=admin)
        # The ledger's own control events are never taken here (tests/api/test_control_plane.py).
        assert response.status_code == (403 if event["type"] in CONTROL_TYPES else 201), path.name
    for path in _vectors("invalid"):
        vector = json.loads(path.read_text())
        event = vector["event"]
        if event["type"] in CONTROL_TYPES:
            continue  # refused as a control event before validation
        event["event_id"] = event["event_id"][:-4] + "9999"  # not the valid twin's id
        response = client.post("/v1/events", json=event, headers=admin)
        assert response.status_code == 422, path.name
        assert vector["error_loc"] in [e["loc"] for e in response.json()["errors"]], path.name
