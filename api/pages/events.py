"""One event, as the log holds it: its fields (sensitive ones sealed), canonical bytes, seq, hashes and its
inclusion proof against the latest signed checkpoint; a reader or admin may reveal the sensitive fields for a
purpose, the read recorded first (api.routes.privacy's reveal). And the raw log, for auditors.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import StoreDep
from api.pages.access import AuditorPage, PageError, ReaderPage, RevealPage
from api.pages.render import page
from api.pages.session import FORM_TOKEN_FIELD, Sessions
from api.routes.privacy import PURPOSE, reveal_record
from api.runtime import Store
from ledger.proof import merkle
from ledger.proof.checkpoint import MAX_SIZE
from ledger.store import Record

router = APIRouter(include_in_schema=False)

Seq = Annotated[int, Path(ge=1, le=MAX_SIZE)]
PURPOSES: Final = ("incident_review", "legal_claim", "regulatory_report", "quality_improvement")
LOG_PAGE: Final = 100


def _record(store: Store, seq: int) -> Record:
    found = store.ledger.read(after_seq=seq - 1, limit=1)
    if not found or found[0].seq != seq:
        raise PageError(404, "No event with this seq is in the log.")
    return found[0]


def _proof(store: Store, record: Record) -> dict[str, Any] | None:
    """The record's inclusion proof in the latest checkpoint's tree; None if no checkpoint covers it yet."""
    latest = store.ledger.latest_checkpoint()
    if latest is None or latest.size < record.seq:
        return None
    path = merkle.inclusion_proof(index=record.seq - 1, size=latest.size, reader=store.ledger)
    return {
        "tree_size": latest.size,
        "leaf_index": record.seq - 1,
        "leaf_hash": merkle.leaf_hash(record.entry).hex(),
        "path": [node.hex() for node in path],
        "root": latest.root.hex(),
        "note": latest.note,
    }


def _context(store: Store, record: Record, revealed: dict[str, Any] | None) -> dict[str, Any]:
    sealed = store.ledger.open(record, reveal=False)
    event = revealed["event"] if revealed else sealed.envelope
    return {
        "title": f"Event {record.seq}",
        "record": record,
        "event": event,
        "event_json": orjson.dumps(event, option=orjson.OPT_INDENT_2).decode(),
        "data": [(name, _shown(value)) for name, value in sorted((event.get("data") or {}).items())],
        "canonical": record.body.decode("utf-8", errors="replace"),
        "sealed_fields": sorted(sealed.subjects) or _sealed_paths(sealed.envelope),
        "revealed": revealed,
        "proof": _proof(store, record),
        "purposes": PURPOSES,
    }


def _shown(value: Any) -> str:
    """A field's value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _sealed_paths(envelope: dict[str, Any]) -> list[str]:
    data = envelope.get("data") or {}
    return sorted(f"data.{name}" for name, value in data.items() if value in ("[sealed]", "[erased]"))


@router.get("/events/{seq}")
def event_page(request: Request, viewer: ReaderPage, store: StoreDep, seq: Seq) -> Response:
    """The event at ``seq``, sensitive fields sealed."""
    record = _record(store, seq)
    return page(request, "event.html", _context(store, record, None), viewer=viewer)


@router.post("/events/{seq}/reveal")
def reveal(
    request: Request,
    viewer: RevealPage,
    store: StoreDep,
    seq: Seq,
    purpose: Annotated[str, Form(pattern=PURPOSE)],
    form_token: Annotated[str, Form(alias=FORM_TOKEN_FIELD, max_length=1000)] = "",
) -> Response:
    """The event with its sensitive fields opened, for ``purpose``; the read is recorded before it is shown."""
    sessions: Sessions = request.app.state.pages.sessions()
    problem = sessions.form_problem(request, form_token, viewer.session)
    if problem is not None:
        raise PageError(403, problem)
    record = _record(store, seq)
    revealed = reveal_record(store, record, viewer.key, purpose)
    request.state.log_fields.update(seq=record.seq, revealed=len(revealed["revealed"]))
    return page(request, "event.html", _context(store, record, revealed), viewer=viewer)


@router.get("/log")
async def log_page(
    request: Request,
    viewer: AuditorPage,
    store: StoreDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SIZE)] = 0,
) -> Response:
    """The raw log, a hundred records a page: seq, type, recording time, hash (auditor, admin)."""
    records = await run_in_threadpool(store.ledger.read, after_seq=after_seq, limit=LOG_PAGE)
    head = await run_in_threadpool(store.ledger.head_seq)
    later = records[-1].seq if records and records[-1].seq < head else None
    context = {"title": "The log", "records": records, "head": head, "after_seq": after_seq, "later": later}
    return page(request, "log.html", context, viewer=viewer)
