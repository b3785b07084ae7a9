"""A 403 for an emitter whose key is bound to another source names the field at fault: the event's source."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Keys, bearer
from tests.factories import many_shown, shown

MESSAGE = "source: this key may only append or read events of the source bound to it, lis.cerner"


def test_an_append_for_another_source_is_refused_naming_the_source_field(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/events", json=shown(), headers=bearer(keys.other_emitter))
    assert response.status_code == 403
    assert response.json()["message"] == MESSAGE


def test_a_batch_refusal_names_the_event_s_index_and_its_source_field(client: TestClient, keys: Keys) -> None:
    events = many_shown(3)
    response = client.post("/v1/events/batch", json={"events": events}, headers=bearer(keys.other_emitter))
    assert response.status_code == 403
    assert response.json()["message"] == f"event 0: {MESSAGE}"
