"""How fast the organisation intervened, and whether the same harm came back after a verified fix.

Intervention speed, per incident (seconds, with the events each rests on), and
the median per tool, unit and error kind:

    output_to_awareness      the incident's first output to its aware_at (detection)
    shown_to_action          the first display of its outputs to the first action on that output after it
    awareness_to_assignment  aware_at to the first incident.assigned
    awareness_to_first_step  aware_at to the first incident.response_step
    awareness_to_step        aware_at to the first step of each kind
    awareness_to_remediation aware_at to the first remediation.completed of the incident's remediations

Recurrence, per tool and error kind: an incident is a recurrence when, before
its aware_at, a remediation of an earlier incident of the same tool and kind was
completed and verified effective (``remediation.completed`` with ``effective``
true). Incidents of another tool or another kind never count, and neither does
a remediation completed without being verified effective.

An incident's tool is its own ``tool_id``, else its outputs' (the first,
sorted); its unit is its first output's; its kind is its latest category.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from projections.answers import Evidence, unique
from projections.errors import InvalidQuery
from projections.queries.response import primary_tool, steps_by_incident
from projections.timefmt import iso
from projections.views import ActionRow, DisplayRow, EventRow, IncidentRow, OutputRow, Snapshot, Views

MEASURES: Final = (
    "output_to_awareness",
    "shown_to_action",
    "awareness_to_assignment",
    "awareness_to_first_step",
    "awareness_to_remediation",
)
_INCIDENTS: Final = (
    "aware_us IS NOT NULL AND (CAST(:start AS {int}) IS NULL OR aware_us >= :start) "
    "AND (CAST(:end AS {int}) IS NULL OR aware_us <= :end)"
)
_REMEDIATIONS: Final = "remediation_id IS NOT NULL AND @in(type, :types)"


@dataclass
class _Incident:
    """One incident with what its measures need."""

    row: IncidentRow
    tool: str | None
    outputs: list[OutputRow] = field(default_factory=list)
    steps: list[EventRow] = field(default_factory=list)
    completions: list[EventRow] = field(default_factory=list)

    @property
    def unit(self) -> str | None:
        return self.outputs[0].unit if self.outputs else None


def _load(snap: Snapshot, start: int | None, end: int | None) -> list[_Incident]:
    rows = snap.incidents(_INCIDENTS, {"start": start, "end": end})
    outputs: dict[str, list[str]] = defaultdict(list)
    for row in snap.select(
        "SELECT io.incident_id, o.output_id FROM {incident_outputs} io JOIN {outputs} o ON o.output_id = io.output_id"
    ):
        outputs[str(row[0])].append(str(row[1]))
    ids = sorted({o for v in outputs.values() for o in v})
    by_id = {o.output_id: o for o in snap.outputs("@in(output_id, :ids)", {"ids": ids})} if ids else {}
    steps = steps_by_incident(snap)
    completions = _completions(snap)
    found = []
    for row in rows:
        mine = sorted((by_id[o] for o in outputs.get(row.incident_id, [])), key=lambda o: (o.generated_us, o.seq))
        tool = primary_tool(row, sorted({o.tool_id for o in mine}))
        found.append(_Incident(row, tool, mine, steps.get(row.incident_id, []), completions.get(row.incident_id, [])))
    return found


def _completions(snap: Snapshot) -> dict[str, list[EventRow]]:
    """Each incident's remediation completions (naming it, or completing a remediation planned for it)."""
    rows = snap.events(_REMEDIATIONS, {"types": ["remediation.planned", "remediation.completed"]})
    planned_for = {str(r.remediation_id): str(r.incident_id) for r in rows if r.type == "remediation.planned"}
    done: dict[str, list[EventRow]] = defaultdict(list)
    for row in rows:
        if row.type == "remediation.completed":
            incident = row.incident_id or planned_for.get(str(row.remediation_id))
            if incident is not None:
                done[str(incident)].append(row)
    return done


def _since(aware: int, row: EventRow | None, note: str) -> tuple[float, Evidence] | None:
    return None if row is None else ((row.effective_us - aware) / 1_000_000, row.evidence(note))


def _shown_to_action(
    incident: _Incident, displays: dict[str, list[DisplayRow]], actions: dict[str, list[ActionRow]]
) -> dict[str, Any] | None:
    shown = sorted(
        (d for o in incident.outputs for d in displays.get(o.output_id, [])), key=lambda d: (d.shown_us, d.seq)
    )
    if not shown:
        return None
    first = shown[0]
    after = [a for a in actions.get(first.output_id, []) if a.acted_us >= first.shown_us]
    if not after:
        return None
    return {
        "seconds": (after[0].acted_us - first.shown_us) / 1_000_000,
        "evidence": [first.evidence("first display"), after[0].evidence("first action after it")],
    }


def _measures(
    incident: _Incident, displays: dict[str, list[DisplayRow]], actions: dict[str, list[ActionRow]]
) -> dict[str, Any]:
    row, aware = incident.row, int(incident.row.aware_us or 0)
    values: dict[str, Any] = dict.fromkeys(MEASURES)
    if incident.outputs:
        first = incident.outputs[0]
        values["output_to_awareness"] = {
            "seconds": (aware - first.generated_us) / 1_000_000,
            "evidence": [first.evidence("first output"), *_report(row)],
        }
    values["shown_to_action"] = _shown_to_action(incident, displays, actions)
    if row.assigned_us is not None and row.assigned_seq is not None:
        evidence = Evidence(row.assigned_seq, str(row.assigned_event_id), "incident.assigned", iso(row.assigned_us))
        values["awareness_to_assignment"] = {"seconds": (row.assigned_us - aware) / 1_000_000, "evidence": [evidence]}
    for name, found in (
        ("awareness_to_first_step", _since(aware, incident.steps[0] if incident.steps else None, "first step")),
        ("awareness_to_remediation", _since(aware, _first(incident.completions), "remediation completed")),
    ):
        if found is not None:
            values[name] = {"seconds": found[0], "evidence": [found[1]]}
    by_step: dict[str, Any] = {}
    for step in incident.steps:
        kind = str(step.facts.get("step"))
        if kind not in by_step:
            seconds, evidence = (step.effective_us - aware) / 1_000_000, step.evidence(f"first {kind}")
            by_step[kind] = {"seconds": seconds, "evidence": [evidence]}
    values["awareness_to_step"] = by_step
    return values


def _first(rows: Sequence[EventRow]) -> EventRow | None:
    return min(rows, key=lambda r: (r.effective_us, r.seq)) if rows else None


def _report(row: IncidentRow) -> list[Evidence]:
    if row.reported_seq is None:
        return []
    return [Evidence(row.reported_seq, str(row.reported_event_id), "incident.reported", iso(row.aware_us), "aware_at")]


def _median(values: Iterable[float]) -> float | None:
    listed = list(values)
    return statistics.median(listed) if listed else None


def _check_window(start: int | None, end: int | None) -> None:
    if start is not None and end is not None and start > end:
        raise InvalidQuery("from must not be after to")


def intervention_metrics(
    views: Views,
    *,
    tool: str | None = None,
    unit: str | None = None,
    kind: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> dict[str, Any]:
    """Per incident known between ``start`` and ``end``, each intervention measure with its evidence; the
    median of each per tool, unit and error kind."""
    _check_window(start, end)
    with views.reading() as snap:
        incidents = [
            i
            for i in _load(snap, start, end)
            if (tool is None or i.tool == tool)
            and (unit is None or i.unit == unit)
            and (kind is None or i.row.category == kind)
        ]
        ids = [o.output_id for i in incidents for o in i.outputs]
        displays = _group(snap.displays(ids))
        actions = _group(snap.actions(ids))
        position = snap.position
    measured = [(i, _measures(i, displays, actions)) for i in incidents]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for incident, values in measured:
        groups[(incident.tool or "", incident.unit or "", incident.row.category or "")].append(values)
    return {
        "position": position,
        "filters": {"tool": tool, "unit": unit, "error_kind": kind, "from": iso(start), "to": iso(end)},
        "groups": [_group_summary(key, rows) for key, rows in sorted(groups.items())],
        "incidents": [
            {
                "incident_id": i.row.incident_id,
                "tool_id": i.tool,
                "unit": i.unit,
                "error_kind": i.row.category,
                "aware_at": iso(i.row.aware_us),
                "seconds": values,
            }
            for i, values in measured
        ],
    }


def _group(rows: Iterable[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.output_id].append(row)
    return grouped


def _group_summary(key: tuple[str, str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    tool, unit, kind = key
    medians = {m: _median(r[m]["seconds"] for r in rows if r[m] is not None) for m in MEASURES}
    measured = {m: sum(1 for r in rows if r[m] is not None) for m in MEASURES}
    steps = sorted({s for r in rows for s in r["awareness_to_step"]})
    by_step = {
        s: _median(r["awareness_to_step"][s]["seconds"] for r in rows if s in r["awareness_to_step"]) for s in steps
    }
    return {
        "tool_id": tool or None,
        "unit": unit or None,
        "error_kind": kind or None,
        "incidents": len(rows),
        "measured": measured,
        "median_seconds": {**medians, "awareness_to_step": by_step},
    }


# --- recurrence ---------------------------------------------------------------------------------------


def recurrence(
    views: Views,
    *,
    tool: str | None = None,
    kind: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> dict[str, Any]:
    """Per tool and error kind: its incidents, the verified remediations, and the incidents that came after one."""
    _check_window(start, end)
    with views.reading() as snap:
        incidents = _load(snap, None, None)
        position = snap.position
    groups: dict[tuple[str, str], list[_Incident]] = defaultdict(list)
    for incident in incidents:
        if incident.tool is not None and incident.row.category is not None:
            groups[(incident.tool, incident.row.category)].append(incident)
    answers = []
    for (group_tool, group_kind), members in sorted(groups.items()):
        if (tool is not None and group_tool != tool) or (kind is not None and group_kind != kind):
            continue
        answers.append(_recurrences(group_tool, group_kind, members, start, end))
    return {
        "position": position,
        "filters": {"tool": tool, "error_kind": kind, "from": iso(start), "to": iso(end)},
        "total": sum(a["recurrences"] for a in answers),
        "groups": answers,
    }


def _recurrences(tool: str, kind: str, members: list[_Incident], start: int | None, end: int | None) -> dict[str, Any]:
    verified = sorted(
        (c for m in members for c in m.completions if c.facts.get("effective") is True),
        key=lambda r: (r.effective_us, r.seq),
    )
    inside = [
        m
        for m in members
        if (start is None or int(m.row.aware_us or 0) >= start) and (end is None or int(m.row.aware_us or 0) <= end)
    ]
    recurred = []
    before = 0
    for member in inside:
        aware = int(member.row.aware_us or 0)
        prior = [v for v in verified if v.effective_us < aware]
        if not prior:
            before += 1
            continue
        recurred.append(
            {
                "incident_id": member.row.incident_id,
                "aware_at": iso(aware),
                "evidence": unique([*_report(member.row), prior[-1].evidence("verified remediation before it")]),
            }
        )
    return {
        "tool_id": tool,
        "error_kind": kind,
        "incidents": len(inside),
        "before_a_verified_remediation": before,
        "recurrences": len(recurred),
        "verified_remediations": [v.evidence("remediation verified effective") for v in verified],
        "recurred": recurred,
    }
