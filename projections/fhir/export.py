"""FHIR Bundles of an incident, a tool or an output, built from the views and the log's hashes.

The events come from the views (public facts only); each event's chain hash and
emitting system from its stored record, so that every resource names the
ledger event (seq and hash) a FHIR consumer can check against the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from projections.errors import NotFound, ProjectionError
from projections.fhir.resources import BundleBuilder, Source, Version, add_event
from projections.queries.loading import load_incident, tool_history
from projections.views import EventRow, Snapshot, Views

_OUTPUT_TYPES = ["output.generated", "output.shown", "output.acted"]


def incident_bundle(views: Views, incident_id: str, *, version: Version) -> dict[str, Any]:
    """The incident (AdverseEvent), its outputs with their displays and actions, its handling and
    the governance history of every tool involved."""
    with views.reading() as snap:
        ctx = load_incident(snap, incident_id)
        rows = list(ctx.events)
        rows += _output_rows(snap, [case.output_id for case in ctx.cases])
        for tool in ctx.tool_ids:
            rows += tool_history(snap, tool, full=True).rows
    return _bundle(views, rows, version=version)


def tool_bundle(views: Views, tool_id: str, *, version: Version, limit: int = 1000) -> dict[str, Any]:
    """The tool's governance history and up to ``limit`` of its outputs (the first ones), with their
    displays and actions, and the incidents reported against it."""
    with views.reading() as snap:
        rows = list(tool_history(snap, tool_id, full=True).rows)
        outputs = snap.outputs("tool_id = :tool", {"tool": tool_id})[:limit]
        rows += _output_rows(snap, [o.output_id for o in outputs])
        rows += snap.events("type = 'incident.reported' AND tool_id = :tool", {"tool": tool_id})
    if not rows:
        raise NotFound("tool", tool_id)
    return _bundle(views, rows, version=version)


def output_bundle(views: Views, output_id: str, *, version: Version) -> dict[str, Any]:
    """The output, its displays and actions, and its tool's governance history."""
    with views.reading() as snap:
        rows = snap.events("output_id = :id", {"id": output_id})
        tools = {r.tool_id for r in rows if r.type == "output.generated" and r.tool_id}
        for tool in sorted(tools):
            rows += tool_history(snap, tool, full=True).rows
    if not rows:
        raise NotFound("output", output_id)
    return _bundle(views, rows, version=version)


def _output_rows(snap: Snapshot, output_ids: list[str]) -> list[EventRow]:
    if not output_ids:
        return []
    return snap.events("@in(output_id, :ids) AND @in(type, :types)", {"ids": output_ids, "types": _OUTPUT_TYPES})


def _bundle(views: Views, rows: Iterable[EventRow], *, version: Version) -> dict[str, Any]:
    ordered = sorted({r.seq: r for r in rows}.values(), key=lambda r: r.seq)
    builder = BundleBuilder(version)
    for row in ordered:
        if row.type == "output.acted" and row.output_id and row.facts.get("action") == "accepted":
            builder.verifiers.setdefault(row.output_id, []).append(str(row.facts["clinician_id"]))
    for row in ordered:
        add_event(builder, _source(views, row))
    return builder.bundle()


def _source(views: Views, row: EventRow) -> Source:
    record = views.ledger.get(row.event_id)
    if record is None or record.seq != row.seq:
        raise ProjectionError(f"the log holds no record for seq {row.seq} of the views")
    source = orjson.loads(record.body).get("source", "")
    return Source(row=row, hash=record.hash, source=str(source))
