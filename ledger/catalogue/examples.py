"""One valid example event per type: the JSON Schema's ``examples`` and the test vectors.

tests/testdata/events/<type>.valid.json holds exactly these events (a test
keeps the two equal), so a change here is a change to the published vectors.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.catalogue.control import CONTROL_TYPES, RESERVED_SOURCE

_MODEL_DIGEST: Final = "sha256:" + "3f4c9a1d" * 8
_MODEL_DIGEST_V2: Final = "sha256:" + "9b21e07c" * 8

_SYSTEM: Final = {"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"}
_COMMITTEE: Final = {"id": "aigc-northside", "role": "ai_governance_committee", "kind": "committee"}
_DR_OKAFOR: Final = {"id": "clin-4471", "role": "attending_physician", "kind": "person"}
_RISK: Final = {"id": "staff-0192", "role": "patient_safety_officer", "kind": "person"}


def _event(
    number: int, event_type: str, occurred_at: str, actor: dict[str, str], data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": f"6f1c2b7e-3d4a-4c8e-9a10-{number:012d}",
        "type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "source": _source(event_type, actor),
        "actor": actor,
        "data": data,
    }


def _source(event_type: str, actor: dict[str, str]) -> str:
    """The emitting system; the ledger's own source for its control events (ledger.catalogue.control)."""
    if event_type in CONTROL_TYPES:
        return RESERVED_SOURCE
    return "governance-portal" if actor["kind"] != "system" else "epic-prod.northside"


EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "tool.registered": _event(
        1,
        "tool.registered",
        "2026-01-05T09:00:00Z",
        _RISK,
        {
            "tool_id": "sepsis-watch",
            "name": "SepsisWatch",
            "vendor": "Acme Clinical AI",
            "version": "3.2.0",
            "intended_use": ("Early warning of sepsis risk for adult inpatients, as an aid to clinician judgement."),
            "regulatory_status": {
                "status": "device",
                "regime": "fda",
                "device_class": "II",
                "clearance_number": "K231234",
            },
            "model_digest": _MODEL_DIGEST,
            "ai_act_risk": "annex_i_device",
            "clinical_owner": "clin-0007",
        },
    ),
    "tool.approved": _event(
        2,
        "tool.approved",
        "2026-02-01T14:30:00+01:00",
        _COMMITTEE,
        {
            "tool_id": "sepsis-watch",
            "scope": {"sites": ["northside"], "units": ["ed", "icu"], "populations": ["adults_18_plus"]},
            "conditions": ["Monthly drift report to the committee", "Not for use in obstetric patients"],
            "signature_meaning": "approval",
            "expires_at": "2027-02-01T00:00:00Z",
            "approval_ref": "AIGC-2026-014",
            "version": "3.2.0",
            "approvers": ["clin-0007", "staff-0192"],
        },
    ),
    "tool.updated": _event(
        3,
        "tool.updated",
        "2026-06-10T22:15:00Z",
        _SYSTEM,
        {
            "tool_id": "sepsis-watch",
            "version": "3.3.0",
            "model_digest": _MODEL_DIGEST_V2,
            "change_summary": "Retrained on 2025 data; lactate feature added.",
            "previous_version": "3.2.0",
            "within_pccp": True,
        },
    ),
    "tool.validated": _event(
        4,
        "tool.validated",
        "2026-01-25T16:00:00Z",
        _DR_OKAFOR,
        {
            "tool_id": "sepsis-watch",
            "site": "northside",
            "unit": "ed",
            "population": "adults_18_plus",
            "data_period": {"start": "2025-01-01T00:00:00Z", "end": "2025-12-31T23:59:59Z"},
            "metrics": {
                "n": 4120,
                "n_positive": 311,
                "sensitivity": 0.82,
                "specificity": 0.91,
                "ppv": 0.43,
                "auroc": 0.88,
            },
            "result": "passed",
            "validation_ref": "VAL-2026-003",
            "threshold": 0.6,
        },
    ),
    "tool.threshold_changed": _event(
        5,
        "tool.threshold_changed",
        "2026-03-03T08:00:00Z",
        _DR_OKAFOR,
        {
            "tool_id": "sepsis-watch",
            "parameter": "alert_threshold",
            "old_value": 0.6,
            "new_value": 0.7,
            "reason": "Alert fatigue reported by ED nursing staff.",
            "change_ref": "CHG-88123",
            "unit": "ed",
        },
    ),
    "tool.suspended": _event(
        6,
        "tool.suspended",
        "2026-04-12T11:00:00Z",
        _COMMITTEE,
        {
            "tool_id": "sepsis-watch",
            "reason": "Suspected missed sepsis cases after threshold change; pending review.",
            "incident_id": "INC-2026-041",
        },
    ),
    "tool.reinstated": _event(
        7,
        "tool.reinstated",
        "2026-05-02T09:30:00Z",
        _COMMITTEE,
        {
            "tool_id": "sepsis-watch",
            "reason": "Threshold restored to 0.6 and staff briefed; review closed.",
        },
    ),
    "tool.retired": _event(
        8,
        "tool.retired",
        "2027-01-31T17:00:00Z",
        _COMMITTEE,
        {
            "tool_id": "sepsis-watch",
            "reason": "Replaced by the EHR vendor's native deterioration model.",
        },
    ),
    "clinician.trained": _event(
        9,
        "clinician.trained",
        "2026-02-10T13:00:00Z",
        _SYSTEM,
        {
            "clinician_id": "clin-4471",
            "tool_id": "sepsis-watch",
            "curriculum_version": "sw-3.2-basics-v2",
            "completed_at": "2026-02-10T12:41:09Z",
            "expires_at": "2027-02-10T00:00:00Z",
            "clinician_role": "attending_physician",
        },
    ),
    "output.generated": _event(
        10,
        "output.generated",
        "2026-04-08T02:14:07.512Z",
        _SYSTEM,
        {
            "output_id": "out-7f3a91",
            "tool_id": "sepsis-watch",
            "model_version": "3.2.0",
            "site": "northside",
            "unit": "ed",
            "population": "adults_18_plus",
            "patient_ref": "Patient/pseud-5c2e8d",
            "encounter_ref": "Encounter/enc-991204",
            "score": 0.64,
            "label": "sepsis_risk_high",
            "priority": "urgent",
            "threshold_in_effect": 0.7,
            "explanation": "Rising lactate, heart rate 118, temperature 38.9 C.",
            "input_digest": "sha256:" + "a1" * 32,
            "model_digest": _MODEL_DIGEST,
        },
    ),
    "output.shown": _event(
        11,
        "output.shown",
        "2026-04-08T02:15:00Z",
        _SYSTEM,
        {
            "output_id": "out-7f3a91",
            "clinician_id": "clin-4471",
            "surface": "ed_tracking_board",
            "shown_at": "2026-04-08T02:14:58.004Z",
            "ui_version": "trackboard-2026.3",
        },
    ),
    "output.acted": _event(
        12,
        "output.acted",
        "2026-04-08T02:21:30Z",
        _DR_OKAFOR,
        {
            "output_id": "out-7f3a91",
            "clinician_id": "clin-4471",
            "action": "overridden",
            "reason_code": "clinical_picture_inconsistent",
            "comment": "Tachycardia explained by pain; will reassess in one hour.",
        },
    ),
    "monitoring.checked": _event(
        13,
        "monitoring.checked",
        "2026-04-01T03:00:00Z",
        _SYSTEM,
        {
            "tool_id": "sepsis-watch",
            "metric": "ppv_weekly",
            "window": {"start": "2026-03-25T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
            "value": 0.29,
            "limit": 0.35,
            "status": "drift",
            "unit": "ed",
            "n": 212,
        },
    ),
    "monitoring.acknowledged": _event(
        14,
        "monitoring.acknowledged",
        "2026-04-02T10:05:00Z",
        _DR_OKAFOR,
        {
            "tool_id": "sepsis-watch",
            "check_event_id": "6f1c2b7e-3d4a-4c8e-9a10-000000000013",
            "decision": "review_requested",
            "comment": "PPV drop coincides with the threshold change; requesting review.",
        },
    ),
    "incident.reported": _event(
        15,
        "incident.reported",
        "2026-04-09T07:45:00-04:00",
        _RISK,
        {
            "incident_id": "INC-2026-041",
            "category": "false_negative",
            "output_ids": ["out-7f3a91"],
            "patient_ref": "Patient/pseud-5c2e8d",
            "harm": "moderate_harm",
            "aware_at": "2026-04-09T07:30:00-04:00",
            "description": "Sepsis recognised 6 h after an overridden alert; patient transferred to ICU.",
            "tool_id": "sepsis-watch",
            "safety_event_type": "incident",
            "serious": True,
        },
    ),
    "incident.classified": _event(
        16,
        "incident.classified",
        "2026-04-11T15:00:00Z",
        _RISK,
        {
            "incident_id": "INC-2026-041",
            "harm": "severe_harm",
            "serious": True,
            "widespread": False,
            "rationale": "ICU stay prolonged; re-rated after the clinical review.",
        },
    ),
    "incident.assigned": _event(
        17,
        "incident.assigned",
        "2026-04-09T12:00:00Z",
        _RISK,
        {
            "incident_id": "INC-2026-041",
            "reviewer": "staff-0311",
            "due_at": "2026-06-11T23:59:59Z",
        },
    ),
    "incident.reviewed": _event(
        18,
        "incident.reviewed",
        "2026-05-20T16:00:00Z",
        _COMMITTEE,
        {
            "incident_id": "INC-2026-041",
            "findings": "Threshold raised without validation; override not escalated.",
            "root_causes": ["governance", "human_factors"],
            "reviewers": ["staff-0311", "clin-0007", "staff-0192", "pr-0004"],
            "causal_statements": [
                "Raising the alert threshold without revalidation increased missed alerts, "
                "which delayed sepsis recognition."
            ],
        },
    ),
    "incident.reported_externally": _event(
        19,
        "incident.reported_externally",
        "2026-04-15T10:00:00Z",
        _RISK,
        {
            "incident_id": "INC-2026-041",
            "regime": "fda_mdr",
            "authority": "Acme Clinical AI (manufacturer)",
            "reference": "MW-2026-55512",
            "reported_at": "2026-04-15T09:42:00Z",
            "report_kind": "initial",
        },
    ),
    "incident.closed": _event(
        20,
        "incident.closed",
        "2026-07-30T12:00:00Z",
        _COMMITTEE,
        {
            "incident_id": "INC-2026-041",
            "outcome": "remediated",
            "summary": "Threshold restored, change control tightened, remediation verified effective.",
        },
    ),
    "remediation.planned": _event(
        21,
        "remediation.planned",
        "2026-05-21T09:00:00Z",
        _COMMITTEE,
        {
            "incident_id": "INC-2026-041",
            "remediation_id": "REM-2026-017",
            "action": "Require committee sign-off and revalidation for any threshold change.",
            "owner": "staff-0192",
            "due_at": "2026-06-30T23:59:59Z",
            "strength": "stronger",
            "measure": "No unapproved threshold_changed events in the next 90 days.",
        },
    ),
    "remediation.completed": _event(
        22,
        "remediation.completed",
        "2026-07-28T15:00:00Z",
        _RISK,
        {
            "remediation_id": "REM-2026-017",
            "verified_by": "staff-0192",
            "effective": True,
            "incident_id": "INC-2026-041",
        },
    ),
    "governance.policy_set": _event(
        23,
        "governance.policy_set",
        "2026-01-28T10:00:00Z",
        _COMMITTEE,
        {
            "policy_id": "AIGC-POL-2026-003",
            "tool_id": "sepsis-watch",
            "effective_from": "2026-02-01T00:00:00Z",
            "failure_modes": [
                {"error_kind": "false_negative", "clinical_meaning": "A septic adult in the ED not flagged."},
                {"error_kind": "false_positive", "clinical_meaning": "Alerts on patients who are not septic."},
            ],
            "detection": ["drift_monitoring", "incident_reporting", "clinician_feedback"],
            "review_owner": "clin-0007",
            "intervention": {"review_start_hours": 72, "first_step_hours": 72, "remediation_days": 30},
            "repeat_prevention": {
                "required_evidence": ["post_fix_audit", "monitoring_check"],
                "description": "Four weeks of monitoring without recurrence after the fix.",
            },
            "acceptable_use": "Adult ED and ICU patients; not obstetrics.",
            "escalation_pathway": ["bedside_nurse", "attending_physician", "rapid_response_team"],
            "documentation": ["rca2_report", "timeline"],
            "responses": [
                {
                    "error_kind": "false_negative",
                    "steps": [
                        {"step": "clinical_review", "due_hours": 72, "role": "attending_physician"},
                        {"step": "escalation_analysis", "due_hours": 336},
                    ],
                }
            ],
        },
    ),
    "governance.playbook_set": _event(
        24,
        "governance.playbook_set",
        "2026-01-20T10:00:00Z",
        _COMMITTEE,
        {
            "playbook_id": "AIGC-PB-2026-001",
            "responses": [
                {
                    "error_kind": "false_positive",
                    "steps": [
                        {"step": "threshold_reassessment", "due_hours": 168},
                        {"step": "workflow_reassessment", "due_hours": 336},
                    ],
                }
            ],
        },
    ),
    "incident.response_step": _event(
        25,
        "incident.response_step",
        "2026-07-03T16:00:00Z",
        _DR_OKAFOR,
        {
            "incident_id": "INC-2026-041",
            "step": "clinical_review",
            "performed_by": "clin-4471",
            "performed_by_role": "attending_physician",
            "performed_at": "2026-07-03T15:30:00Z",
            "outcome": "Case reviewed: the alert missed a documented lactate rise.",
            "evidence_refs": ["RCA-2026-041-1"],
        },
    ),
    "ledger.signing_key_activated": _event(
        31,
        "ledger.signing_key_activated",
        "2026-01-02T09:00:00Z",
        _RISK,
        {
            "key_name": "ledger.northside.example",
            "key_id": "e7887a36",
            "verifier_key": "ledger.northside.example+e7887a36+AXhaNI6OFSEG9fj6n7OXtnMT9zbrIEByN4Q1Q6zDAxTV",
            "reason": "Initial checkpoint signing key.",
        },
    ),
    "ledger.signing_key_retired": _event(
        32,
        "ledger.signing_key_retired",
        "2026-12-31T09:00:00Z",
        _RISK,
        {"key_name": "ledger.northside.example", "key_id": "e7887a36", "reason": "Scheduled yearly rotation."},
    ),
    "ledger.organisation_checkpoint_recorded": _event(
        33,
        "ledger.organisation_checkpoint_recorded",
        "2026-07-04T00:00:00Z",
        {"id": "ledger.network.example", "role": "ledger_operator", "kind": "system"},
        {
            "organisation": "northside",
            "origin": "ledger.northside.example/ledger",
            "tree_size": 48213,
            "root_hash": "50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c",
            "checkpoint": "ledger.northside.example/ledger\n48213\nUNhY4JhezH9gQYqvDMWrWH9CwlcKiECVqejMrND2VFw=\n\n"
            "\u2014 ledger.northside.example UI6gSRKFJfPXOITYe9/DsxFpg7jYkhy1BD3SZncCgiFwGvq6L2uQ7k7M1Hz1LJS1dGj+"
            "hLBewZb6jRUCJdb06+dzqQ8=\n",
        },
    ),
    "index.committed": _event(
        34,
        "index.committed",
        "2026-08-01T00:00:00Z",
        {"id": "ledger", "role": "ledger", "kind": "system"},
        {"tree_size": 120000, "root": "5c1f0e9b" * 8},
    ),
    "subject.erased": _event(
        41,
        "subject.erased",
        "2032-05-01T09:00:00Z",
        _RISK,
        {
            "subject": "5f2b9c0e1d4a7b3c8e6f0a1b2c3d4e5f",
            "subject_kind": "patient",
            "legal_basis": "retention_policy",
            "request_ref": "RET-2032-0007",
        },
    ),
    "legal_hold.placed": _event(
        42,
        "legal_hold.placed",
        "2026-04-20T09:00:00Z",
        _RISK,
        {
            "hold_id": "HOLD-2026-003",
            "incident_id": "INC-2026-041",
            "authority": "litigation_counsel",
            "reference": "CASE-26-1187",
            "reason": "Claim notified; preserve all records of the incident.",
        },
    ),
    "legal_hold.released": _event(
        43,
        "legal_hold.released",
        "2029-01-15T09:00:00Z",
        _RISK,
        {"hold_id": "HOLD-2026-003", "authority": "litigation_counsel", "reason": "Claim settled."},
    ),
    "access.recorded": _event(
        44,
        "access.recorded",
        "2026-04-21T14:02:11Z",
        _RISK,
        {
            "reader": "key-7c1e2a9f03b4d5e6",
            "reader_role": "reader",
            "purpose": "incident_review",
            "event_ids": ["6f1c2b7e-3d4a-4c8e-9a10-000000000009"],
            "fields": ["patient_ref", "explanation"],
        },
    ),
    "ledger.master_key_rotated": _event(
        45,
        "ledger.master_key_rotated",
        "2027-01-02T09:00:00Z",
        _RISK,
        {"old_key_id": "a1b2c3d4e5f60718", "new_key_id": "0f1e2d3c4b5a6978", "keys_rewrapped": 1842},
    ),
}
