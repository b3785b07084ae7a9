"""Governance decided before the first error: the go-live policy of each tool that has one.

Only LungFlag CXR went live with a policy answering all five questions (what
failure looks like, how it is detected, who reviews it, how fast the
organisation intervenes, how repeat harm is prevented); the other tools went
live without one, which the gaps show. Response playbooks and the steps taken
on the incidents belong here too, as further sections.
"""

from __future__ import annotations

from scripts.demo_hospital.cast import COMMITTEE, CXR
from scripts.demo_hospital.story import Story, iso


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


POLICY_SECTIONS = (policies,)
