"""The gaps of governance set before the first error: tools without a policy, open go-live questions, responses
that missed the playbook.

    tool_without_policy          a tool produced outputs while no policy of its own was in force
                                 (one gap per tool, at its first such output in the window)
    policy_question_unanswered   a policy leaves one of the five go-live questions unanswered (one gap per policy)
    response_step_missing        an expected response step not taken by its deadline (as of now)
    response_step_late           an expected response step taken after its deadline
    response_step_wrong_role     an expected response step taken by another role than the playbook names

The response gaps are those of the accountability report's ``response`` answer
(projections.queries.response.judge), so the two always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from projections.answers import Evidence, unique
from projections.playbooks import QUESTIONS, Governance, unanswered
from projections.queries.response import Judgement, judge, primary_tool, referenced, steps_by_incident
from projections.timefmt import iso
from projections.views import IncidentRow, Snapshot

KINDS: Final = (
    "tool_without_policy",
    "policy_question_unanswered",
    "response_step_missing",
    "response_step_late",
    "response_step_wrong_role",
)


class Found(NamedTuple):
    """One gap, in the fields of projections.queries.gaps.Gap."""

    kind: str
    at: str | None
    reason: str
    evidence: tuple[Evidence, ...]
    tool_id: str | None = None
    output_id: str | None = None
    incident_id: str | None = None


Holds = Callable[[int | None], bool]

_OUTPUTS: Final = (
    "tool_id = :tool AND (CAST(:start AS {int}) IS NULL OR generated_us >= :start) "
    "AND (CAST(:end AS {int}) IS NULL OR generated_us <= :end)"
)


def tool_gaps(
    snap: Snapshot, governance: Governance, *, start: int | None, end: int | None, holds: Holds
) -> list[Found]:
    """A tool's outputs with no policy in force, and its policies' unanswered questions."""
    found: list[Found] = []
    tool = governance.tool_id
    outputs = snap.outputs(_OUTPUTS, {"tool": tool, "start": start, "end": end})
    bare = [o for o in outputs if governance.policy(o.generated_us) is None]
    if bare:
        first, last = bare[0], bare[-1]
        period = f"from {iso(first.generated_us)} to {iso(last.generated_us)}"
        reason = f"{len(bare)} output(s) {period} with no policy in force"
        ends = [first.evidence("first output with no policy")]
        if last.seq != first.seq:
            ends.append(last.evidence("last output with no policy"))
        evidence = unique(ends)
        found.append(Found("tool_without_policy", iso(first.generated_us), reason, evidence, tool_id=tool))
    for policy in governance.policies:
        missing = unanswered(policy)
        if missing and holds(policy.effective_us):
            questions = "; ".join(f"{name} ({QUESTIONS[name]})" for name in missing)
            reason = f"policy {policy.facts.get('policy_id')} leaves unanswered: {questions}"
            evidence = (policy.evidence("policy with unanswered questions"),)
            found.append(Found("policy_question_unanswered", iso(policy.effective_us), reason, evidence, tool_id=tool))
    return found


def judgement_gaps(judgement: Judgement) -> list[Found]:
    """The gaps a judged response shows: each step missing, late or taken by another role."""
    ids = {"tool_id": judgement.tool_id, "incident_id": judgement.incident_id}
    found = []
    for step in judgement.steps:
        if step.status == "missing":
            reason = f"{step.step} due {step.due_at} ({step.due_hours} hours after awareness), not taken"
            found.append(Found("response_step_missing", step.due_at, reason, judgement.source_evidence, **ids))
        elif step.status == "late":
            reason = f"{step.step} taken at {step.taken_at}, after its deadline {step.deadline_missed}"
            evidence = unique([*judgement.source_evidence, *step.evidence])
            found.append(Found("response_step_late", step.due_at, reason, evidence, **ids))
        if step.by_expected_role is False:
            reason = f"{step.step} taken by {step.performed_by_role}, the playbook names {step.role_expected}"
            evidence = unique([*judgement.source_evidence, *step.evidence])
            found.append(Found("response_step_wrong_role", step.taken_at, reason, evidence, **ids))
    return found


def incident_response_gaps(
    snap: Snapshot,
    incidents: Sequence[tuple[IncidentRow, Sequence[str]]],
    *,
    governance: Callable[[str], Governance],
    now: int,
) -> list[Found]:
    """The response gaps of each (incident, the tools involved in it)."""
    steps = steps_by_incident(snap)
    refs = referenced(snap, [s for rows in steps.values() for s in rows])
    found: list[Found] = []
    for incident, tools in incidents:
        tool = primary_tool(incident, tools)
        judgement = judge(
            incident,
            tool_id=tool,
            governance=None if tool is None else governance(tool),
            taken=steps.get(incident.incident_id, []),
            refs=refs,
            now=now,
        )
        found += judgement_gaps(judgement)
    return found
