"""Did the organisation respond to an incident as its own policy promised? Each expected step judged.

For an incident of one kind, known at ``aware_at``, projections.playbooks names
the steps expected (from the policy or playbook in force at ``aware_at``, so a
policy changed mid-way does not move the goalposts of an incident already
known). Each expected step is then:

* ``done``: the first ``incident.response_step`` of that kind was taken by its
  deadline (``aware_at`` + ``due_hours``); its evidence is that event and the
  ledger events its ``evidence_refs`` name;
* ``late``: taken, after the deadline (the deadline missed is given);
* ``missing``: not taken, and the deadline has passed (as of ``now``);
* ``pending``: not taken, not yet due.

A step taken by someone whose role is not the one the playbook expects
(``performed_by_role``, else the recorder's role) is still done or late, with
``by_expected_role`` false: recorded, and flagged. When is a step taken: its
``performed_at``, else its ``occurred_at``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from projections.answers import NO, PARTLY, UNKNOWN, YES, Answer, Evidence, unique
from projections.playbooks import DEFAULT_PLAYBOOK, STEP, Expected, Governance, Step, unanswered
from projections.queries.loading import IncidentContext, load_incident
from projections.schema import GOVERNED
from projections.timefmt import computable, iso, now_us
from projections.views import EventRow, IncidentRow, Snapshot, Views


@dataclass(frozen=True)
class StepVerdict:
    """One expected step, judged."""

    step: str
    status: str  # done, late, missing, pending
    due_at: str | None
    due_hours: int
    role_expected: str | None
    taken_at: str | None
    performed_by: str | None
    performed_by_role: str | None
    by_expected_role: bool | None  # None when the playbook names no role, or the step was not taken
    deadline_missed: str | None  # the deadline, when the step is late or missing
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Judgement:
    """An incident's response: the expected steps judged, the steps taken that no playbook asked for."""

    incident_id: str
    tool_id: str | None
    error_kind: str | None
    aware_at: str | None
    expected_from: str | None  # policy, tool_playbook, organisation_playbook, default; None if nothing was promised
    source_evidence: tuple[Evidence, ...]
    steps: tuple[StepVerdict, ...]
    other_steps: tuple[Evidence, ...]
    verdict: str
    reason: str


def load_governance(snap: Snapshot, tool_ids: Iterable[str]) -> dict[str, Governance]:
    """Each tool's policies and playbooks, with the organisation's playbooks."""
    tools = sorted(set(tool_ids))
    rows = snap.events(
        GOVERNED + " AND type <> :step AND (tool_id IS NULL OR @in(tool_id, :tools))", {"step": STEP, "tools": tools}
    )
    return {tool: Governance(tool, rows) for tool in tools}


def referenced(snap: Snapshot, steps: Iterable[EventRow]) -> dict[str, EventRow]:
    """The ledger events the steps' ``evidence_refs`` name by event_id (other references are documents)."""
    refs = sorted({str(r) for s in steps for r in s.facts.get("evidence_refs") or []})
    return {row.event_id: row for row in snap.events("@in(event_id, :ids)", {"ids": refs})} if refs else {}


def steps_by_incident(snap: Snapshot) -> dict[str, list[EventRow]]:
    """Every response step recorded, by incident, in time order."""
    steps: dict[str, list[EventRow]] = defaultdict(list)
    for row in snap.events(GOVERNED + " AND type = :step", {"step": STEP}):
        steps[str(row.incident_id)].append(row)
    return steps


def primary_tool(incident: IncidentRow, tool_ids: Sequence[str]) -> str | None:
    """The tool whose policy governs the response: the incident's own, else its outputs' (the first, sorted)."""
    if incident.tool_id:
        return incident.tool_id
    return sorted(tool_ids)[0] if tool_ids else None


def judge(
    incident: IncidentRow,
    *,
    tool_id: str | None,
    governance: Governance | None,
    taken: Sequence[EventRow],
    refs: dict[str, EventRow],
    now: int,
) -> Judgement:
    """The incident's expected steps, each done, late, missing or pending as of ``now``."""
    aware, kind = incident.aware_us, incident.category
    base = Judgement(incident.incident_id, tool_id, kind, iso(aware), None, (), (), (), UNKNOWN, "")
    steps_taken = sorted((r for r in taken if r.type == STEP), key=lambda r: (r.effective_us, r.seq))
    if aware is None or not computable(aware) or kind is None:
        return replace(base, reason="no awareness time the ledger can count from is recorded, so no step is due")
    expected = None if governance is None else governance.expected(kind, aware)
    if expected is None:
        reason = f"no policy or playbook for {tool_id or 'the tool'} was in force when the incident became known"
        return replace(base, other_steps=tuple(r.evidence("response step") for r in steps_taken), reason=reason)
    verdicts = tuple(_judge_step(s, aware, steps_taken, refs, now) for s in expected.steps)
    named = {s.step for s in expected.steps}
    other = tuple(
        r.evidence("response step no playbook asked for") for r in steps_taken if r.facts.get("step") not in named
    )
    verdict, reason = _verdict(verdicts)
    return replace(
        base,
        expected_from=expected.source,
        source_evidence=_source_evidence(expected),
        steps=verdicts,
        other_steps=other,
        verdict=verdict,
        reason=reason,
    )


def _source_evidence(expected: Expected) -> tuple[Evidence, ...]:
    rows = [
        (expected.event, f"{expected.source} in force at awareness"),
        (expected.policy, "policy in force at awareness"),
    ]
    return unique(row.evidence(note) for row, note in rows if row is not None)


def _judge_step(step: Step, aware: int, taken: Sequence[EventRow], refs: dict[str, EventRow], now: int) -> StepVerdict:
    due = aware + step.due_us
    mine = [r for r in taken if r.facts.get("step") == step.step]
    first = mine[0] if mine else None
    if first is None:
        status = "missing" if now > due else "pending"
        return StepVerdict(
            step.step,
            status,
            iso(due),
            step.due_hours,
            step.role,
            None,
            None,
            None,
            None,
            iso(due) if status == "missing" else None,
            (),
        )
    role = first.facts.get("performed_by_role") or first.actor_role
    status = "done" if first.effective_us <= due else "late"
    note = "step taken in time" if status == "done" else f"step taken after its deadline {iso(due)}"
    evidence = [first.evidence(note)]
    for ref in first.facts.get("evidence_refs") or []:
        row = refs.get(str(ref))
        if row is not None:
            evidence.append(row.evidence(f"evidence of {step.step}"))
    return StepVerdict(
        step.step,
        status,
        iso(due),
        step.due_hours,
        step.role,
        iso(first.effective_us),
        str(first.facts.get("performed_by")),
        str(role),
        None if step.role is None else role == step.role,
        iso(due) if status == "late" else None,
        unique(evidence),
    )


def _verdict(steps: Sequence[StepVerdict]) -> tuple[str, str]:
    late = [s.step for s in steps if s.status == "late"]
    missing = [s.step for s in steps if s.status == "missing"]
    pending = [s.step for s in steps if s.status == "pending"]
    wrong = [s.step for s in steps if s.by_expected_role is False]
    if late or missing:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + ([f"late: {', '.join(late)}"] if late else [])
        return NO, "; ".join(parts)
    if pending:
        return PARTLY, f"not yet due: {', '.join(pending)}"
    if wrong:
        return PARTLY, f"taken in time, but not by the role the playbook names: {', '.join(wrong)}"
    return YES, "every expected step taken in time: " + ", ".join(s.step for s in steps)


def response_answer(judgement: Judgement) -> Answer:
    """The report's question: did the response follow the playbook in force when the incident became known?"""
    text = "Did the response follow the policy and playbook in force when the incident became known?"
    evidence = [*judgement.source_evidence, *(e for s in judgement.steps for e in s.evidence)]
    details = {
        "expected_from": judgement.expected_from,
        "error_kind": judgement.error_kind,
        "steps": judgement.steps,
        "other_steps": judgement.other_steps,
    }
    return Answer("response", text, judgement.verdict, judgement.reason, unique(evidence), details)


def judge_context(snap: Snapshot, ctx: IncidentContext, *, now: int) -> Judgement:
    """Judge a loaded incident's response (the accountability report's path)."""
    tool = primary_tool(ctx.incident, ctx.tool_ids)
    governance = load_governance(snap, [tool]).get(tool) if tool else None
    steps = ctx.of_type(STEP)
    return judge(ctx.incident, tool_id=tool, governance=governance, taken=steps, refs=referenced(snap, steps), now=now)


def incident_response(views: Views, incident_id: str, *, now: int | None = None) -> dict[str, Any]:
    """The incident's response judged against its policy, with the policy in force at awareness."""
    now = now_us() if now is None else now
    with views.reading() as snap:
        ctx = load_incident(snap, incident_id)
        judgement = judge_context(snap, ctx, now=now)
        tool = judgement.tool_id
        policy = None
        if tool is not None and ctx.incident.aware_us is not None:
            policy = load_governance(snap, [tool])[tool].policy(ctx.incident.aware_us)
        position = snap.position
    return {
        "incident_id": incident_id,
        "position": position,
        "evaluated_at": iso(now),
        "policy": None if policy is None else policy_summary(policy),
        "response": judgement,
    }


def policy_summary(policy: EventRow) -> dict[str, Any]:
    """A policy event: its id, when in force from, its answers and the questions it leaves open."""
    return {
        "policy_id": policy.facts.get("policy_id"),
        "tool_id": policy.tool_id,
        "in_force_from": iso(policy.effective_us),
        "unanswered": unanswered(policy),
        "facts": policy.facts,
        "evidence": policy.evidence("policy"),
    }


def tool_policy(views: Views, tool_id: str, *, as_of: int | None = None) -> dict[str, Any]:
    """The tool's policy in force at ``as_of`` (default: now), every earlier one, and the expected steps by kind."""
    at = now_us() if as_of is None else as_of
    with views.reading() as snap:
        governance = load_governance(snap, [tool_id])[tool_id]
        position = snap.position
    current = governance.policy(at)
    playbook = {}
    for kind in DEFAULT_PLAYBOOK:
        expected = governance.expected(kind, at)
        playbook[kind] = None if expected is None else {"from": expected.source, "steps": expected.steps}
    return {
        "tool_id": tool_id,
        "position": position,
        "as_of": iso(at),
        "policy": None if current is None else policy_summary(current),
        "history": [policy_summary(p) for p in governance.policies],
        "playbook": playbook,
    }
