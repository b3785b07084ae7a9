"""Governance set before the first error: a policy for each tool, and the response steps taken for each incident.

Every tool gets a policy before go-live (168 days before the anchor) that
adopts the default playbook (projections.playbooks.DEFAULT_PLAYBOOK). The
policies answer the five go-live questions, except NoteDraft's, which never
says what a remediation must show before it counts as effective
(``policy_question_unanswered``). The response to each incident:

* INC-D01 (SepsisWatch, false negative): clinical review and escalation
  analysis, both in time: the playbook followed.
* INC-D02 (Deterioration Index, false positive): the threshold reassessment
  came seven days and five hours after awareness, five hours late; the
  workflow reassessment is not yet due.
* INC-D03 (TriageIQ, misprioritization): case review in time; the process
  correction is due within hours.
* INC-D04 (NoteDraft, faulty recommendation): output validation in time; the
  guardrail review, due a week ago, was never done.
* INC-D05 (TriageIQ, workflow amplification): nothing yet, and nothing due yet.
"""

from __future__ import annotations

from typing import Any, Final

from scripts.demo_hospital.cast import CMIO, COMMITTEE, CXR, DETERIORATION, DOC_ASSIST, ED_TRIAGE, SEPSIS, TOOLS, Tool
from scripts.demo_hospital.story import Story, iso

POLICY_DAYS: Final = 168  # before the first output of any tool
SOURCE: Final = "governance"
# tool -> (the kind of error that matters most for it, what that looks like)
FAILURES: Final = {
    SEPSIS.tool_id: ("false_negative", "A septic adult not flagged in time."),
    CXR.tool_id: ("false_negative", "A pneumothorax left in the routine reading queue."),
    ED_TRIAGE.tool_id: ("misprioritization", "A patient triaged below their true acuity."),
    DETERIORATION.tool_id: ("false_positive", "Alerts on stable patients that teach staff to dismiss them."),
    DOC_ASSIST.tool_id: ("faulty_recommendation", "A draft that changes a medication the physician did not intend."),
}
REVIEWER: Final = {"id": "clin-nicu-01", "role": "attending_physician", "kind": "person"}
# incident -> [(step, days before the anchor it was taken, evidence: story event names)]
STEPS: Final[dict[str, list[tuple[str, float, list[str]]]]] = {
    "INC-D01": [
        ("clinical_review", 23.5, ["INC-D01/reported"]),
        ("escalation_analysis", 15, ["INC-D01/reported-externally"]),
    ],
    "INC-D02": [("threshold_reassessment", 7.5 - 7 - 5 / 24, ["INC-D02/reported"])],
    "INC-D03": [("case_review", 13, ["INC-D03/reported"])],
    "INC-D04": [("output_validation", 20, ["INC-D04/reported"])],
}


def _policy(tool: Tool) -> dict[str, Any]:
    kind, meaning = FAILURES[tool.tool_id]
    data: dict[str, Any] = {
        "policy_id": f"AIGC-POL-{tool.tool_id}",
        "tool_id": tool.tool_id,
        "failure_modes": [{"error_kind": kind, "clinical_meaning": meaning}],
        "detection": ["drift_monitoring", "incident_reporting", "clinician_feedback"],
        "review_owner": CMIO["id"],
        "intervention": {"review_start_hours": 72, "first_step_hours": 72, "remediation_days": 30},
        "repeat_prevention": {"required_evidence": ["post_fix_audit", "monitoring_check"]},
        "escalation_pathway": ["bedside_clinician", "attending_physician", "rapid_response_team"],
        "documentation": ["rca2_report", "timeline"],
    }
    if tool is DOC_ASSIST:
        del data["repeat_prevention"]  # the committee never said what a fix must show
    return data


def policies(story: Story) -> None:
    """One policy per tool, recorded by the committee before go-live."""
    for n, tool in enumerate(TOOLS):
        story.add(f"policy/{tool.tool_id}", "governance.policy_set", story.at(POLICY_DAYS - n), COMMITTEE, SOURCE,
                  _policy(tool))  # fmt: skip


def responses(story: Story) -> None:
    """The response steps taken for the five incidents (told after them: the evidence they cite is named)."""
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


PLAYBOOK_SECTIONS: Final = (policies, responses)
