"""Privacy: reveal sensitive fields for a stated purpose (and record the read), erase a subject.

Minimum necessary: the raw log and the views never show sealed fields. A
``reader`` (legal and risk) or ``admin`` may reveal one event's sensitive fields
for a purpose; the read is appended to the log as ``access.recorded`` before the
answer is sent. Only an ``admin`` may erase.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.body import StrictJsonRoute
from api.deps import StoreDep
from api.errors import NotFound, documented
from api.runtime import Store
from ledger.apikeys import ApiKey, Role
from ledger.catalogue import RESERVED_SOURCE
from ledger.erasure import erase
from ledger.store import Record

router = APIRouter(tags=["privacy"], route_class=StrictJsonRoute)  # a repeated body key is refused

RevealKey = Annotated[ApiKey, Depends(require(Role.READER))]
AdminKey = Annotated[ApiKey, Depends(require())]
PURPOSE = r"^[a-z][a-z0-9_]{2,63}$"


class Revealed(BaseModel):
    """An event with its sealed fields opened (``[erased]`` where the subject was erased)."""

    event: dict[str, Any] = Field(description="The event envelope, sensitive fields in clear.")
    revealed: list[str] = Field(description="The sensitive fields shown.")
    erased: list[str] = Field(description="Sensitive fields whose subject was erased.")
    access_seq: int | None = Field(description="The seq of the access.recorded event logging this read.")


class ErasureRequest(BaseModel):
    """Which subject to erase, and why."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        min_length=3, max_length=250, pattern=r"^(patient|clinician|person|incident|remediation|tool|event|token):.+$",
        description="KIND:ID, e.g. patient:Patient/123, or token:<32 hex> from a retention report.",
    )  # fmt: skip
    legal_basis: str = Field(pattern=PURPOSE, description="e.g. gdpr_art17, retention_policy")
    request_ref: str | None = Field(default=None, max_length=200, pattern=r"^[A-Za-z0-9._:/-]+$")
    dry_run: bool = False


class ErasureOut(BaseModel):
    """What the erasure did."""

    subject: str = Field(description="The subject's keyed token (never the clear identifier).")
    seq: int | None = Field(
        description="The seq of the subject.erased event (None for a dry run that would record it)."
    )
    key_destroyed: bool
    dry_run: bool
    resumed: bool = Field(
        default=False,
        description="An earlier request recorded this erasure and stopped before destroying the key; "
        "this one finishes it under the recorded event.",
    )


@router.get(
    "/v1/events/{event_id}/revealed",
    response_model=Revealed,
    summary="Reveal an event's sensitive fields, for a purpose (the read is logged)",
    responses=documented(401, 403, 404, 422, 503),
)
def reveal(
    key: RevealKey,
    store: StoreDep,
    request: Request,
    event_id: Annotated[uuid.UUID, Path()],
    purpose: Annotated[str, Query(pattern=PURPOSE, description="Why, e.g. incident_review.")],
) -> dict[str, Any]:
    """Open the event's sealed fields and append ``access.recorded`` (who, role, purpose, fields)."""
    record = store.ledger.get(event_id)
    if record is None:
        raise NotFound("no event with that event_id")
    revealed = reveal_record(store, record, key, purpose)
    request.state.log_fields.update(seq=record.seq, revealed=len(revealed["revealed"]))
    return revealed


def reveal_record(store: Store, record: Record, key: ApiKey, purpose: str) -> dict[str, Any]:
    """The record with its sealed fields opened, once ``access.recorded`` (who, role, purpose, fields) is
    appended for them; this route's answer, and the event page's."""
    opened = store.ledger.open(record)
    fields = sorted(opened.subjects)
    access_seq = None
    if fields:
        access = {
            "event_id": str(uuid.uuid4()),
            "type": "access.recorded",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": RESERVED_SOURCE,
            "actor": {"id": key.key_id, "role": str(key.role), "kind": "person"},
            "data": {"reader": key.key_id, "reader_role": str(key.role), "purpose": purpose,
                     "event_ids": [record.event_id], "fields": fields},
        }  # fmt: skip
        access_seq = store.ledger.submit([access])[0].seq
    return {"event": opened.envelope, "revealed": fields, "erased": opened.erased, "access_seq": access_seq}


@router.post(
    "/v1/subjects/erase",
    response_model=ErasureOut,
    summary="Crypto-shred a subject (admin): refused under a legal hold",
    responses=documented(401, 403, 409, 422, 503),
)
def erase_subject(key: AdminKey, store: StoreDep, request: Request, body: ErasureRequest) -> dict[str, Any]:
    """Destroy the subject's data key and record ``subject.erased``; 409 while a legal hold covers it."""
    actor = {"id": key.key_id, "role": "admin", "kind": "person"}
    done = erase(store.ledger, subject=body.subject, legal_basis=body.legal_basis, actor=actor,
                 request_ref=body.request_ref, dry_run=body.dry_run, holds=store.holds)  # fmt: skip
    request.state.log_fields.update(erased=not body.dry_run)
    seq = done.seq or None
    return {"subject": done.token, "seq": seq, "key_destroyed": done.key_destroyed, "dry_run": body.dry_run,
            "resumed": done.resumed}  # fmt: skip
