"""Loading what a question needs from a snapshot: a tool's history, the cases of outputs, an incident."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from projections.checks import OutputCase
from projections.errors import NotFound
from projections.history import ToolHistory
from projections.views import CORE_GOVERNANCE, GOVERNANCE, EventRow, IncidentRow, OutputRow, Snapshot

_DRIFT_AND_ACKS = (
    "tool_id = :tool AND ((type = 'monitoring.checked' AND outcome = 'drift') OR type = 'monitoring.acknowledged')"
)


def tool_history(
    snap: Snapshot,
    tool_id: str,
    *,
    clinicians: Iterable[str] = (),
    moments: Iterable[int] = (),
    full: bool = False,
) -> ToolHistory:
    """A tool's governance events: everything (``full``), or the core plus the trainings and checks asked for."""
    if full:
        return ToolHistory(
            tool_id, snap.events("tool_id = :tool AND @in(type, :types)", {"tool": tool_id, "types": list(GOVERNANCE)})
        )
    rows = snap.events("tool_id = :tool AND @in(type, :types)", {"tool": tool_id, "types": list(CORE_GOVERNANCE)})
    people = sorted(set(clinicians))
    if people:
        rows += snap.events(
            "type = 'clinician.trained' AND tool_id = :tool AND @in(clinician_id, :people)",
            {"tool": tool_id, "people": people},
        )
    rows += snap.events(_DRIFT_AND_ACKS, {"tool": tool_id})
    for moment in sorted(set(moments)):
        last = snap.last_event(
            "tool_id = :tool AND type = 'monitoring.checked' AND effective_us <= :at", {"tool": tool_id, "at": moment}
        )
        if last is not None:
            rows.append(last)
    return ToolHistory(tool_id, rows)


def output_cases(
    snap: Snapshot, output_ids: Sequence[str], *, histories: dict[str, ToolHistory] | None = None
) -> list[OutputCase]:
    """One OutputCase per id, in the order given (ids the ledger does not hold get an empty case)."""
    ids = list(dict.fromkeys(output_ids))
    if not ids:
        return []
    outputs = {o.output_id: o for o in snap.outputs("@in(output_id, :ids)", {"ids": ids})}
    displays = _group(snap.displays(ids))
    actions = _group(snap.actions(ids))
    duplicates: dict[str, list[EventRow]] = defaultdict(list)
    for row in snap.events("type = 'output.generated' AND @in(output_id, :ids)", {"ids": ids}):
        first = outputs.get(str(row.output_id))
        if first is not None and row.seq != first.seq:
            duplicates[str(row.output_id)].append(row)
    histories = {} if histories is None else histories
    for tool, members in _by_tool(outputs.values()).items():
        if tool not in histories:
            histories[tool] = tool_history(
                snap,
                tool,
                clinicians={d.clinician_id for o in members for d in displays.get(o.output_id, ())},
                moments={o.generated_us for o in members},
            )
    return [
        OutputCase(
            output_id=oid,
            output=outputs.get(oid),
            displays=tuple(displays.get(oid, ())),
            actions=tuple(actions.get(oid, ())),
            history=histories.get(outputs[oid].tool_id) if oid in outputs else None,
            duplicates=tuple(duplicates.get(oid, ())),
        )
        for oid in ids
    ]


def _group(rows: Iterable[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.output_id].append(row)
    return grouped


def _by_tool(outputs: Iterable[OutputRow]) -> dict[str, list[OutputRow]]:
    grouped: dict[str, list[OutputRow]] = defaultdict(list)
    for output in outputs:
        grouped[output.tool_id].append(output)
    return grouped


@dataclass(frozen=True)
class IncidentContext:
    """An incident, its events, its outputs' cases and the histories of the tools involved."""

    incident: IncidentRow
    events: list[EventRow]
    cases: list[OutputCase]
    histories: dict[str, ToolHistory]
    tool_ids: tuple[str, ...]  # the incident's own tool and its outputs' tools

    def of_type(self, *types: str) -> list[EventRow]:
        """The incident's events of these types, in time order."""
        return [e for e in self.events if e.type in types]


def load_incident(snap: Snapshot, incident_id: str) -> IncidentContext:
    """Everything an incident's timeline and accountability report need; NotFound if the ledger has no such incident."""
    rows = snap.incidents("incident_id = :id", {"id": incident_id})
    if not rows:
        raise NotFound("incident", incident_id)
    incident = rows[0]
    events = snap.events("incident_id = :id", {"id": incident_id})
    remediations = [str(e.remediation_id) for e in events if e.type == "remediation.planned" and e.remediation_id]
    if remediations:
        seen = {e.seq for e in events}
        extra = snap.events("type = 'remediation.completed' AND @in(remediation_id, :ids)", {"ids": remediations})
        events = sorted([*events, *(e for e in extra if e.seq not in seen)], key=lambda e: (e.effective_us, e.seq))
    output_ids = [
        str(r[0])
        for r in snap.select(
            "SELECT output_id FROM {incident_outputs} WHERE incident_id = :id ORDER BY seq, output_id",
            {"id": incident_id},
        )
    ]
    histories: dict[str, ToolHistory] = {}
    cases = output_cases(snap, output_ids, histories=histories)
    if incident.tool_id and incident.tool_id not in histories:
        moments = [incident.aware_us] if incident.aware_us is not None else []
        histories[incident.tool_id] = tool_history(snap, incident.tool_id, moments=moments)
    tools = {c.output.tool_id for c in cases if c.output is not None} | (
        {incident.tool_id} if incident.tool_id else set()
    )
    return IncidentContext(incident, events, cases, histories, tuple(sorted(tools)))
