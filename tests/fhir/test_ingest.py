"""POST /fhir/AuditEvent and POST /fhir (batch Bundle): IHE BALP reads of an AI output become output.shown;
what cannot be placed gets an OperationOutcome naming the element and nothing is written; retries append once."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fhir.conftest import SOURCE, App

DATA = Path(__file__).parents[1] / "testdata" / "fhir"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


def post(app: App, path: str, body: Any, role: str = "emitter") -> Any:
    return app.client.post(path, content=json.dumps(body), headers={**app.headers(role), **FHIR_JSON})


def recorded(app: App, response: Any) -> dict[str, Any]:
    """The ledger event a Location names, as the auditor reads it back."""
    got = app.client.get(response.headers["Location"], headers=app.headers("admin"))
    import base64

    return dict(json.loads(base64.b64decode(got.json()["body"])))


@pytest.mark.parametrize("name", ["balp-read-ai-output-r4", "balp-read-ai-output-r5"])
def test_a_balp_read_of_an_ai_output_becomes_output_shown_once(app: App, name: str) -> None:
    """201 with Location; the ledger holds output.shown under the key's source; the same AuditEvent again is 200
    and appends nothing."""
    first = post(app, "/fhir/AuditEvent", example(name))
    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/fhir+json"
    event = recorded(app, first)
    assert (event["type"], event["source"], event["data"]["output_id"]) == ("output.shown", SOURCE, "out-fhir-1")
    head = app.head()
    again = post(app, "/fhir/AuditEvent", example(name))
    assert (again.status_code, again.headers["Location"], app.head()) == (200, first.headers["Location"], head)


def test_an_unplaceable_auditevent_gets_an_operation_outcome_naming_the_element(app: App) -> None:
    """BALP's published example (user by display name) is 422 with an OperationOutcome whose issue's expression
    is the element; nothing is written."""
    head = app.head()
    refused = post(app, "/fhir/AuditEvent", example("balp-read-server-unmodified-r4"))
    assert refused.status_code == 422
    body = refused.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["AuditEvent.agent[2].who"]
    assert "John" not in refused.text and app.head() == head


def test_another_body_under_the_same_id_is_a_conflicting_duplicate(app: App) -> None:
    """The same AuditEvent id with another user: 409 OperationOutcome (duplicate), nothing written."""
    raw = example("balp-read-ai-output-r4")
    assert post(app, "/fhir/AuditEvent", raw).status_code == 201
    other = copy.deepcopy(raw)
    other["agent"][2]["who"]["identifier"]["value"] = "clin-mallory"
    head = app.head()
    conflict = post(app, "/fhir/AuditEvent", other)
    assert (conflict.status_code, conflict.json()["issue"][0]["code"], app.head()) == (409, "duplicate", head)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    entries = [{"resource": r, "request": {"method": "POST", "url": "AuditEvent"}} for r in resources]
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def reads(count: int) -> list[dict[str, Any]]:
    """``count`` distinct BALP reads of the output."""
    made = []
    for i in range(count):
        raw = example("balp-read-ai-output-r4")
        raw["id"] = f"read-{i}"
        made.append(raw)
    return made


def test_a_batch_bundle_is_recorded_all_or_nothing_and_once(app: App) -> None:
    """A Bundle of 100 reads answers a batch-response of 100 201s; again, 100 200s and nothing appended; with one
    bad entry, 422 naming Bundle.entry[i] and nothing written; 101 entries is 422 on Bundle.entry."""
    good = bundle(*reads(100))
    done = post(app, "/fhir", good)
    assert done.status_code == 200, done.text
    statuses = [e["response"]["status"] for e in done.json()["entry"]]
    assert statuses == ["201 Created"] * 100
    head = app.head()
    again = post(app, "/fhir", good)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 100 and app.head() == head
    bad = reads(3)
    bad[1]["action"] = "U"
    refused = post(app, "/fhir", bundle(*[{**r, "id": f"new-{i}"} for i, r in enumerate(bad)]))
    assert refused.status_code == 422
    assert [i["expression"] for i in refused.json()["issue"]] == [["Bundle.entry[1].resource.action"]]
    too_many = post(app, "/fhir", bundle(*reads(101)))
    assert too_many.json()["issue"][0]["expression"] == ["Bundle.entry"]
    assert app.head() == head


@pytest.mark.parametrize(("role", "status"), [("admin", 403), ("reader", 403), ("none", 401)])
def test_only_an_emitter_key_records_and_refusals_are_operation_outcomes(app: App, role: str, status: int) -> None:
    """The source comes from the emitter key: an admin key (no bound source), a reader or no key are refused with
    an OperationOutcome."""
    headers = FHIR_JSON if role == "none" else {**app.headers(role), **FHIR_JSON}
    refused = app.client.post(
        "/fhir/AuditEvent", content=json.dumps(example("balp-read-ai-output-r4")), headers=headers
    )
    assert (refused.status_code, refused.json()["resourceType"]) == (status, "OperationOutcome")
