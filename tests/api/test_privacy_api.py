"""Minimum necessary over the API: reveals are for readers with a purpose, and each is logged; admins erase."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.privacy import LocalMasterKey
from ledger.store import Ledger
from scripts import serve
from scripts.bench_apps import create_app_without_sealing
from tests.api.conftest import Keys, bearer
from tests.factories import envelope
from tests.ledgers import env_settings

PATIENT = "Patient/API-PRIV-1"


@pytest.fixture
def generated(client: TestClient, keys: Keys) -> dict[str, object]:
    event = envelope("output.generated", {
        "output_id": "out-priv-1", "tool_id": "sepsis-watch", "model_version": "3.2.0", "site": "northside",
        "unit": "icu", "population": "adults_18_plus", "patient_ref": PATIENT, "encounter_ref": "Encounter/E-1",
        "score": 0.9, "label": "high", "priority": "urgent", "threshold_in_effect": 0.7,
    })  # fmt: skip
    assert client.post("/v1/events", json=event, headers=bearer(keys.admin)).status_code == 201
    return event


def test_raw_reads_never_show_sealed_fields_in_clear(client: TestClient, keys: Keys, generated: dict) -> None:
    body = client.get(f"/v1/events/{generated['event_id']}", headers=bearer(keys.auditor))
    assert body.status_code == 200 and PATIENT not in body.text


def test_a_reader_reveals_for_a_purpose_and_the_read_is_logged_with_its_identity(
    client: TestClient, keys: Keys, generated: dict, store_url: str
) -> None:
    answer = client.get(f"/v1/events/{generated['event_id']}/revealed", params={"purpose": "incident_review"},
                        headers=bearer(keys.reader))  # fmt: skip
    assert answer.status_code == 200
    body = answer.json()
    assert body["event"]["data"]["patient_ref"] == PATIENT and body["revealed"] == ["encounter_ref", "patient_ref"]
    with Ledger(env_settings(store_url)) as ledger:
        access = ledger.get(ledger.read(after_seq=body["access_seq"] - 1, limit=1)[0].event_id)
        assert access is not None and access.type == "access.recorded"
        data = orjson.loads(access.body)["data"]
    reader_id = keys.store.authenticate(keys.reader).key_id
    assert data == {"reader": reader_id, "reader_role": "reader", "purpose": "incident_review",
                    "event_ids": [generated["event_id"]], "fields": ["encounter_ref", "patient_ref"]}  # fmt: skip


@pytest.mark.parametrize("role", ["emitter", "auditor"])
def test_roles_without_the_need_cannot_reveal(client: TestClient, keys: Keys, generated: dict, role: str) -> None:
    token = getattr(keys, role)
    answer = client.get(f"/v1/events/{generated['event_id']}/revealed", params={"purpose": "curiosity"},
                        headers=bearer(token))  # fmt: skip
    assert answer.status_code == 403


def test_a_reveal_needs_a_purpose(client: TestClient, keys: Keys, generated: dict) -> None:
    answer = client.get(f"/v1/events/{generated['event_id']}/revealed", headers=bearer(keys.reader))
    assert answer.status_code == 422 and "purpose" in answer.text


def test_an_admin_erases_and_the_field_then_reads_as_erased(client: TestClient, keys: Keys, generated: dict) -> None:
    request = {"subject": f"patient:{PATIENT}", "legal_basis": "gdpr_art17", "request_ref": "DSR-1"}
    assert client.post("/v1/subjects/erase", json=request, headers=bearer(keys.reader)).status_code == 403
    done = client.post("/v1/subjects/erase", json=request, headers=bearer(keys.admin))
    assert done.status_code == 200 and done.json()["key_destroyed"] and PATIENT not in done.text
    answer = client.get(f"/v1/events/{generated['event_id']}/revealed", params={"purpose": "incident_review"},
                        headers=bearer(keys.reader))  # fmt: skip
    assert answer.json()["event"]["data"]["patient_ref"] == "[erased]" and answer.json()["erased"]


def test_erasure_under_a_legal_hold_is_a_409_naming_the_hold(client: TestClient, keys: Keys, generated: dict) -> None:
    with Ledger(env_settings(client.app.state.settings.database_url)) as ledger:  # type: ignore[attr-defined]
        token = ledger.keys.token(f"patient:{PATIENT}")
        # A hold is the ledger's own fact: placed by its own operation (``ledger legal-hold place``), not over the API.
        ledger.submit([envelope("legal_hold.placed", {"hold_id": "HOLD-API-1", "subject": token, "authority": "c"})])
    request = {"subject": f"patient:{PATIENT}", "legal_basis": "gdpr_art17"}
    refused = client.post("/v1/subjects/erase", json=request, headers=bearer(keys.admin))
    assert refused.status_code == 409 and "HOLD-API-1" in refused.text and PATIENT not in refused.text


def test_the_app_without_sealing_is_the_benchmarks_other_side_and_the_served_app_seals(
    settings: Settings, keys: Keys, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # scripts.bench privacy serves create_app_without_sealing beside create_app; `ledger serve` never does.
    monkeypatch.setattr("api.app.get_settings", lambda: settings)
    stored = []
    for factory in (create_app_without_sealing, create_app):
        event = envelope("output.generated", {
            "output_id": f"out-{factory.__name__}", "tool_id": "sepsis-watch", "model_version": "3.2.0",
            "site": "northside", "unit": "icu", "population": "adults_18_plus", "patient_ref": PATIENT,
            "encounter_ref": "Encounter/E-2", "score": 0.9, "label": "high", "priority": "urgent",
            "threshold_in_effect": 0.7,
        })  # fmt: skip
        with TestClient(factory()) as client:
            assert client.post("/v1/events", json=event, headers=bearer(keys.admin)).status_code == 201
        with Ledger(env_settings(store_url)) as ledger:
            record = ledger.get(str(event["event_id"]))
            assert record is not None
            stored.append(PATIENT.encode() in record.body)
    assert stored == [True, False]
    assert "create_app_without_sealing" not in Path(serve.__file__).read_text("utf-8")


def test_a_data_key_under_a_master_key_the_server_lacks_is_a_500_for_the_operator_not_an_integrity_alarm(
    client: TestClient, keys: Keys, generated: dict, store_url: str
) -> None:
    served = LocalMasterKey(base64.b64decode(os.environ["LEDGER_MASTER_KEY"]))
    other = LocalMasterKey(bytes(range(32)))
    settings = env_settings(store_url)
    with Ledger(settings, master_key=other, previous_master_keys=[served]) as elsewhere:  # wraps new keys under other
        event = envelope("output.generated", {**generated["data"], "output_id": "out-priv-2",  # type: ignore[dict-item]
                                              "patient_ref": "Patient/API-PRIV-2"})  # fmt: skip
        elsewhere.submit([event])
    answer = client.get(f"/v1/events/{event['event_id']}/revealed", params={"purpose": "incident_review"},
                        headers=bearer(keys.reader))  # fmt: skip
    assert answer.status_code == 500 and answer.json()["code"] == "key_not_configured"
    assert "API-PRIV-2" not in answer.text


def test_the_servers_hold_index_stays_current_as_a_held_incident_names_more_patients(
    client: TestClient, keys: Keys
) -> None:
    def incident(patient: str) -> dict[str, object]:
        return envelope("incident.reported", {
            "incident_id": "INC-API-H", "category": "false_negative", "output_ids": ["out-h"], "patient_ref": patient,
            "harm": "moderate_harm", "aware_at": "2026-04-09T11:30:00Z", "description": "found late",
        })  # fmt: skip

    hold = envelope("legal_hold.placed", {"hold_id": "HOLD-API-H", "incident_id": "INC-API-H", "authority": "c"})
    with Ledger(env_settings(client.app.state.settings.database_url)) as ledger:  # type: ignore[attr-defined]
        ledger.submit([hold])  # the ledger's own operation (``ledger legal-hold place``)
    assert client.post("/v1/events", json=incident("Patient/API-H-1"), headers=bearer(keys.admin)).status_code == 201
    request = {"subject": "patient:Patient/API-H-1", "legal_basis": "gdpr_art17"}
    first = client.post("/v1/subjects/erase", json=request, headers=bearer(keys.admin))
    assert first.status_code == 409 and "HOLD-API-H" in first.text

    assert client.post("/v1/events", json=incident("Patient/API-H-2"), headers=bearer(keys.admin)).status_code == 201
    request = {"subject": "patient:Patient/API-H-2", "legal_basis": "gdpr_art17"}
    second = client.post("/v1/subjects/erase", json=request, headers=bearer(keys.admin))
    assert second.status_code == 409 and "HOLD-API-H" in second.text and "API-H-2" not in second.text
