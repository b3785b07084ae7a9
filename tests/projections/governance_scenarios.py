"""Governance stories: policies and playbooks recorded before the first error, incidents, and the steps taken.

Built on tests.projections.scenarios.Scenario (deterministic ids; seq = position + 1 in a fresh ledger).

    kind_story(kind)   one tool per error kind, a complete policy (the default playbook's steps), one output,
                       incident A whose two expected steps were taken in time (each citing the report as
                       evidence), incident B whose first step was late and second never taken
    policy_change()    a policy lengthened mid-way: a step 48 h after awareness is late under
                       the policy in force when incident OLD became known (24 h), in time for NEW (96 h)
    recurrence_story() incidents of one tool and kind before and after a verified remediation, and incidents
                       of another kind and another tool (whose remediation was not verified effective)
    gaps_story()       a tool with outputs and no policy, one whose policy leaves two questions open, one whose
                       policy is complete; a step taken by another role than the playbook names
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.projections.scenarios import ADULTS, COMMITTEE, EHR, RISK, VENDOR, Scenario

NOW = "2026-06-01T09:00:00Z"
CLINICIAN = {"id": "clin-0007", "role": "attending_physician", "kind": "person"}
# The default playbook (projections.playbooks.DEFAULT_PLAYBOOK): the two steps of each kind, and their hours.
STEPS = {
    "false_negative": (("clinical_review", 72), ("escalation_analysis", 336)),
    "false_positive": (("threshold_reassessment", 168), ("workflow_reassessment", 336)),
    "misprioritization": (("case_review", 72), ("process_correction", 336)),
    "faulty_recommendation": (("output_validation", 72), ("guardrail_review", 336)),
    "workflow_amplification": (("training", 336), ("governance_response", 720)),
}


def answers(kind: str) -> dict[str, Any]:
    """The five go-live questions, all answered."""
    return {
        "failure_modes": [{"error_kind": kind, "clinical_meaning": "The failure that matters most for this tool."}],
        "detection": ["drift_monitoring", "incident_reporting"],
        "review_owner": "clin-0007",
        "intervention": {"review_start_hours": 72, "first_step_hours": 72, "remediation_days": 30},
        "repeat_prevention": {"required_evidence": ["post_fix_audit"]},
    }


def policy(s: Scenario, name: str, tool: str, *, at: str, data: dict[str, Any], effective: str | None = None) -> None:
    """Record a governance.policy_set."""
    body = {"policy_id": f"POL-{name}", "tool_id": tool, **data}
    if effective:
        body["effective_from"] = effective
    s.add(name, "governance.policy_set", at, COMMITTEE, body)


def output(s: Scenario, name: str, tool: str, *, at: str, unit: str = "ed") -> None:
    """Record an output.generated."""
    s.add(
        name,
        "output.generated",
        at,
        VENDOR,
        {
            "output_id": name,
            "tool_id": tool,
            "model_version": "1.0",
            "site": "northside",
            "unit": unit,
            "population": ADULTS,
            "patient_ref": f"Patient/pseud-{name}",
            "encounter_ref": f"Encounter/enc-{name}",
            "score": 0.7,
            "label": "risk_high",
            "priority": "urgent",
            "threshold_in_effect": 0.6,
        },
    )


def shown_and_acted(s: Scenario, output_id: str, *, shown: str, acted: str) -> None:
    """Record a display of the output and the clinician's action on it."""
    s.add(
        f"{output_id}-shown",
        "output.shown",
        shown,
        EHR,
        {"output_id": output_id, "clinician_id": "clin-0007", "surface": "ed_board", "shown_at": shown},
    )
    s.add(
        f"{output_id}-acted",
        "output.acted",
        acted,
        EHR,
        {"output_id": output_id, "clinician_id": "clin-0007", "action": "accepted", "acted_at": acted},
    )


def incident(s: Scenario, incident_id: str, tool: str, kind: str, *, aware: str, outputs: list[str]) -> None:
    """Record an incident.reported (named ``incident_id`` in the scenario)."""
    s.add(
        incident_id,
        "incident.reported",
        aware,
        RISK,
        {
            "incident_id": incident_id,
            "category": kind,
            "output_ids": outputs,
            "harm": "mild_harm",
            "aware_at": aware,
            "description": "Reported at the morning huddle.",
            "tool_id": tool,
        },
    )


def step(
    s: Scenario,
    name: str,
    incident_id: str,
    kind: str,
    *,
    at: str,
    role: str = "attending_physician",
    refs: list[str] | None = None,
) -> None:
    """Record an incident.response_step taken at ``at`` by clin-0007 in ``role``."""
    data: dict[str, Any] = {
        "incident_id": incident_id,
        "step": kind,
        "performed_by": "clin-0007",
        "performed_by_role": role,
        "performed_at": at,
        "outcome": "Done; see the attached record.",
    }
    if refs:
        data["evidence_refs"] = refs
    s.add(name, "incident.response_step", at, CLINICIAN, data)


def kind_story(kind: str) -> Scenario:
    """One tool, a complete policy, incident A followed in time, incident B with one step late and one missing."""
    s, tool = Scenario(f"gov-{kind}"), f"{kind}-tool"
    policy(s, "policy", tool, at="2026-01-01T09:00:00Z", data=answers(kind))
    output(s, "out-a", tool, at="2026-03-01T10:00:00Z")
    shown_and_acted(s, "out-a", shown="2026-03-01T10:01:00Z", acted="2026-03-01T10:04:00Z")
    (first, first_hours), (second, _) = STEPS[kind]
    incident(s, "INC-A", tool, kind, aware="2026-03-02T09:00:00Z", outputs=["out-a"])
    s.add("assigned-a", "incident.assigned", "2026-03-02T11:00:00Z", RISK, {"incident_id": "INC-A", "reviewer": "x"})
    report_a = s.event_id("INC-A")
    step(s, "a-first", "INC-A", first, at="2026-03-03T09:00:00Z", refs=[report_a, "DOC-17"])
    step(s, "a-second", "INC-A", second, at="2026-03-04T09:00:00Z", refs=[report_a])
    incident(s, "INC-B", tool, kind, aware="2026-03-10T09:00:00Z", outputs=["out-a"])
    late = first_hours + 24  # a day after its deadline
    step(s, "b-first", "INC-B", first, at=_after("2026-03-10T09:00:00Z", hours=late))
    return s


def _after(at: str, *, hours: int) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def review_within(hours: int) -> list[dict[str, Any]]:
    """A policy's own playbook: false negatives call for a clinical review within ``hours``."""
    return [{"error_kind": "false_negative", "steps": [{"step": "clinical_review", "due_hours": hours}]}]


def policy_change() -> Scenario:
    """The clinical review's deadline goes from 24 to 96 hours between the two incidents' awareness."""
    s, tool = Scenario("gov-change"), "change-tool"
    policy(
        s,
        "policy-v1",
        tool,
        at="2026-01-01T09:00:00Z",
        data={**answers("false_negative"), "responses": review_within(24)},
    )
    incident(s, "INC-OLD", tool, "false_negative", aware="2026-02-01T09:00:00Z", outputs=[])
    policy(
        s,
        "policy-v2",
        tool,
        at="2026-02-01T12:00:00Z",
        effective="2026-02-02T00:00:00Z",
        data={**answers("false_negative"), "responses": review_within(96)},
    )
    step(s, "old-review", "INC-OLD", "clinical_review", at="2026-02-03T09:00:00Z")  # 48 h: late under v1
    incident(s, "INC-NEW", tool, "false_negative", aware="2026-02-10T09:00:00Z", outputs=[])
    step(s, "new-review", "INC-NEW", "clinical_review", at="2026-02-12T09:00:00Z")  # 48 h: in time under v2
    return s


def recurrence_story() -> Scenario:
    """Tool R, false negatives: R1 and R2 before R1's remediation is verified effective, R3 after it; a false
    positive of R and a false negative of another tool after it too (not recurrences of R's false negatives)."""
    s = Scenario("gov-recur")
    incident(s, "R1", "rec-tool", "false_negative", aware="2026-02-01T09:00:00Z", outputs=[])
    incident(s, "R2", "rec-tool", "false_negative", aware="2026-02-15T09:00:00Z", outputs=[])
    remediate(s, "REM-R1", "R1", planned="2026-02-02T09:00:00Z", done="2026-03-01T09:00:00Z", effective=True)
    incident(s, "R3", "rec-tool", "false_negative", aware="2026-04-01T09:00:00Z", outputs=[])
    incident(s, "R4", "rec-tool", "false_positive", aware="2026-04-02T09:00:00Z", outputs=[])
    incident(s, "O1", "other-tool", "false_negative", aware="2026-02-01T09:00:00Z", outputs=[])
    remediate(s, "REM-O1", "O1", planned="2026-02-02T09:00:00Z", done="2026-03-01T09:00:00Z", effective=False)
    incident(s, "O2", "other-tool", "false_negative", aware="2026-04-03T09:00:00Z", outputs=[])
    return s


def remediate(s: Scenario, remediation: str, incident_id: str, *, planned: str, done: str, effective: bool) -> None:
    """A remediation planned for the incident, then completed (verified effective or not)."""
    s.add(
        f"{remediation}-planned",
        "remediation.planned",
        planned,
        RISK,
        {
            "incident_id": incident_id,
            "remediation_id": remediation,
            "action": "Retune the threshold and re-audit.",
            "owner": "staff-0420",
            "due_at": done,
        },
    )
    s.add(
        f"{remediation}-completed",
        "remediation.completed",
        done,
        RISK,
        {"remediation_id": remediation, "verified_by": "staff-0192", "effective": effective},
    )


def gaps_story() -> Scenario:
    """Three tools with outputs: none, half and full policies; a step by the wrong role under the full one."""
    s = Scenario("gov-gaps")
    output(s, "out-none", "none-tool", at="2026-03-01T10:00:00Z")
    half = answers("false_negative")
    del half["review_owner"], half["repeat_prevention"]
    policy(s, "half", "half-tool", at="2026-01-01T09:00:00Z", data=half)
    output(s, "out-half", "half-tool", at="2026-03-01T10:00:00Z")
    roles = [
        {
            "error_kind": "false_negative",
            "steps": [{"step": "clinical_review", "due_hours": 72, "role": "attending_physician"}],
        }
    ]
    policy(s, "full", "full-tool", at="2026-01-01T09:00:00Z", data={**answers("false_negative"), "responses": roles})
    output(s, "out-full", "full-tool", at="2026-03-01T10:00:00Z")
    incident(s, "INC-ROLE", "full-tool", "false_negative", aware="2026-03-02T09:00:00Z", outputs=["out-full"])
    step(s, "by-nurse", "INC-ROLE", "clinical_review", at="2026-03-03T09:00:00Z", role="staff_nurse")
    return s
