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


def load_incidents(snap: Snapshot, incidents: Sequence[IncidentRow]) -> list[IncidentContext]:
    """``load_incident`` for many incidents in a fixed number of selects (about eleven a incident before: the
    incident list at 1M events spent its 14 s in round trips). The tools' histories are loaded whole, once
    each, a superset of what ``load_incident`` loads for one incident."""
    ids = [row.incident_id for row in incidents]
    if not ids:
        return []
    events: dict[str, list[EventRow]] = defaultdict(list)
    for row in snap.events("@in(incident_id, :ids)", {"ids": ids}):
        events[str(row.incident_id)].append(row)
    planned = sorted({str(e.remediation_id) for rows in events.values() for e in rows
                      if e.type == "remediation.planned" and e.remediation_id})  # fmt: skip
    completions: dict[str, list[EventRow]] = defaultdict(list)
    if planned:
        for row in snap.events("type = 'remediation.completed' AND @in(remediation_id, :ids)", {"ids": planned}):
            completions[str(row.remediation_id)].append(row)
    outputs: dict[str, list[str]] = defaultdict(list)
    for incident_id, output_id in snap.select(
        "SELECT incident_id, output_id FROM {incident_outputs} WHERE @in(incident_id, :ids) ORDER BY seq, output_id",
        {"ids": ids},
    ):
        outputs[str(incident_id)].append(str(output_id))
    tools = {r[0] for r in snap.select("SELECT DISTINCT tool_id FROM {outputs} WHERE @in(output_id, :ids)",
                                       {"ids": sorted({o for found in outputs.values() for o in found})})}  # fmt: skip
    tools |= {row.tool_id for row in incidents if row.tool_id}
    histories = {str(tool): tool_history(snap, str(tool), full=True) for tool in sorted(tools)}
    cases = {c.output_id: c for c in output_cases(snap, [o for found in outputs.values() for o in found],
                                                   histories=histories)}  # fmt: skip
    return [_context(row, events[row.incident_id], completions, [cases[o] for o in outputs[row.incident_id]],
                     histories) for row in incidents]  # fmt: skip


def _context(
    incident: IncidentRow,
    events: list[EventRow],
    completions: dict[str, list[EventRow]],
    cases: list[OutputCase],
    histories: dict[str, ToolHistory],
) -> IncidentContext:
    planned = [str(e.remediation_id) for e in events if e.type == "remediation.planned" and e.remediation_id]
    if planned:
        seen = {e.seq for e in events}
        extra = [e for r in planned for e in completions.get(r, []) if e.seq not in seen]
        events = sorted([*events, *dict((e.seq, e) for e in extra).values()], key=lambda e: (e.effective_us, e.seq))
    tools = {c.output.tool_id for c in cases if c.output is not None} | (
        {incident.tool_id} if incident.tool_id else set()
    )
    mine = {tool: histories[tool] for tool in tools if tool in histories}
    return IncidentContext(incident, events, cases, mine, tuple(sorted(tools)))
