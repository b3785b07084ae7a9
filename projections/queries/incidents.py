"""Incidents: the list, each one's timeline, its reporting deadlines and its accountability report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from projections.answers import NO, PARTLY, UNKNOWN, YES, Answer, Evidence, unique
from projections.checks import OutputCase, evaluate
from projections.errors import InvalidQuery
from projections.history import ToolHistory
from projections.logic import STATUS_RANKS
from projections.policy import DEFAULT_POLICY, Policy
from projections.queries.loading import IncidentContext, load_incident
from projections.queries.response import Judgement, judge_context, response_answer
from projections.regulatory_clocks import REGIMES, IncidentFacts
from projections.regulatory_clocks import evaluate as evaluate_regime
from projections.timefmt import computable, iso, now_us, out_of_range
from projections.views import EventRow, IncidentRow, Snapshot, Views

CATEGORIES: Final = (
    "false_negative",
    "false_positive",
    "misprioritization",
    "faulty_recommendation",
    "workflow_amplification",
)
HARMS: Final = ("death", "severe_harm", "moderate_harm", "mild_harm", "no_harm", "unknown")
ALTERATIONS: Final = ("tool.updated", "tool.threshold_changed")  # changes that may affect a cause analysis (Art. 73(6))
STATUS_CHANGES: Final = ("tool.suspended", "tool.reinstated", "tool.retired", "tool.approved")
# A deadline's status when the incident's aware_at lies outside the range the ledger computes with.
TIME_OUT_OF_RANGE: Final = "time_out_of_range"


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def incident_summary(row: IncidentRow) -> dict[str, Any]:
    """One incident as the list shows it, with the events its fields rest on."""
    evidence = []
    if row.reported_seq is not None and row.reported_event_id is not None:
        evidence.append(
            Evidence(row.reported_seq, row.reported_event_id, "incident.reported", iso(row.reported_us), "report")
        )
    if row.class_seq is not None and row.class_event_id is not None:
        evidence.append(
            Evidence(row.class_seq, row.class_event_id, "incident.classified", None, "latest classification")
        )
    if row.assigned_seq is not None and row.assigned_event_id is not None:
        evidence.append(
            Evidence(
                row.assigned_seq, row.assigned_event_id, "incident.assigned", iso(row.assigned_us), "first assignment"
            )
        )
    if row.external_seq is not None and row.external_event_id is not None:
        evidence.append(
            Evidence(
                row.external_seq,
                row.external_event_id,
                "incident.reported_externally",
                iso(row.external_us),
                "first external report",
            )
        )
    evidence.append(Evidence(row.status_seq, row.status_event_id, row.status_type, None, f"status {row.status}"))
    return {
        "incident_id": row.incident_id,
        "category": row.category,
        "harm": row.harm,
        "status": row.status,
        "tool_id": row.tool_id,
        "safety_event_type": row.safety_event_type,
        "serious": _flag(row.serious),
        "widespread": _flag(row.widespread),
        "aware_at": iso(row.aware_us),
        "reported_at": iso(row.reported_us),
        "first_assigned_at": iso(row.assigned_us),
        "first_reported_externally_at": iso(row.external_us),
        "evidence": unique(evidence),
        **_time_problems(row),
    }


def _time_problems(row: IncidentRow) -> dict[str, Any]:
    """``{"problem": ...}`` for an incident whose aware_at was stored outside the range the ledger computes with."""
    if row.aware_us is None or computable(row.aware_us):
        return {}
    return {"problem": aware_out_of_range(row)}


def aware_out_of_range(row: IncidentRow) -> str:
    """The incident's aware_at is outside the range: no clock starts from it. Names the report's seq."""
    return out_of_range("incident.reported", row.reported_seq, "data.aware_at")


def list_incidents(
    views: Views,
    *,
    category: str | None = None,
    harm: str | None = None,
    tool: str | None = None,
    status: str | None = None,
    aware_from: int | None = None,
    aware_to: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Incidents matching every filter given, by awareness time.

    ``tool`` matches the incident's own tool or its outputs' tool.
    """
    _check_choice("category", category, CATEGORIES)
    _check_choice("harm", harm, HARMS)
    _check_choice("status", status, tuple(STATUS_RANKS))
    where = [
        "(CAST(:category AS TEXT) IS NULL OR COALESCE(class_category, category) = :category)",
        "(CAST(:harm AS TEXT) IS NULL OR COALESCE(class_harm, harm) = :harm)",
        "(CAST(:status AS TEXT) IS NULL OR status = :status)",
        "(CAST(:aware_from AS {int}) IS NULL OR aware_us >= :aware_from)",
        "(CAST(:aware_to AS {int}) IS NULL OR aware_us <= :aware_to)",
        "(CAST(:tool AS TEXT) IS NULL OR tool_id = :tool OR incident_id IN "
        "(SELECT io.incident_id FROM {incident_outputs} io "
        "JOIN {outputs} o ON o.output_id = io.output_id WHERE o.tool_id = :tool))",
    ]
    params = {
        "category": category,
        "harm": harm,
        "status": status,
        "aware_from": aware_from,
        "aware_to": aware_to,
        "tool": tool,
    }
    with views.reading() as snap:
        rows = snap.incidents(" AND ".join(where), params)
        position = snap.position
    page = rows[offset : offset + limit]
    return {
        "position": position,
        "total": len(rows),
        "offset": offset,
        "incidents": [incident_summary(r) for r in page],
    }


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise InvalidQuery(f"{name} must be one of: {', '.join(allowed)}")


# --- the timeline -------------------------------------------------------------------------------


@dataclass
class _Entries:
    rows: dict[int, tuple[EventRow, list[str]]] = field(default_factory=dict)

    def add(self, row: EventRow | None, note: str) -> None:
        if row is None:
            return
        _, notes = self.rows.setdefault(row.seq, (row, []))
        if note not in notes:
            notes.append(note)

    def sorted(self) -> list[dict[str, Any]]:
        ordered = sorted(self.rows.values(), key=lambda item: (item[0].effective_us, item[0].seq))
        return [row.entry("; ".join(notes)) for row, notes in ordered]


def _in_effect(entries: _Entries, case: OutputCase) -> None:
    """What governed the output when it was produced and seen."""
    out, history = case.output, case.history
    if out is None or history is None:
        return
    at, label = out.generated_us, f"in effect at output {out.output_id}"
    state = history.approval(at)
    entries.add(state.approval, f"{label}: approval")
    entries.add(state.status_event, f"{label}: tool {state.state}")
    entries.add(history.deployed_version(at)[1], f"{label}: deployed version")
    validations = history.validations(at)
    exact = validations.get((out.site, out.unit, out.population))
    entries.add(exact, f"{label}: validation for {out.site}/{out.unit}/{out.population}")
    for row in history.thresholds_in_effect(at, site=out.site, unit=out.unit).values():
        entries.add(row, f"{label}: threshold setting")
    entries.add(history.last_check(at), f"{label}: last monitoring check")
    for check, acks in history.drift_checks(at):
        entries.add(check, f"{label}: drift reported")
        for ack in acks:
            entries.add(ack, f"{label}: drift acknowledged")
    for display in case.displays:
        training = history.training(display.clinician_id, display.shown_us)
        entries.add(training.training, f"training of {display.clinician_id} ({training.state} when shown)")


def _changes_after(entries: _Entries, ctx: IncidentContext) -> None:
    starts = [c.output.generated_us for c in ctx.cases if c.output is not None]
    if ctx.incident.aware_us is not None:
        starts.append(ctx.incident.aware_us)
    if not starts:
        return
    since = min(starts)
    for tool, history in ctx.histories.items():
        for row in history.rows:
            if row.effective_us <= since or row.type == "clinician.trained":
                continue
            if row.type == "monitoring.checked" and row.outcome != "drift":
                continue
            entries.add(row, f"about tool {tool}, after the output")


def _timeline_entries(ctx: IncidentContext, snap_output_events: list[EventRow]) -> list[dict[str, Any]]:
    entries = _Entries()
    for case in ctx.cases:
        _in_effect(entries, case)
    notes = {"output.generated": "output", "output.shown": "display", "output.acted": "action"}
    for row in snap_output_events:
        entries.add(row, notes.get(row.type, "about the output"))
    _changes_after(entries, ctx)
    for row in ctx.events:
        entries.add(row, row.type.split(".")[0])
    return entries.sorted()


def incident_timeline(views: Views, incident_id: str) -> dict[str, Any]:
    """Every relevant event in time order: governance in effect, the outputs and responses, the incident's handling."""
    with views.reading() as snap:
        ctx = load_incident(snap, incident_id)
        output_events = _output_events(snap, ctx)
        position = snap.position
    return _timeline(ctx, output_events, position, incident_id)


def _output_events(snap: Snapshot, ctx: IncidentContext) -> list[EventRow]:
    output_ids = [c.output_id for c in ctx.cases]
    return snap.events("@in(output_id, :ids)", {"ids": output_ids}) if output_ids else []


def _timeline(ctx: IncidentContext, output_events: list[EventRow], position: int, incident_id: str) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "position": position,
        "incident": incident_summary(ctx.incident),
        "output_ids": [c.output_id for c in ctx.cases],
        "entries": _timeline_entries(ctx, output_events),
    }


def incident_dossier(
    views: Views, incident_id: str, *, now: int | None = None, policy: Policy = DEFAULT_POLICY
) -> dict[str, Any]:
    """The timeline and the accountability report of one incident, from one snapshot and one reading of its
    context (what the incident page shows; each alone is ``incident_timeline``, ``accountability_report``)."""
    now = now_us() if now is None else now
    with views.reading() as snap:
        ctx = load_incident(snap, incident_id)
        output_events = _output_events(snap, ctx)
        response = judge_context(snap, ctx, now=now)
        position = snap.position
    return {
        "timeline": _timeline(ctx, output_events, position, incident_id),
        "report": _report(ctx, response, position, incident_id, now=now, policy=policy),
    }


# --- deadlines and changes after awareness --------------------------------------------------------


def _registrations(ctx: IncidentContext) -> list[EventRow]:
    rows = []
    for tool in ctx.tool_ids:
        history = ctx.histories.get(tool)
        registration = None if history is None else history.registration()
        if registration is not None:
            rows.append(registration)
    return rows


def incident_facts(ctx: IncidentContext) -> IncidentFacts:
    """The incident's classification and its tools' registrations, for the regulatory clocks."""
    registered = {r.tool_id: r.facts for r in _registrations(ctx)}
    registrations = [registered.get(tool, {}) for tool in ctx.tool_ids]
    row = ctx.incident
    return IncidentFacts(
        harm=row.harm, serious=_flag(row.serious), widespread=_flag(row.widespread), tools=tuple(registrations)
    )


def reporting_deadlines(ctx: IncidentContext, *, now: int, policy: Policy = DEFAULT_POLICY) -> list[dict[str, Any]]:
    """For each regime: does it apply, by when, was it filed, and the resulting status."""
    aware = ctx.incident.aware_us
    if aware is None:
        return []
    facts = incident_facts(ctx)
    filings = ctx.of_type("incident.reported_externally")
    in_range = computable(aware)
    result = []
    for regime in REGIMES:
        verdict = evaluate_regime(regime, facts, aware)
        filed = next((f for f in filings if f.facts.get("regime") == regime.id), None)
        status = _deadline_status(verdict.applies, verdict.due_us, filed, now, policy)
        if not in_range and verdict.applies is not False:
            status = TIME_OUT_OF_RANGE  # no deadline: aware_at was stored outside the range
        evidence = [] if filed is None else [filed.evidence(f"report under {regime.id}")]
        result.append(
            {
                "regime": regime.id,
                "name": regime.name,
                "citation": regime.citation,
                "applies": "undetermined" if verdict.applies is None else ("yes" if verdict.applies else "no"),
                "because": list(verdict.because),
                "clock": None
                if verdict.clock is None
                else {"length": verdict.clock.length, "days": verdict.clock.days, "when": verdict.clock.when},
                "aware_at": iso(aware),
                "due_at": iso(verdict.due_us),
                "filed_at": None if filed is None else iso(filed.effective_us),
                "status": status,
                "evidence": evidence,
                **({} if in_range else {"problem": aware_out_of_range(ctx.incident)}),
            }
        )
    return result


def _deadline_status(applies: bool | None, due: int | None, filed: EventRow | None, now: int, policy: Policy) -> str:
    if applies is False:
        return "filed" if filed is not None else "not_applicable"
    if due is None:
        return "not_applicable"
    if filed is not None:
        return "met" if filed.effective_us <= due else "late"
    if now > due:
        return "missed"
    return "due_soon" if now >= due - policy.deadline_warning_us else "pending"


def changes_after_awareness(ctx: IncidentContext, *, now: int) -> tuple[list[EventRow], list[EventRow], int | None]:
    """Alterations (updates, threshold changes) and status changes between awareness and the first external report."""
    aware = ctx.incident.aware_us
    if aware is None:
        return [], [], None
    del now  # the period is open until a report is filed
    filings = ctx.of_type("incident.reported_externally")
    until = min((f.effective_us for f in filings), default=None)
    alterations: list[EventRow] = []
    status_changes: list[EventRow] = []
    for tool in ctx.tool_ids:
        history = ctx.histories.get(tool) or ToolHistory(tool, [])
        for row in history.of_type(*ALTERATIONS, *STATUS_CHANGES):
            if aware <= row.effective_us and (until is None or row.effective_us < until):
                (alterations if row.type in ALTERATIONS else status_changes).append(row)
    return alterations, status_changes, until


def _deadline_answer(deadlines: list[dict[str, Any]], ctx: IncidentContext) -> Answer:
    text = "Which reporting deadlines apply, and were they met?"
    if ctx.incident.aware_us is None:
        return Answer(
            "deadlines", text, UNKNOWN, "no incident.reported with aware_at is recorded, so no clock has started"
        )
    evidence = [e for d in deadlines for e in d["evidence"]]
    evidence += [
        r.evidence("awareness and classification") for r in ctx.of_type("incident.reported", "incident.classified")
    ]
    evidence += [r.evidence("tool registration (regulatory status)") for r in _registrations(ctx)]
    if not computable(ctx.incident.aware_us):
        reason = aware_out_of_range(ctx.incident)
        return Answer("deadlines", text, UNKNOWN, reason, unique(evidence), {"regimes": deadlines})
    statuses = {d["regime"]: d["status"] for d in deadlines if d["applies"] == "yes"}
    undetermined = [d["regime"] for d in deadlines if d["applies"] == "undetermined"]
    missed = [r for r, s in statuses.items() if s in ("missed", "late")]
    waiting = [r for r, s in statuses.items() if s in ("pending", "due_soon")]
    if missed:
        verdict, reason = NO, "deadline missed or report filed late: " + ", ".join(missed)
    elif undetermined:
        verdict, reason = (
            UNKNOWN,
            "cannot tell whether these apply (classification or registration incomplete): " + ", ".join(undetermined),
        )
    elif waiting:
        verdict, reason = PARTLY, "not yet filed, not yet due: " + ", ".join(waiting)
    elif statuses:
        verdict, reason = YES, "every applicable report filed in time: " + ", ".join(statuses)
    else:
        verdict, reason = YES, "no reporting regime applies to this incident as classified"
    return Answer("deadlines", text, verdict, reason, unique(evidence), {"regimes": deadlines})


def _changes_answer(ctx: IncidentContext, now: int, reportable: bool) -> Answer:
    text = "Was the tool left unaltered between awareness of the incident and its external report?"
    alterations, status_changes, until = changes_after_awareness(ctx, now=now)
    details = {
        "aware_at": iso(ctx.incident.aware_us),
        "reported_externally_at": iso(until),
        "alterations": [r.entry() for r in alterations],
        "status_changes": [r.entry() for r in status_changes],
        "reportable": reportable,
    }
    evidence = [r.evidence("changed after awareness, before the report") for r in alterations]
    evidence += [r.evidence("status change after awareness (not an alteration)") for r in status_changes]
    if ctx.incident.aware_us is None:
        return Answer("changes_after_awareness", text, UNKNOWN, "awareness time not recorded", (), details)
    if not computable(ctx.incident.aware_us):
        reason = aware_out_of_range(ctx.incident)
        return Answer("changes_after_awareness", text, UNKNOWN, reason, unique(evidence), details)
    if alterations:
        kinds = ", ".join(sorted({r.type for r in alterations}))
        return Answer(
            "changes_after_awareness",
            text,
            NO,
            f"{len(alterations)} alteration(s) recorded ({kinds})",
            unique(evidence),
            details,
        )
    return Answer(
        "changes_after_awareness",
        text,
        YES,
        "no update or threshold change recorded in that period",
        unique(evidence),
        details,
    )


def accountability_report(
    views: Views, incident_id: str, *, now: int | None = None, policy: Policy = DEFAULT_POLICY
) -> dict[str, Any]:
    """For each of the incident's outputs, every governance question with its verdict and evidence;
    then the reporting deadlines, the changes after awareness and the response against the playbook."""
    now = now_us() if now is None else now
    with views.reading() as snap:
        ctx = load_incident(snap, incident_id)
        response = judge_context(snap, ctx, now=now)
        position = snap.position
    return _report(ctx, response, position, incident_id, now=now, policy=policy)


def _report(
    ctx: IncidentContext, response: Judgement, position: int, incident_id: str, *, now: int, policy: Policy
) -> dict[str, Any]:
    deadlines = reporting_deadlines(ctx, now=now, policy=policy)
    reportable = any(d["applies"] != "no" for d in deadlines)
    per_output = [(case.output_id, evaluate(case)) for case in ctx.cases]
    outputs = [{"output_id": output_id, "answers": answers} for output_id, answers in per_output]
    incident_answers = [
        _deadline_answer(deadlines, ctx),
        _changes_answer(ctx, now, reportable),
        response_answer(response),
    ]
    verdicts = [a.verdict for _, answers in per_output for a in answers] + [a.verdict for a in incident_answers]
    return {
        "incident_id": incident_id,
        "position": position,
        "evaluated_at": iso(now),
        "incident": incident_summary(ctx.incident),
        "tools": ctx.tool_ids,
        "outputs": outputs,
        "incident_answers": incident_answers,
        "summary": {v: verdicts.count(v) for v in (YES, NO, PARTLY, UNKNOWN)},
    }
