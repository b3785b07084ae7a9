"""The forgeries an emitter key could make of the ledger's control facts, each refused over the API.

Before the control-plane rule (ledger.catalogue.control), an emitter key could
append a hold's release, a hold, an erasure under its derived event_id, a key
activation or an access record, and the ledger acted on them. Each is now a 403
naming the field, the log's head does not move, and the ledger's own operation
(here the admin's erasure) behaves as if the forgery had never been tried.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.erasure import erasure_event
from ledger.store import Ledger
from tests.api.conftest import EMITTER_SOURCE, Keys, bearer
from tests.factories import envelope
from tests.ledgers import env_settings

PATIENT = "Patient/FORGE-1"
ACTOR = {"id": "attacker", "role": "integration_engine", "kind": "system"}


@pytest.fixture
def token(client: TestClient, keys: Keys, store_url: str) -> str:
    event = envelope("output.generated", {
        "output_id": "out-forge-1", "tool_id": "sepsis-watch", "model_version": "3.2.0", "site": "northside",
        "unit": "icu", "population": "adults_18_plus", "patient_ref": PATIENT, "encounter_ref": "Encounter/F-1",
        "score": 0.9, "label": "high", "priority": "urgent", "threshold_in_effect": 0.7,
    })  # fmt: skip
    assert client.post("/v1/events", json=event, headers=bearer(keys.emitter)).status_code == 201
    with Ledger(env_settings(store_url)) as ledger:
        return ledger.keys.token(f"patient:{PATIENT}")


def _head(store_url: str) -> int:
    with Ledger(env_settings(store_url)) as ledger:
        return ledger.head_seq()


def _forge(client: TestClient, key: str, event_type: str, data: dict[str, Any], **overrides: Any) -> Any:
    event = envelope(event_type, data, source=EMITTER_SOURCE, actor=ACTOR) | overrides
    return client.post("/v1/events", json=event, headers=bearer(key))


def _erase(client: TestClient, keys: Keys) -> Any:
    request = {"subject": f"patient:{PATIENT}", "legal_basis": "gdpr_art17"}
    return client.post("/v1/subjects/erase", json=request, headers=bearer(keys.admin))


def _refused(response: Any, field: str) -> bool:
    return response.status_code == 403 and response.json()["message"].startswith(f"{field}: ")


def test_an_emitter_cannot_release_counsels_hold_and_the_erasure_stays_refused(
    client: TestClient, keys: Keys, store_url: str, token: str
) -> None:
    with Ledger(env_settings(store_url)) as ledger:  # counsel's hold, placed by the ledger's own operation
        ledger.submit([envelope("legal_hold.placed", {"hold_id": "HOLD-F1", "subject": token, "authority": "c"})])
    head = _head(store_url)
    forged = _forge(client, keys.emitter, "legal_hold.released", {"hold_id": "HOLD-F1", "authority": "c"})
    assert _refused(forged, "type") and "HOLD-F1" not in forged.text
    assert _head(store_url) == head
    refused = _erase(client, keys)
    assert refused.status_code == 409 and "HOLD-F1" in refused.text


def test_an_emitter_cannot_place_a_hold_that_blocks_a_lawful_erasure(
    client: TestClient, keys: Keys, store_url: str, token: str
) -> None:
    head = _head(store_url)
    forged = _forge(client, keys.emitter, "legal_hold.placed", {"hold_id": "H-F2", "subject": token, "authority": "c"})
    assert _refused(forged, "type") and token not in forged.text
    assert _head(store_url) == head
    erased = _erase(client, keys)
    assert erased.status_code == 200 and erased.json()["key_destroyed"]


def test_an_emitter_cannot_record_an_erasure_that_the_real_one_would_finish(
    client: TestClient, keys: Keys, store_url: str, token: str
) -> None:
    forged_event = erasure_event(token, kind="patient", legal_basis="gdpr_art17", actor=ACTOR)
    head = _head(store_url)
    for source in (EMITTER_SOURCE, "ledger"):
        forged = client.post("/v1/events", json={**forged_event, "source": source}, headers=bearer(keys.emitter))
        assert _refused(forged, "type") and forged_event["event_id"] not in forged.text
    assert _head(store_url) == head
    erased = _erase(client, keys)
    assert erased.status_code == 200 and erased.json()["key_destroyed"] and not erased.json()["resumed"]
    with Ledger(env_settings(store_url)) as ledger:
        recorded = ledger.get(forged_event["event_id"])
        assert recorded is not None and b'"source":"ledger"' in recorded.body and b"attacker" not in recorded.body


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("ledger.signing_key_retired", {"key_name": "ledger.x.example", "key_id": "0a0b0c0d"}),
        ("ledger.master_key_rotated", {"old_key_id": "k1", "new_key_id": "k2", "keys_rewrapped": 0}),
        ("access.recorded", {"reader": "k", "reader_role": "reader", "purpose": "treatment",
                             "event_ids": ["6f1c2b7e-3d4a-4c8e-9a10-000000000009"], "fields": ["patient_ref"]}),
    ],
)  # fmt: skip
def test_an_admin_key_cannot_append_the_ledgers_key_or_access_events_either(
    client: TestClient, keys: Keys, store_url: str, event_type: str, data: dict[str, Any]
) -> None:
    head = _head(store_url)
    assert _refused(_forge(client, keys.admin, event_type, data), "type")
    assert _refused(_forge(client, keys.admin, event_type, data, source="ledger"), "type")
    assert _head(store_url) == head


def test_a_reveal_is_recorded_under_the_ledgers_own_source(client: TestClient, keys: Keys, token: str) -> None:
    del token
    with Ledger(env_settings(client.app.state.settings.database_url)) as ledger:  # type: ignore[attr-defined]
        event_id = ledger.read(limit=1)[0].event_id
    answer = client.get(f"/v1/events/{event_id}/revealed", params={"purpose": "incident_review"},
                        headers=bearer(keys.reader))  # fmt: skip
    assert answer.status_code == 200
    with Ledger(env_settings(client.app.state.settings.database_url)) as ledger:  # type: ignore[attr-defined]
        access = ledger.read(after_seq=answer.json()["access_seq"] - 1, limit=1)[0]
    assert access.type == "access.recorded" and b'"source":"ledger"' in access.body


@pytest.mark.parametrize("bad_type", [["legal_hold.placed"], {"t": 1}, 7, None])
def test_a_type_that_is_not_a_string_is_a_422_not_a_500(client: TestClient, keys: Keys, bad_type: object) -> None:
    event = envelope("legal_hold.placed", {}, source=EMITTER_SOURCE) | {"type": bad_type}
    response = client.post("/v1/events", json=event, headers=bearer(keys.emitter))
    assert response.status_code == 422
    batch = client.post("/v1/events/batch", json={"events": [event]}, headers=bearer(keys.emitter))
    assert batch.status_code == 422
