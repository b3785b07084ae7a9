"""Reading back: one event by id, the log page by page; bytes and hashes as stored; the chain verifies."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from ledger.audit import verify_store
from ledger.catalogue import canonical_bytes, validate_event
from ledger.store import Ledger
from tests.factories import many_shown, shown
from tests.ledgers import env_settings


def test_an_event_reads_back_as_its_canonical_bytes_and_receipt_hashes(
    client: TestClient, emitter: dict[str, str], auditor: dict[str, str]
) -> None:
    event = shown()
    receipt = client.post("/v1/events", json=event, headers=emitter).json()
    response = client.get(f"/v1/events/{event['event_id']}", headers=auditor)
    assert response.status_code == 200
    record = response.json()
    assert base64.b64decode(record["body"]) == canonical_bytes(validate_event(event))
    assert [record[k] for k in ("seq", "hash", "prev_hash")] == [receipt[k] for k in ("seq", "hash", "prev_hash")]
    assert record["type"] == "output.shown" and record["recorded_at"] == receipt["recorded_at"]


def test_an_unknown_event_id_gets_404(client: TestClient, auditor: dict[str, str]) -> None:
    response = client.get("/v1/events/00000000-0000-4000-8000-000000000000", headers=auditor)
    assert response.status_code == 404


def test_an_event_id_that_is_not_a_uuid_is_no_route(client: TestClient, auditor: dict[str, str]) -> None:
    response = client.get("/v1/events/MRN-12345", headers=auditor)
    assert response.status_code == 404
    assert "MRN" not in response.text
    assert client.get("/v1/events/batch", headers=auditor).status_code == 405


def test_the_log_pages_through_every_record_in_seq_order(
    client: TestClient, emitter: dict[str, str], auditor: dict[str, str], store_url: str
) -> None:
    client.post("/v1/events/batch", json={"events": many_shown(25)}, headers=emitter)
    seqs: list[int] = []
    after: int | None = 0
    while after is not None:
        page = client.get("/v1/log", params={"after_seq": after, "limit": 10}, headers=auditor).json()
        assert page["head_seq"] == 25
        seqs += [r["seq"] for r in page["records"]]
        after = page["next_after_seq"]
    assert seqs == list(range(1, 26))
    with Ledger(env_settings(store_url)) as ledger:
        stored = ledger.read(after_seq=0, limit=100)
        assert verify_store(ledger).intact
    first = client.get("/v1/log", params={"limit": 1}, headers=auditor).json()["records"][0]
    assert base64.b64decode(first["body"]) == stored[0].body
    assert first["recorded_us"] == stored[0].recorded_us


def test_a_page_limit_over_1000_gets_422_naming_the_parameter(client: TestClient, auditor: dict[str, str]) -> None:
    response = client.get("/v1/log", params={"limit": 1001}, headers=auditor)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"index": None, "loc": "limit", "msg": "must be at most 1000"}]


def test_health_and_readiness_need_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "head_seq": 0}


def test_every_response_carries_a_request_id_and_keeps_a_safe_one_offered(client: TestClient) -> None:
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "Patient John"}).headers["x-request-id"] != "Patient John"
