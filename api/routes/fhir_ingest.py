"""FHIR AuditEvent ingestion: an EHR's audit repository POSTs BALP read events, recorded as ``output.shown``.

    POST /fhir/AuditEvent   one AuditEvent (R4/R4B or R5)
    POST /fhir              a batch (or transaction) Bundle of up to 100 AuditEvents, recorded all or nothing

The source is the emitter key's bound source; the mapping is api.interop.auditevent.
Errors are OperationOutcomes naming the element (api.errors renders them on /fhir);
nothing is written by a refused request. The same AuditEvent (id or identifier)
again answers 200 and appends nothing; another body under the same id that maps
to another fact is a 409.
"""

from __future__ import annotations

from typing import Final

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import check_emitted
from api.body import read_json
from api.deps import EmitterKey, SettingsDep, StoreDep
from api.errors import BatchConflict, Forbidden, InvalidEvents, documented
from api.interop import auditevent
from api.interop.outcome import (
    BUNDLE_SCHEMA,
    FHIR_JSON,
    OUTCOME_SCHEMA,
    FhirResponse,
    as_outcomes,
    fhir_content,
    information,
)
from api.routes.events import commit_one, location
from ledger.apikeys import ApiKey
from ledger.catalogue import Event
from ledger.errors import EventConflict, InvalidEvent

router = APIRouter(tags=["fhir"])

MAX_BUNDLE_ENTRIES: Final = 100
_RESPONSES = as_outcomes(documented(401, 403, 409, 413, 415, 422, 503))


def source_of(key: ApiKey) -> str:
    """The source the FHIR routes record under: the emitter key's own (403 for a key bound to none)."""
    if key.source is None:
        raise Forbidden("source: FHIR ingestion records under the source bound to an emitter key; this key has none")
    return key.source


def mapped(raw: object, *, source: str, root: str = "AuditEvent") -> Event:
    """One AuditEvent as an event the emitters' routes accept (never a control type or the reserved source)."""
    event = auditevent.to_event(raw, source=source, root=root)
    check_emitted(event.to_canonical_dict())
    return event


@router.post(
    "/fhir/AuditEvent",
    status_code=201,
    summary="Record a FHIR AuditEvent (IHE BALP read of an AI output) as output.shown",
    response_class=FhirResponse,
    responses={
        201: fhir_content(OUTCOME_SCHEMA, "Recorded: an informational OperationOutcome naming the seq and hash."),
        200: fhir_content(OUTCOME_SCHEMA, "The same AuditEvent again: already recorded, nothing appended."),
        **_RESPONSES,
    },
)
async def create_audit_event(request: Request, key: EmitterKey, store: StoreDep, settings: SettingsDep) -> Response:
    """One AuditEvent, R4 or R5: a read of an AI output by a user becomes ``output.shown``. 201 with
    ``Location`` (the ledger event); 200 for the same AuditEvent again; 409 for another fact under its id."""
    source = source_of(key)
    event = mapped(await read_json(request, limit=settings.max_event_bytes), source=source)
    request.state.log_fields.update(event_id=event.event_id, type=event.type)
    receipt = await commit_one(store, event, timeout=settings.append_timeout_s)
    request.state.log_fields.update(seq=receipt.seq, created=receipt.created)
    body = information(f"recorded as output.shown at seq {receipt.seq}, hash {receipt.hash.hex()}")
    return Response(
        orjson.dumps(body),
        status_code=201 if receipt.created else 200,
        media_type=FHIR_JSON,
        headers={"Location": location(receipt)},
    )


def mapped_batch(raw: object, *, source: str) -> list[Event]:
    """Every AuditEvent of a Bundle mapped, or InvalidEvents naming each element at fault (nothing recorded)."""
    events, failures = [], []
    for root, resource in auditevent.batch_entries(raw, limit=MAX_BUNDLE_ENTRIES):
        try:
            events.append(mapped(resource, source=source, root=root))
        except InvalidEvent as exc:
            failures.append(exc)
    if failures:
        raise InvalidEvents(failures)
    return events


@router.post(
    "/fhir",
    summary="Record a batch Bundle of up to 100 FHIR AuditEvents, all or nothing",
    response_class=FhirResponse,
    responses={
        200: fhir_content(BUNDLE_SCHEMA, "A batch-response Bundle: an entry per AuditEvent, in order."),
        **_RESPONSES,
    },
)
async def batch(request: Request, key: EmitterKey, store: StoreDep, settings: SettingsDep) -> Response:
    """A ``batch`` (or ``transaction``) Bundle of AuditEvents: all recorded, or (on any refusal) none.
    Answers a ``batch-response`` Bundle whose entries say 201 (new) or 200 (already recorded) and where."""
    source = source_of(key)
    raw = await read_json(request, limit=settings.max_batch_bytes)
    events = await run_in_threadpool(mapped_batch, raw, source=source)
    request.state.log_fields.update(count=len(events))
    try:
        receipts = await run_in_threadpool(store.ledger.append_batch, events)
    except EventConflict as exc:
        index = next((i for i, e in enumerate(events) if e.event_id == exc.event_id), 0)
        raise BatchConflict(exc, index=index) from None
    request.state.log_fields.update(seqs=[r.seq for r in receipts], created=sum(r.created for r in receipts))
    entries = [
        {"response": {"status": "201 Created" if r.created else "200 OK", "location": location(r)}} for r in receipts
    ]
    body = {"resourceType": "Bundle", "type": "batch-response", "entry": entries}
    return Response(orjson.dumps(body), media_type=FHIR_JSON)
