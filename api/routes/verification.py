"""What a reader's browser needs to verify an incident page itself: the proofs of its events and the published keys.

``GET /v1/incidents/{incident_id}/proofs`` gives, for every event the incident's
pages show (each seq named by its timeline or its accountability report), the
entry's bytes (sealed fields stay sealed, as stored), the RFC 9162 inclusion path
of leaf ``seq - 1`` in the tree of the latest signed checkpoint, and that
checkpoint's signed note. The browser (``api/pages/static/verify.js``) recomputes
each leaf from the entry, opens the note with the key its reader pinned and
checks every path against the signed root: nothing here is taken on trust, and
nothing is checked here. An event recorded after the latest checkpoint has no
proof yet (``proof`` null) until the next one is signed (``checkpoint_interval_s``).

``GET /v1/verifier-keys`` gives any key holder the verifier key of every
checkpoint-signing key ever active, one a line: the ``--trusted-keys`` file of
``ledger verify``, as the hospital publishes it.
A reader compares the key they pinned with it; pinning it from here alone would
trust the server the proofs are meant not to need.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.checkpoints import Signer
from api.deps import Caller, ReaderKey, StoreDep
from api.errors import NotFound, documented
from api.routes.proofs import SignerDep
from api.routes.queries import WorkerDep, views_at
from ledger.catalogue.fields import IDENTIFIER_MAX, IDENTIFIER_PATTERN
from ledger.errors import InputError, StoreUnavailable
from ledger.proof import merkle
from ledger.store import Ledger, Record
from ledger.store.records import StoredCheckpoint
from projections import queries
from projections.answers import to_json
from projections.errors import NotFound as ViewNotFound
from projections.errors import ProjectionError
from projections.worker import ProjectionWorker

router = APIRouter(tags=["proofs"])

IncidentId = Annotated[
    str,
    Path(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN, description="The incident_id."),
]


class EventProof(BaseModel):
    """One event's entry and its inclusion path in the checkpoint's tree (null if the checkpoint predates it)."""

    seq: int = Field(ge=1)
    event_id: str
    entry: str = Field(description="base64 of u64be(seq) || i64be(recorded_us) || canonical bytes: the leaf data.")
    leaf_hash: str = Field(description="SHA-256(0x00 || entry), hexadecimal: recompute it rather than trust it.")
    proof: list[str] | None = Field(description="The RFC 9162 inclusion path of leaf seq - 1, hexadecimal hashes.")


class IncidentProofs(BaseModel):
    """The proofs of an incident's events against one signed checkpoint."""

    incident_id: str
    checkpoint: str | None = Field(description="The latest signed checkpoint (C2SP signed note); null if none yet.")
    tree_size: int | None = Field(description="The checkpoint's tree size, as its note says.")
    events: list[EventProof] = Field(description="In seq order.")


@router.get(
    "/v1/incidents/{incident_id}/proofs",
    response_model=IncidentProofs,
    summary="Inclusion proofs of an incident's events, for verifying in the browser",
    responses={**documented(401, 403, 404, 422, 503)},
)
def incident_proofs(
    incident_id: IncidentId, key: ReaderKey, store: StoreDep, worker: WorkerDep, request: Request
) -> dict[str, Any]:
    """Every event the incident's timeline and accountability report name, with its entry's bytes and its
    inclusion path against the latest signed checkpoint, and that checkpoint's signed note."""
    answer = proofs_of_incident(store.ledger, worker, incident_id)
    request.state.log_fields.update(records=len(answer["events"]))
    return answer


def proofs_of_incident(ledger: Ledger, worker: ProjectionWorker, incident_id: str) -> dict[str, Any]:
    """The answer of ``/v1/incidents/{incident_id}/proofs`` (the pages serve it too); NotFound for no such incident."""
    shown = _shown_seqs(worker, incident_id)
    latest = ledger.latest_checkpoint()
    return {
        "incident_id": incident_id,
        "checkpoint": None if latest is None else latest.note,
        "tree_size": None if latest is None else latest.size,
        "events": [_event_proof(ledger, _record(ledger, seq), latest) for seq in sorted(shown)],
    }


@router.get(
    "/v1/verifier-keys",
    response_class=Response,
    summary="The published verifier keys of the checkpoint signers",
    responses={
        200: {
            "description": "One verifier key a line (name+keyid+base64), every signing key ever active.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **documented(401),
        404: {**documented(404)[404], "description": "No checkpoint-signing key has been generated yet."},
    },
)
def verifier_keys(key: Caller, signer: SignerDep) -> PlainTextResponse:
    """What a reader compares the key they pinned with, and an auditor's `--trusted-keys` file. Public keys only."""
    keys = published_keys(signer)
    if not keys:
        raise NotFound("no checkpoint-signing key has been generated yet")
    return PlainTextResponse("".join(f"{line}\n" for line in keys))


def published_keys(signer: Signer) -> list[str]:
    """The verifier key of every checkpoint-signing key ever active; none before the first is generated."""
    try:
        return signer.verifier_keys()
    except InputError:
        return []


def _shown_seqs(worker: ProjectionWorker, incident_id: str) -> set[int]:
    """Every seq the incident's timeline and accountability report rest on (404 if there is no such incident)."""
    views = views_at(worker, None)
    try:
        shown = [queries.incident_timeline(views, incident_id), queries.accountability_report(views, incident_id)]
    except ViewNotFound as exc:
        raise NotFound(str(exc)) from None
    except ProjectionError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return set(_seqs(to_json(shown)))


def _seqs(value: Any) -> Iterator[int]:
    """The seq of every evidence item (an object with a seq and an event_id) anywhere in an answer."""
    if isinstance(value, dict):
        if isinstance(value.get("seq"), int) and "event_id" in value:
            yield value["seq"]
        for item in value.values():
            yield from _seqs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _seqs(item)


def _record(ledger: Ledger, seq: int) -> Record:
    found = ledger.read(after_seq=seq - 1, limit=1)
    if not found or found[0].seq != seq:
        raise NotFound("an event the incident names is not in the log")
    return found[0]


def _event_proof(ledger: Ledger, record: Record, latest: StoredCheckpoint | None) -> dict[str, Any]:
    proof = None
    if latest is not None and record.seq <= latest.size:
        proof = merkle.inclusion_proof(index=record.seq - 1, size=latest.size, reader=ledger)
    entry = record.entry
    return {
        "seq": record.seq,
        "event_id": record.event_id,
        "entry": base64.b64encode(entry).decode("ascii"),
        "leaf_hash": merkle.leaf_hash(entry).hex(),
        "proof": None if proof is None else [node.hex() for node in proof],
    }
