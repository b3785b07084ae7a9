"""Logs are JSON lines with ids, types, seqs and statuses; never an event body, a value or free text."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from api.logging import JsonFormatter
from ledger.catalogue import EXAMPLES
from tests.api.conftest import Keys, bearer
from tests.factories import envelope

PATIENT = "Patient/pseud-LOGLEAK-5c2e"
FREE_TEXT = "Tachycardia LOGLEAK explained by pain"


def _generated(**data: object) -> dict[str, object]:
    body = {**EXAMPLES["output.generated"]["data"], "patient_ref": PATIENT, "explanation": FREE_TEXT, **data}
    return envelope("output.generated", body)


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_a_request_line_names_ids_types_seq_and_status_but_no_value(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    event = _generated()
    with caplog.at_level(logging.INFO):
        ok = client.post("/v1/events", json=event, headers=bearer(keys.emitter))
        bad = client.post("/v1/events", json=_generated(score="high " + PATIENT), headers=bearer(keys.emitter))
    assert (ok.status_code, bad.status_code) == (201, 422), ok.text
    lines = _lines(caplog)
    text = "\n".join(json.dumps(line) for line in lines)
    assert "LOGLEAK" not in text
    request = next(line for line in lines if line.get("event_id") == event["event_id"])
    assert request["type"] == "output.generated" and request["seq"] == 1 and request["status"] == 201
    assert request["route"] == "/v1/events" and isinstance(request["latency_ms"], float)
    assert any(line.get("error") == "invalid_event" and line.get("status") == 422 for line in lines)


def test_the_formatter_drops_unknown_fields_and_exception_text() -> None:
    try:
        raise ValueError(PATIENT)
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    record.fields = {"event_id": "e-1", "patient_ref": PATIENT}
    line = json.loads(JsonFormatter().format(record))
    assert line["event_id"] == "e-1" and line["exc_type"] == "ValueError"
    assert "LOGLEAK" not in json.dumps(line)
