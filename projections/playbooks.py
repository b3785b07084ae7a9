"""The response playbooks and the go-live questions: the default table, and which policy held when.

Read ``DEFAULT_PLAYBOOK`` as the table of docs/governance.md: for each kind of
error, the steps the organisation expects and their deadlines after awareness.
A hospital changes it by recording events, never by editing this file:

* ``governance.playbook_set`` without a tool: the organisation's playbook;
* ``governance.playbook_set`` for a tool: that tool's playbook;
* ``governance.policy_set`` with ``responses``: the tool's policy's own steps.

For an incident of one kind, known at ``aware_at``, the expected steps are
those of the first of these that lists the kind and is in force at
``aware_at``: the tool's policy, the tool's playbook, the organisation's
playbook; else the default table, if the tool has a policy in force then (the
policy adopts the default). With no policy and no recorded playbook in force,
nothing was promised: the response is "unknown: not recorded", and the tool's
outputs are a ``tool_without_policy`` gap.

A policy or playbook is in force from its ``effective_from`` (else its
``occurred_at``) until the next one of the same reach takes effect; ties by seq.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from projections.timefmt import HOUR
from projections.views import EventRow

POLICY: Final = "governance.policy_set"
PLAYBOOK: Final = "governance.playbook_set"
STEP: Final = "incident.response_step"


@dataclass(frozen=True)
class Step:
    """One expected response step: its kind, its deadline after awareness, the role expected to take it."""

    step: str
    due_hours: int
    role: str | None = None

    @property
    def due_us(self) -> int:
        """The deadline after awareness, in microseconds."""
        return self.due_hours * HOUR


# The starting playbook (issue 19): what each kind of error calls for, and by when after awareness.
DEFAULT_PLAYBOOK: Final[Mapping[str, tuple[Step, ...]]] = {
    "false_negative": (Step("clinical_review", 72), Step("escalation_analysis", 14 * 24)),
    "false_positive": (Step("threshold_reassessment", 7 * 24), Step("workflow_reassessment", 14 * 24)),
    "misprioritization": (Step("case_review", 72), Step("process_correction", 14 * 24)),
    "faulty_recommendation": (Step("output_validation", 72), Step("guardrail_review", 14 * 24)),
    "workflow_amplification": (Step("training", 14 * 24), Step("governance_response", 30 * 24)),
}

# The five go-live questions, by the policy field that answers each.
QUESTIONS: Final[Mapping[str, str]] = {
    "failure_modes": "What does failure look like for this tool?",
    "detection": "How will it be detected?",
    "review_owner": "Who reviews it?",
    "intervention": "How quickly does the organisation intervene?",
    "repeat_prevention": "How is repeat harm prevented?",
}


@dataclass(frozen=True)
class Expected:
    """The steps expected for an incident, and where the expectation comes from."""

    steps: tuple[Step, ...]
    source: str  # policy, tool_playbook, organisation_playbook, default
    event: EventRow | None  # the policy or playbook event (None for the default table)
    policy: EventRow | None  # the tool's policy in force then, if any


def unanswered(policy: EventRow) -> list[str]:
    """The go-live questions a policy leaves unanswered (absent or empty), in the order of QUESTIONS."""
    return [name for name in QUESTIONS if not policy.facts.get(name)]


def _steps(row: EventRow, kind: str) -> tuple[Step, ...] | None:
    for response in row.facts.get("responses") or []:
        if isinstance(response, dict) and response.get("error_kind") == kind:
            return tuple(_step(s) for s in response.get("steps") or [] if isinstance(s, dict))
    return None


def _step(raw: Mapping[str, Any]) -> Step:
    role = raw.get("role")
    return Step(str(raw.get("step")), int(raw.get("due_hours") or 0), None if role is None else str(role))


def _latest(rows: list[EventRow], at: int) -> EventRow | None:
    held = [r for r in rows if r.effective_us <= at]
    return held[-1] if held else None


class Governance:
    """One tool's policies and the playbooks that reach it (its own, the organisation's), as of any moment."""

    def __init__(self, tool_id: str, rows: Iterable[EventRow]) -> None:
        self.tool_id = tool_id
        ordered = sorted({r.seq: r for r in rows}.values(), key=lambda r: (r.effective_us, r.seq))
        self.policies = [r for r in ordered if r.type == POLICY and r.tool_id == tool_id]
        self.tool_playbooks = [r for r in ordered if r.type == PLAYBOOK and r.tool_id == tool_id]
        self.organisation_playbooks = [r for r in ordered if r.type == PLAYBOOK and r.tool_id is None]

    def policy(self, at: int) -> EventRow | None:
        """The tool's policy in force at ``at``."""
        return _latest(self.policies, at)

    def expected(self, kind: str, at: int) -> Expected | None:
        """The steps expected for an incident of ``kind`` known at ``at``; None when nothing was promised."""
        policy = self.policy(at)
        for source, row in (
            ("policy", policy),
            ("tool_playbook", _latest(self.tool_playbooks, at)),
            ("organisation_playbook", _latest(self.organisation_playbooks, at)),
        ):
            steps = None if row is None else _steps(row, kind)
            if row is not None and steps is not None:
                return Expected(steps, source, row, policy)
        if policy is not None and kind in DEFAULT_PLAYBOOK:
            return Expected(DEFAULT_PLAYBOOK[kind], "default", None, policy)
        return None
