"""CDS Hooks feedback: ``POST /cds-services/{service_id}/feedback`` (CDS Hooks 2.0) recorded as ``output.acted``.

The client authenticates with a JWT signed by its own key (api.interop.cdsauth);
its issuer's registration gives the source the events are recorded under. Every
feedback entry of a request is recorded, or (on any refusal) none; the same
feedback again appends nothing (api.interop.cdshooks says what maps to what).
"""

from __future__ import annotations

from typing import Annotated, Final

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import check_emitted
from api.body import read_json
from api.deps import SettingsDep, StoreDep
from api.errors import ApiError, BatchConflict, Forbidden, NotFound, Unauthorized, documented
from api.interop import cdsauth, cdshooks
from api.settings import Settings
from ledger.catalogue import Event
from ledger.catalogue.fields import IDENTIFIER_MAX, IDENTIFIER_PATTERN
from ledger.errors import EventConflict

router = APIRouter(tags=["cds-hooks"])

_BEARER: Final = HTTPBearer(auto_error=False, description="A JWT signed by the CDS client's key (CDS Hooks 2.0).")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
ServiceId = Annotated[str, Path(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN)]


class CdsRegistryInvalid(ApiError):
    """The server's CDS clients file cannot be read: the operator's to fix."""

    status = 500
    code = "cds_registry_invalid"


def _refusal(exc: cdsauth.CdsAuthError) -> ApiError:
    if exc.status == 403:
        return Forbidden(str(exc))
    if exc.status == 404:
        return NotFound(str(exc))
    return Unauthorized(str(exc))


def client_source(request: Request, credentials: Credentials, settings: Settings, service_id: str) -> tuple[str, str]:
    """(client name, source) of an authenticated, authorised feedback request; 401, 403 or 404 naming the claim."""
    if credentials is None:
        raise Unauthorized("Authorization: a Bearer JWT signed by the CDS client's key is required")
    try:
        registry = cdsauth.load_registry(settings.cds_clients_file)
    except cdsauth.RegistryError as exc:
        raise CdsRegistryInvalid(str(exc)) from None
    audiences = registry.audiences(service_id, request_base=str(request.base_url))
    try:
        client = cdsauth.authenticate(credentials.credentials, registry=registry, audiences=audiences)
        return client.name, cdsauth.authorize(client, registry=registry, service_id=service_id)
    except cdsauth.CdsAuthError as exc:
        raise _refusal(exc) from None


def feedback_events(raw: object, *, source: str, service_id: str, client: str) -> list[Event]:
    """The request's feedback as output.acted events the emitters' routes would accept."""
    events = cdshooks.to_events(raw, source=source, service_id=service_id, client=client)
    for index, event in enumerate(events):
        check_emitted(event.to_canonical_dict(), index=index)
    return events


@router.post(
    "/cds-services/{service_id}/feedback",
    summary="CDS Hooks feedback (accepted / overridden) recorded as output.acted",
    responses={200: {"description": "Recorded (or already recorded): one receipt per feedback entry."},
               **documented(401, 403, 404, 409, 413, 415, 422, 503)},
)  # fmt: skip
async def feedback(
    request: Request, service_id: ServiceId, credentials: Credentials, store: StoreDep, settings: SettingsDep
) -> Response:
    """Each feedback entry (``card``, ``outcome``, ``overrideReason``, ``outcomeTimestamp``) becomes output.acted
    for the output recorded under the card's uuid, under the source the client's issuer is bound to."""
    client, source = client_source(request, credentials, settings, service_id)
    raw = await read_json(request, limit=settings.max_batch_bytes)
    events = feedback_events(raw, source=source, service_id=service_id, client=client)
    request.state.log_fields.update(count=len(events), event_ids=[e.event_id for e in events])
    try:
        receipts = await run_in_threadpool(store.ledger.append_batch, events)
    except EventConflict as exc:
        index = next((i for i, e in enumerate(events) if e.event_id == exc.event_id), 0)
        raise BatchConflict(exc, index=index) from None
    request.state.log_fields.update(seqs=[r.seq for r in receipts], created=sum(r.created for r in receipts))
    return Response(orjson.dumps({"receipts": [r.to_json() for r in receipts]}), media_type="application/json")
