"""Governance decided before the first error: each tool's policy, and the response steps taken on the incidents.

Only LungFlag CXR went live with a policy answering all five questions (what
failure looks like, how it is detected, who reviews it, how fast the
organisation intervenes, how repeat harm is prevented); the other tools went
live without one, which the gaps show (``tool_without_policy``, for their
first weeks of outputs). The committee caught up 30 days before the anchor,
before the first incident: a policy for each of the four, adopting the default
playbook (projections.playbooks.DEFAULT_PLAYBOOK). NoteDraft's never says what
a remediation must show before it counts as effective
(``policy_question_unanswered``).

The response to each incident, judged against the policy in force when it
became known:

* INC-D01 (SepsisWatch, false negative): clinical review and escalation
  analysis, both in time: the playbook followed.
* INC-D02 (Deterioration Index, false positive): the threshold reassessment
  came five hours after its seven-day deadline; the workflow reassessment is
  not yet due.
* INC-D03 (TriageIQ, misprioritization): case review in time; the process
  correction is due within hours.
* INC-D04 (NoteDraft, faulty recommendation): output validation in time; the
  guardrail review, due a week ago, was never done.
* INC-D05 (TriageIQ, workflow amplification): nothing yet, and nothing due yet.
"""

from __future__ import annotations

from typing import Any, Final

from scripts.demo_hospital.cast import CMIO, COMMITTEE, CXR, DETERIORATION, DOC_ASSIST, ED_TRIAGE, SEPSIS, Tool
from scripts.demo_hospital.story import Story, iso

LATE_POLICY_DAYS: Final = 30  # after go-live (six weeks of care), before the first incident
SOURCE: Final = "governance"
# tool -> (the kind of error that matters most for it, what that looks like)
FAILURES: Final = {
    SEPSIS.tool_id: ("false_negative", "A septic adult not flagged in time."),
    ED_TRIAGE.tool_id: ("misprioritization", "A patient triaged below their true acuity."),
    DETERIORATION.tool_id: ("false_positive", "Alerts on stable patients that teach staff to dismiss them."),
    DOC_ASSIST.tool_id: ("faulty_recommendation", "A draft that changes a medication the physician did not intend."),
}
REVIEWER: Final = {"id": "clin-nicu-01", "role": "attending_physician", "kind": "person"}
# incident -> [(step, days before the anchor it was taken, the story events it cites as evidence)]
STEPS: Final[dict[str, list[tuple[str, float, list[str]]]]] = {
    "INC-D01": [
        ("clinical_review", 23.5, ["INC-D01/reported"]),
        ("escalation_analysis", 15, ["INC-D01/reported-externally"]),
    ],
    "INC-D02": [("threshold_reassessment", 7.5 - 7 - 5 / 24, ["INC-D02/reported"])],  # aware 7.5 days before
    "INC-D03": [("case_review", 13, ["INC-D03/reported"])],
    "INC-D04": [("output_validation", 20, ["INC-D04/reported"])],
}


def policies(story: Story) -> None:
    """LungFlag CXR's go-live policy, in force before its first output."""
    effective = story.at(163)
    story.add(
        f"policy/{CXR.tool_id}",
        "governance.policy_set",
        effective,
        COMMITTEE,
        "governance",
        {
            "policy_id": "AIGC-POL-cxr-triage-1",
            "tool_id": CXR.tool_id,
            "effective_from": iso(effective),
            "failure_modes": [
                {"error_kind": "false_negative", "clinical_meaning": "A pneumothorax not flagged waits in the queue."},
                {"error_kind": "false_positive", "clinical_meaning": "Flags without a finding push others back."},
                {"error_kind": "misprioritization", "clinical_meaning": "An urgent film read after routine ones."},
            ],
            "detection": ["weekly_ppv_monitoring", "radiologist_discrepancy_report", "safety_reporting"],
            "review_owner": "radiology_quality_lead",
            "intervention": {"review_start_hours": 24, "first_step_hours": 48, "remediation_days": 30},
            "repeat_prevention": {
                "required_evidence": ["post_fix_audit", "monitoring_check"],
                "description": "A fix counts once an audit and two weekly checks show the failure has not recurred.",
            },
            "acceptable_use": "Worklist prioritisation only; every film is still read by a radiologist.",
            "escalation_pathway": ["reading_radiologist", "radiology_quality_lead", "aigc-network"],
        },
    )


def _late_policy(tool: Tool) -> dict[str, Any]:
    kind, meaning = FAILURES[tool.tool_id]
    data: dict[str, Any] = {
        "policy_id": f"AIGC-POL-{tool.tool_id}-1",
        "tool_id": tool.tool_id,
        "failure_modes": [{"error_kind": kind, "clinical_meaning": meaning}],
        "detection": ["drift_monitoring", "safety_reporting", "clinician_feedback"],
        "review_owner": CMIO["id"],
        "intervention": {"review_start_hours": 72, "first_step_hours": 72, "remediation_days": 30},
        "repeat_prevention": {"required_evidence": ["post_fix_audit", "monitoring_check"]},
        "escalation_pathway": ["bedside_clinician", "attending_physician", "rapid_response_team"],
        "documentation": ["rca2_report", "timeline"],
    }
    if tool is DOC_ASSIST:
        del data["repeat_prevention"]  # the committee never said what a fix must show
    return data


def late_policies(story: Story) -> None:
    """The four tools that went live without a policy get one, before the first incident."""
    for n, tool in enumerate((SEPSIS, ED_TRIAGE, DETERIORATION, DOC_ASSIST)):
        when = story.at(LATE_POLICY_DAYS - n / 24)
        story.add(f"policy/{tool.tool_id}", "governance.policy_set", when, COMMITTEE, SOURCE, _late_policy(tool))


def responses(story: Story) -> None:
    """The response steps taken on the incidents (told after them: the evidence they cite is named)."""
    for incident, steps in STEPS.items():
        for step, days, evidence in steps:
            data = {
                "incident_id": incident,
                "step": step,
                "performed_by": REVIEWER["id"],
                "performed_by_role": REVIEWER["role"],
                "performed_at": iso(story.at(days)),
                "outcome": f"{step.replace('_', ' ').capitalize()} done; findings in the incident file.",
                "evidence_refs": [story.names[name] for name in evidence],
            }
            story.add(f"{incident}/step/{step}", "incident.response_step", story.at(days), REVIEWER, SOURCE, data)


POLICY_SECTIONS: Final = (policies, late_policies)
RESPONSE_SECTIONS: Final = (responses,)
