"""Governance gaps found in the log, each with its evidence.

The output checks are those of the accountability report (projections.checks),
so a gap here is a "no", "partly" or "unknown: not recorded" there.

``time_out_of_range``: an event stored before the catalogue bounded its times
(projections.timefmt) whose occurred_at, effective time or aware_at lies outside
the range the ledger computes with. No deadline or window is counted from such
a time; the gap names the event's seq. Its moment is outside every window a
query may ask for, so it is listed whatever ``from`` and ``to`` say.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from projections.answers import YES, Evidence, unique
from projections.checks import OutputCase, approval, approval_scope, training_of, validation
from projections.errors import InvalidQuery
from projections.facts import EFFECTIVE_FIELD
from projections.history import ToolHistory
from projections.playbooks import Governance
from projections.policy import DEFAULT_POLICY, Policy
from projections.queries.incidents import aware_out_of_range, changes_after_awareness, reporting_deadlines
from projections.queries.loading import IncidentContext, tool_history
from projections.queries.policy_gaps import KINDS as POLICY_GAP_KINDS
from projections.queries.policy_gaps import incident_response_gaps, tool_gaps
from projections.queries.response import load_governance
from projections.regulatory_clocks import REVIEWER_ASSIGNMENT
from projections.timefmt import TIME_MAX_US, TIME_MIN_US, computable, iso, now_us, out_of_range
from projections.views import ActionRow, DisplayRow, EventRow, IncidentRow, OutputRow, Snapshot, Views

KINDS: Final = (
    "output_without_approval",
    "output_outside_scope",
    "output_without_passed_validation",
    "shown_to_untrained_clinician",
    "threshold_change_unapproved",
    "shown_not_acted",
    "drift_not_followed",
    "incident_unassigned",
    "report_deadline_near",
    "report_deadline_missed",
    "tool_changed_before_report",
    "time_out_of_range",
    *POLICY_GAP_KINDS,
)


@dataclass(frozen=True)
class Gap:
    """One governance gap: what, when, about what, why, and the events that show it."""

    kind: str
    at: str | None
    reason: str
    evidence: tuple[Evidence, ...]
    tool_id: str | None = None
    output_id: str | None = None
    incident_id: str | None = None
    clinician_id: str | None = None


@dataclass(frozen=True)
class _Window:
    start: int | None
    end: int | None
    now: int
    policy: Policy

    def holds(self, at: int | None) -> bool:
        return at is not None and (self.start is None or at >= self.start) and (self.end is None or at <= self.end)


def governance_gaps(
    views: Views,
    *,
    tool: str | None = None,
    start: int | None = None,
    end: int | None = None,
    kinds: Sequence[str] | None = None,
    now: int | None = None,
    policy: Policy = DEFAULT_POLICY,
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """Every gap whose moment falls between ``start`` and ``end``, for one tool or all."""
    unknown = sorted(set(kinds or ()) - set(KINDS))
    if unknown:
        # The unknown kinds are not named: a query value may be anything, a patient identifier included.
        raise InvalidQuery(f"kind must be one of {', '.join(KINDS)}")
    if start is not None and end is not None and start > end:
        raise InvalidQuery("from must not be after to")
    window = _Window(start, end, now_us() if now is None else now, policy)
    gaps: list[Gap] = []
    with views.reading() as snap:
        tools = [tool] if tool is not None else _all_tools(snap)
        histories = {t: tool_history(snap, t, full=True) for t in tools}
        governance = load_governance(snap, tools)
        for tool_id in tools:
            gaps += _output_gaps(snap, histories[tool_id], window)
            gaps += _tool_gaps(histories[tool_id], window)
            found = tool_gaps(snap, governance[tool_id], start=start, end=end, holds=window.holds)
            gaps += [Gap(**f._asdict()) for f in found]
        gaps += _incident_gaps(snap, histories, window, only_tool=tool, governance=governance)
        wanted = set(kinds or KINDS)
        if "time_out_of_range" in wanted:
            gaps += _time_gaps(snap, only_tool=tool)
        position = snap.position
    gaps = sorted(
        (g for g in gaps if g.kind in wanted),
        key=lambda g: (g.at or "", g.kind, g.output_id or "", g.incident_id or "", g.clinician_id or ""),
    )
    return {
        "position": position,
        "evaluated_at": iso(window.now),
        "filters": {"tool": tool, "from": iso(start), "to": iso(end), "kinds": sorted(wanted)},
        "policy": {
            "action_window_seconds": policy.action_window_us / 1_000_000,
            "drift_response_days": policy.drift_response_us / 86_400_000_000,
            "deadline_warning_hours": policy.deadline_warning_us / 3_600_000_000,
            "reviewer_assignment_hours": REVIEWER_ASSIGNMENT / 3_600_000_000,
        },
        "total": len(gaps),
        "counts": dict(sorted(Counter(g.kind for g in gaps).items())),
        "offset": offset,
        "gaps": gaps[offset : offset + limit],
    }


def _all_tools(snap: Snapshot) -> list[str]:
    rows = snap.select(
        "SELECT DISTINCT tool_id FROM {outputs} UNION SELECT DISTINCT tool_id FROM {events} "
        "WHERE tool_id IS NOT NULL AND @in(type, :types) ORDER BY 1",
        {
            "types": [
                "tool.registered",
                "tool.approved",
                "tool.threshold_changed",
                "monitoring.checked",
                "governance.policy_set",
            ]
        },
    )
    return [str(r[0]) for r in rows]


def incident_gaps(ctx: IncidentContext, *, now: int, policy: Policy = DEFAULT_POLICY) -> list[Gap]:
    """The gaps about one incident and its own outputs, by the rules of ``governance_gaps``, from the context
    the incident's report is built from (no other output of its tools is read)."""
    window = _Window(None, None, now, policy)
    gaps: list[Gap] = []
    for case in ctx.cases:
        if case.output is not None:
            gaps += _case_gaps(case, case.output, window)
    return gaps + _incident_case_gaps(ctx, window)


# --- outputs ----------------------------------------------------------------------------------------

_OUTPUT_WINDOW: Final = (
    "o.tool_id = :tool AND (CAST(:start AS {int}) IS NULL OR o.generated_us >= :start) "
    "AND (CAST(:end AS {int}) IS NULL OR o.generated_us <= :end)"
)


def _output_gaps(snap: Snapshot, history: ToolHistory, window: _Window) -> list[Gap]:
    params = {"tool": history.tool_id, "start": window.start, "end": window.end}
    outputs = snap.outputs(_OUTPUT_WINDOW.replace("o.", ""), params)
    displays: dict[str, list[DisplayRow]] = defaultdict(list)
    for row in snap.select(
        "SELECT d.seq, d.event_id, d.output_id, d.clinician_id, d.surface, d.ui_version, d.shown_us, d.recorded_us "
        "FROM {displays} d JOIN {outputs} o ON o.output_id = d.output_id WHERE "
        + _OUTPUT_WINDOW
        + " ORDER BY d.shown_us, d.seq",
        params,
    ):
        displays[str(row[2])].append(DisplayRow(*row))
    actions: dict[str, list[ActionRow]] = defaultdict(list)
    for row in snap.select(
        "SELECT a.seq, a.event_id, a.output_id, a.clinician_id, a.action, a.reason_code, a.escalated_to, "  # noqa: S608
        "a.has_comment, "
        "a.acted_us, a.recorded_us FROM {actions} a JOIN {outputs} o ON o.output_id = a.output_id WHERE "
        + _OUTPUT_WINDOW
        + " ORDER BY a.acted_us, a.seq",
        params,
    ):
        actions[str(row[2])].append(ActionRow(*row))
    gaps: list[Gap] = []
    for out in outputs:
        case = OutputCase(out.output_id, out, displays.get(out.output_id, ()), actions.get(out.output_id, ()), history)
        gaps += _case_gaps(case, out, window)
    return gaps


def _case_gaps(case: OutputCase, out: OutputRow, window: _Window) -> list[Gap]:
    at = iso(out.generated_us)
    ids = {"tool_id": out.tool_id, "output_id": out.output_id}
    gaps = []
    for kind, check in (
        ("output_without_approval", approval),
        ("output_outside_scope", approval_scope),
        ("output_without_passed_validation", validation),
    ):
        result = check(case)
        if result.verdict != YES and not (kind == "output_outside_scope" and result.details.get("scope") is None):
            gaps.append(Gap(kind, at, f"{result.verdict}: {result.reason}", result.evidence, **ids))
    for display in case.displays:
        verdict, evidence, detail = training_of(case, display)
        if verdict != YES:
            reason = f"shown to {display.clinician_id}, whose training was {detail['training']} then"
            gaps.append(
                Gap(
                    "shown_to_untrained_clinician",
                    iso(display.shown_us),
                    reason,
                    unique(evidence),
                    clinician_id=display.clinician_id,
                    **ids,
                )
            )
    gaps += _unanswered(case, window, ids)
    return gaps


def _unanswered(case: OutputCase, window: _Window, ids: dict[str, str]) -> list[Gap]:
    if not case.displays:
        return []
    first = case.displays[0].shown_us
    deadline = first + window.policy.action_window_us
    if any(first <= a.acted_us <= deadline for a in case.actions) or window.now < deadline:
        return []
    late = [a.evidence("acted on only after the window") for a in case.actions if a.acted_us > deadline]
    minutes = window.policy.action_window_us / 60_000_000
    reason = f"shown at {iso(first)}, no action within {minutes:g} minutes" + (" (acted on later)" if late else "")
    return [Gap("shown_not_acted", iso(first), reason, unique([*(d.evidence() for d in case.displays), *late]), **ids)]


# --- tool governance ----------------------------------------------------------------------------------


def _tool_gaps(history: ToolHistory, window: _Window) -> list[Gap]:
    gaps = []
    for row in history.of_type("tool.threshold_changed"):
        if window.holds(row.effective_us) and not row.facts.get("approved_by"):
            facts = row.facts
            change = f"{facts.get('parameter')} changed from {facts.get('old_value')} to {facts.get('new_value')}"
            reason = change + " with no approver recorded"
            gaps.append(
                Gap(
                    "threshold_change_unapproved",
                    iso(row.effective_us),
                    reason,
                    (row.evidence("unapproved change"),),
                    tool_id=history.tool_id,
                )
            )
    for check in history.of_type("monitoring.checked"):
        if check.outcome != "drift" or not window.holds(check.effective_us):
            continue
        deadline = check.effective_us + window.policy.drift_response_us
        follow = history.follow_ups(check)
        if any(f.effective_us <= deadline for f in follow) or window.now < deadline:
            continue
        late = [f.evidence("followed up only after the window") for f in follow]
        days = window.policy.drift_response_us / 86_400_000_000
        reason = f"drift in {check.facts.get('metric')} not followed by review or suspension within {days:g} days"
        gaps.append(
            Gap(
                "drift_not_followed",
                iso(check.effective_us),
                reason,
                unique([check.evidence("drift reported"), *late]),
                tool_id=history.tool_id,
            )
        )
    return gaps


# --- incidents ------------------------------------------------------------------------------------------


def _incident_gaps(
    snap: Snapshot,
    histories: dict[str, ToolHistory],
    window: _Window,
    *,
    only_tool: str | None,
    governance: dict[str, Governance],
) -> list[Gap]:
    incidents = [
        i
        for i in snap.incidents("aware_us IS NOT NULL", {})
        if window.holds(i.aware_us) or not computable(i.aware_us)  # out of range: outside every window
    ]
    if not incidents:
        return []
    tools = _incident_tools(snap)
    events = _incident_events(snap)
    gaps: list[Gap] = []
    judged: list[tuple[IncidentRow, list[str]]] = []
    for incident in incidents:
        involved = sorted(tools.get(incident.incident_id, set()) | ({incident.tool_id} if incident.tool_id else set()))
        if only_tool is not None and only_tool not in involved:
            continue
        for tool in involved:
            if tool not in histories:
                histories[tool] = tool_history(snap, tool, full=True)
        ctx = _context(incident, involved, events.get(incident.incident_id, []), histories)
        gaps += _incident_case_gaps(ctx, window)
        judged.append((incident, involved))

    def governance_of(tool: str) -> Governance:
        if tool not in governance:
            governance.update(load_governance(snap, [tool]))
        return governance[tool]

    found = incident_response_gaps(snap, judged, governance=governance_of, now=window.now)
    return gaps + [Gap(**f._asdict()) for f in found]


def _incident_tools(snap: Snapshot) -> dict[str, set[str]]:
    tools: dict[str, set[str]] = defaultdict(set)
    for incident_id, tool_id in snap.select(
        "SELECT io.incident_id, o.tool_id FROM {incident_outputs} io JOIN {outputs} o ON o.output_id = io.output_id"
    ):
        tools[str(incident_id)].add(str(tool_id))
    return tools


def _incident_events(snap: Snapshot) -> dict[str, list[EventRow]]:
    events: dict[str, list[EventRow]] = defaultdict(list)
    for row in snap.events(
        "@in(type, :types)",
        {"types": ["incident.reported", "incident.classified", "incident.assigned", "incident.reported_externally"]},
    ):
        events[str(row.incident_id)].append(row)
    return events


def _context(
    incident: IncidentRow, tools: Sequence[str], events: list[EventRow], histories: dict[str, ToolHistory]
) -> IncidentContext:
    return IncidentContext(incident, events, [], {t: histories[t] for t in tools}, tuple(tools))


def _incident_case_gaps(ctx: IncidentContext, window: _Window) -> list[Gap]:
    incident = ctx.incident
    aware = incident.aware_us
    if aware is None:
        return []
    ids = {"incident_id": incident.incident_id, "tool_id": ctx.tool_ids[0] if len(ctx.tool_ids) == 1 else None}
    report = [r.evidence("incident reported (aware_at)") for r in ctx.of_type("incident.reported")][:1]
    if not computable(aware):  # stored before the range was enforced: no deadline is counted from it
        return [Gap("time_out_of_range", iso(aware), aware_out_of_range(incident), unique(report), **ids)]
    gaps = []
    due = aware + REVIEWER_ASSIGNMENT
    unassigned = incident.assigned_us is None and window.now > due
    if unassigned or (incident.assigned_us is not None and incident.assigned_us > due):
        late = (
            []
            if incident.assigned_seq is None
            else [
                Evidence(
                    incident.assigned_seq,
                    str(incident.assigned_event_id),
                    "incident.assigned",
                    iso(incident.assigned_us),
                    "assigned late",
                )
            ]
        )
        hours = REVIEWER_ASSIGNMENT / 3_600_000_000
        reason = f"no reviewer assigned within {hours:g} hours of awareness ({iso(aware)})" + (
            " (assigned later)" if late else ""
        )
        gaps.append(Gap("incident_unassigned", iso(due), reason, unique([*report, *late]), **ids))
    deadlines = reporting_deadlines(ctx, now=window.now, policy=window.policy)
    for d in deadlines:
        if d["applies"] != "yes" or d["status"] not in ("due_soon", "missed", "late"):
            continue
        kind = "report_deadline_near" if d["status"] == "due_soon" else "report_deadline_missed"
        state = {"due_soon": "is near", "missed": "has passed with no report filed", "late": "was missed: filed late"}[
            d["status"]
        ]
        reason = f"{d['regime']} deadline {d['due_at']} {state}"
        gaps.append(Gap(kind, d["due_at"], reason, unique([*report, *d["evidence"]]), **ids))
    if any(d["applies"] != "no" for d in deadlines):
        alterations, _, until = changes_after_awareness(ctx, now=window.now)
        for row in alterations:
            reason = f"{row.type} after awareness ({iso(aware)}) and " + (
                "before the external report" if until else "with no external report filed"
            )
            gaps.append(
                Gap(
                    "tool_changed_before_report",
                    iso(row.effective_us),
                    reason,
                    unique([*report, row.evidence("change")]),
                    **ids,
                )
            )
    return gaps


# --- times outside the range ---------------------------------------------------------------------------

_OUT_OF_RANGE: Final = (
    "occurred_us < :time_min OR occurred_us >= :time_max OR effective_us < :time_min OR effective_us >= :time_max"
)


def _time_gaps(snap: Snapshot, *, only_tool: str | None) -> list[Gap]:
    """One gap per stored event time outside the range (at most two per event: occurred_at and its effective time)."""
    gaps = []
    for row in snap.events(_OUT_OF_RANGE, {"time_min": TIME_MIN_US, "time_max": TIME_MAX_US}):
        if only_tool is not None and row.tool_id != only_tool:
            continue
        ids = {"tool_id": row.tool_id, "output_id": row.output_id, "incident_id": row.incident_id}
        times = {"occurred_at": row.occurred_us}
        effective = EFFECTIVE_FIELD.get(row.type)
        if effective is not None:
            times[f"data.{effective}"] = row.effective_us
        for field, us in times.items():
            if not computable(us):
                reason = out_of_range(row.type, row.seq, field)
                gaps.append(Gap("time_out_of_range", iso(us), reason, (row.evidence("time out of range"),), **ids))
    return gaps
