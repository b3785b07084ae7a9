"""The incidents: the list (filtered, counted, overdue and gapped first) and one incident, with its downloads.

Every page asks the projections' queries what the JSON API asks
(``projections.queries``), through the same worker (api.routes.queries).
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from api.deps import StoreDep
from api.errors import ApiError
from api.pages.access import PageError, ReaderPage
from api.pages.render import page
from api.pages.timeline import draw, marks, output_window, whole
from api.routes.proofs import SignerDep, incident_bundle
from api.routes.queries import WorkerDep
from api.routes.verification import published_keys
from ledger.catalogue.fields import IDENTIFIER_MAX, IDENTIFIER_PATTERN
from projections import queries
from projections.answers import to_json
from projections.errors import InvalidQuery
from projections.errors import NotFound as ViewNotFound
from projections.queries.overview import FILTERS
from projections.timefmt import now_us, parse_us

router = APIRouter(include_in_schema=False)

IncidentId = Annotated[str, Path(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN)]
Choice = Annotated[str | None, Query(max_length=IDENTIFIER_MAX)]
_NOT_FOUND: Final = "No incident with this id is recorded."
CSV_COLUMNS: Final = ("seq", "event_id", "type", "at_utc", "occurred_at_utc", "recorded_at_utc", "actor_id",
                      "actor_role", "note")  # fmt: skip


@router.get("/incidents")
def incident_list(
    request: Request,
    viewer: ReaderPage,
    worker: WorkerDep,
    category: Choice = None,
    harm: Choice = None,
    tool: Choice = None,
    unit: Choice = None,
    status: Choice = None,
    deadline: Choice = None,
) -> Response:
    """The incidents matching the filters, with each filter's counts."""
    # The form sends "" for "any".
    chosen = {"category": category or None, "harm": harm or None, "tool": tool or None, "unit": unit or None,
              "status": status or None, "deadline": deadline or None}  # fmt: skip
    try:
        found = to_json(
            queries.incident_overview(
                worker.views, category=chosen["category"], harm=chosen["harm"], tool=chosen["tool"],
                unit=chosen["unit"], status=chosen["status"], deadline=chosen["deadline"],
            )
        )  # fmt: skip
    except InvalidQuery:
        raise PageError(422, "A filter has a value no incident can have; choose from the lists.") from None
    context = {"found": found, "filters": FILTERS, "chosen": chosen, "title": "Incidents"}
    return page(request, "incidents.html", context, viewer=viewer)


def _incident(worker: WorkerDep, incident_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The incident's timeline and accountability report, from one evaluation time."""
    try:
        dossier = to_json(queries.incident_dossier(worker.views, incident_id, now=now_us()))
    except ViewNotFound:
        raise PageError(404, _NOT_FOUND) from None
    return dossier["timeline"], dossier["report"]


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request, viewer: ReaderPage, worker: WorkerDep, signer: SignerDep, incident_id: IncidentId
) -> Response:
    """One incident: its timeline, its accountability report, its reporting clocks, and the Verify control."""
    timeline, report = _incident(worker, incident_id)
    deadlines = report["incident_answers"][0]["details"].get("regimes", [])
    context = {
        "title": f"Incident {incident_id}",
        "incident_id": incident_id,
        "timeline": timeline,
        "drawings": drawings(timeline["entries"], ZoneInfo(request.app.state.settings.time_zone)),
        "report": report,
        "clocks": [clock(d, evaluated_at=report["evaluated_at"]) for d in deadlines],
        "checkpoint": worker.ledger.latest_checkpoint(),
        "verifier_keys": published_keys(signer),
        "seqs": shown_seqs(timeline, report),
    }
    return page(request, "incident.html", context, viewer=viewer)


def shown_seqs(timeline: dict[str, Any], report: dict[str, Any]) -> list[int]:
    """Every seq the incident page shows (timeline and evidence), in order: what Verify checks."""
    seqs = {e["seq"] for e in timeline["entries"]}
    answers = [a for out in report["outputs"] for a in out["answers"]] + report["incident_answers"]
    seqs |= {e["seq"] for a in answers for e in a["evidence"]}
    return sorted(seqs)


def drawings(entries: list[dict[str, Any]], zone: ZoneInfo) -> list[tuple[str, Markup]]:
    """The timeline drawn whole, then zoomed into the window around the output: (heading, SVG) each."""
    found = marks(entries)
    drawn = []
    for heading, window, ident in (
        ("The whole history", whole(found), "tl-whole"),
        ("Zoomed: the window around the output", output_window(found), "tl-output"),
    ):
        if window is not None:
            drawn.append((heading, draw(found, window, zone=zone, title=heading, ident=ident)))
    return drawn


def clock(deadline: dict[str, Any], *, evaluated_at: str) -> dict[str, Any]:
    """A regulatory deadline with what is left of it (or how far past it is) at ``evaluated_at``."""
    left = None
    if deadline.get("due_at") and deadline["status"] in ("pending", "due_soon", "missed"):
        left = span(parse_us(deadline["due_at"]) - parse_us(evaluated_at))
    return {**deadline, "left": left}


def span(us: int | None) -> str | None:
    """A signed duration in words: "2 days 3 hours left" or "overdue by 5 hours"."""
    if us is None:
        return None
    minutes = abs(us) // 60_000_000
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    parts += [f"{hours} hour{'s' * (hours != 1)}"] if hours or days else []
    parts += [] if days else [f"{mins} minute{'s' * (mins != 1)}"]
    words = " ".join(parts)
    return f"{words} left" if us >= 0 else f"overdue by {words}"


@router.get("/incidents/{incident_id}/timeline.csv")
def timeline_csv(viewer: ReaderPage, worker: WorkerDep, incident_id: IncidentId) -> Response:
    """The incident's timeline as CSV, one event a row (times in UTC)."""
    timeline, _ = _incident(worker, incident_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in timeline["entries"]:
        actor = entry.get("actor") or {}
        row = (entry["seq"], entry["event_id"], entry["type"], entry["at"], entry["occurred_at"],
               entry["recorded_at"], actor.get("id"), actor.get("role"), entry.get("note", ""))  # fmt: skip
        writer.writerow([csv_cell(value) for value in row])
    return Response(
        out.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(incident_id)}-timeline.csv"'},
    )


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ would make it a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _file_name(incident_id: str) -> str:
    return "incident-" + "".join(c if c.isalnum() or c in "._-" else "_" for c in incident_id)


@router.get("/incidents/{incident_id}/evidence.json")
def evidence_bundle(viewer: ReaderPage, store: StoreDep, signer: SignerDep, incident_id: IncidentId) -> Response:
    """The incident's evidence bundle, as `ledger export` writes it (verify it with `ledger verify-bundle`)."""
    try:
        body, filename, _ = incident_bundle(store, signer, incident_id)
    except ApiError as exc:  # no such incident, or no signing key
        raise PageError(exc.status, exc.message) from None
    return Response(
        body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
