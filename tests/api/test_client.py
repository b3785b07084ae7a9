"""The emitters' client: typed helpers, batches, receipts, and retries that resend the same event_id."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from ledger.catalogue import CONTROL_TYPES, EVENT_TYPES
from ledger.catalogue.outputs import OutputShown
from ledger.client.http import EventRejected, LedgerClient
from ledger.client.receipts import Receipt
from tests.api.conftest import EMITTER_SOURCE, Keys
from tests.factories import ACTOR

SHOWN = {"output_id": "out-9", "clinician_id": "clin-1", "surface": "ed_board", "shown_at": "2026-04-08T02:14:58Z"}


def _client(http: httpx.Client, token: str, **kwargs: object) -> LedgerClient:
    return LedgerClient("http://testserver", token, source=EMITTER_SOURCE, actor=ACTOR, http=http, **kwargs)  # type: ignore[arg-type]


def test_every_catalogue_type_but_the_ledgers_own_control_types_has_a_typed_helper() -> None:
    helpers = {t for t in EVENT_TYPES if callable(getattr(LedgerClient, t.replace(".", "_"), None))}
    assert helpers == set(EVENT_TYPES) - CONTROL_TYPES


def test_a_typed_helper_appends_and_returns_the_receipt(client: TestClient, keys: Keys) -> None:
    ledger = _client(client, keys.emitter)
    receipt = ledger.output_shown(OutputShown.model_validate(SHOWN))
    assert isinstance(receipt, Receipt) and receipt.created and receipt.seq == 1
    again = ledger.output_shown(SHOWN, event_id=receipt.event_id, occurred_at=_occurred(client, keys, receipt))
    assert not again.created and again.seq == 1


def _occurred(client: TestClient, keys: Keys, receipt: Receipt) -> str:
    import base64
    import json

    record = _client(client, keys.admin).get_event(receipt.event_id)
    return str(json.loads(base64.b64decode(record["body"]))["occurred_at"])


def test_a_batch_block_sends_its_events_at_the_end(client: TestClient, keys: Keys) -> None:
    ledger = _client(client, keys.emitter)
    with ledger.batch() as batch:
        ids = [batch.emit("output.shown", {**SHOWN, "output_id": f"out-{i}"}) for i in range(5)]
    assert [r.event_id for r in batch.receipts] == ids
    assert [r.seq for r in batch.receipts] == [1, 2, 3, 4, 5]


def test_a_rejected_event_raises_with_the_fields_named(client: TestClient, keys: Keys) -> None:
    with pytest.raises(EventRejected, match=r"data.surface: field required") as caught:
        _client(client, keys.emitter).emit("output.shown", {k: v for k, v in SHOWN.items() if k != "surface"})
    assert caught.value.status == 422


def test_retries_resend_the_same_event_id_until_the_ledger_answers() -> None:
    bodies: list[bytes] = []
    receipt = {"event_id": "x", "seq": 7, "leaf_index": 6, "hash": "a" * 64, "prev_hash": "b" * 64, "recorded_at": "t"}

    def flaky(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(bodies) == 2:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"code": "store_unavailable"})
        return httpx.Response(200, json=receipt)

    http = httpx.Client(base_url="http://ledger", transport=httpx.MockTransport(flaky))
    result = _client(http, "lk_x", backoff=0.001).emit("output.shown", SHOWN)
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert result.seq == 7 and not result.created
