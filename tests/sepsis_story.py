"""A small story (the first demo's): a sepsis alert that stayed silent, and the system around it.

Tests that need a short, known story with fixed values use it; the demo hospital
itself is scripts/demo_hospital.

Northside General runs SepsisWatch 3.2. The AI governance committee approved it
for adult ICU patients only, and it was validated there. Then:

* the alert threshold was raised from 0.6 to 0.7 with no approver on record;
* weekly monitoring reported PPV drift in the ED, and nobody acknowledged it;
* in the ED (outside the approval's scope) it scored a septic patient 0.64,
  under the new threshold: no alert fired. A clinician never trained on the
  tool saw the low-risk banner and dismissed it;
* sepsis was recognised six hours later: an incident (false negative), reviewed,
  reported to the FDA, remediated.

Meanwhile, in the ICU, everything worked as governed: a trained clinician saw a
high-risk alert and accepted it. The ledger records all of it; the projections
say where governance failed and where it held.

Event ids are derived from names (UUID 5), so loading the story twice appends
nothing the second time.
"""

from __future__ import annotations

import uuid
from typing import Any

NAMESPACE = uuid.UUID("5d1b8a52-6c2e-4f7a-9b1d-2a6f3c9e8b01")
TOOL = "sepsis-watch"
SITE = "northside"
ADULTS = "adults_18_plus"

COMMITTEE = {"id": "aigc-northside", "role": "ai_governance_committee", "kind": "committee"}
GOVERNANCE = {"id": "govern-app", "role": "governance_system", "kind": "system"}
EHR = {"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"}
VENDOR = {"id": "acme-inference", "role": "inference_service", "kind": "system"}
MONITOR = {"id": "drift-watch", "role": "monitoring_service", "kind": "system"}
RISK = {"id": "staff-0311", "role": "patient_safety_officer", "kind": "person"}
LMS = {"id": "lms-northside", "role": "learning_management_system", "kind": "system"}


def _event(
    name: str, event_type: str, at: str, actor: dict[str, str], source: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid5(NAMESPACE, name)),
        "type": event_type,
        "occurred_at": at,
        "source": source,
        "actor": actor,
        "data": data,
    }


def governance() -> list[dict[str, Any]]:
    """Registration, approval, validation, training, threshold and monitoring."""
    return [
        _event(
            "registered",
            "tool.registered",
            "2026-01-12T09:00:00Z",
            GOVERNANCE,
            "governance",
            {
                "tool_id": TOOL,
                "name": "SepsisWatch",
                "vendor": "Acme Clinical AI",
                "version": "3.2.0",
                "intended_use": "Early warning of sepsis risk for adult inpatients, as an aid to clinician judgement.",
                "regulatory_status": {
                    "status": "device",
                    "regime": "fda",
                    "device_class": "II",
                    "clearance_number": "K231234",
                },
                "model_digest": "sha256:" + "3f4c9a1d" * 8,
            },
        ),
        _event(
            "validated-icu",
            "tool.validated",
            "2026-01-30T15:00:00Z",
            GOVERNANCE,
            "governance",
            {
                "tool_id": TOOL,
                "site": SITE,
                "unit": "icu",
                "population": ADULTS,
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
        _event(
            "approved",
            "tool.approved",
            "2026-02-01T10:00:00Z",
            COMMITTEE,
            "governance",
            {
                "tool_id": TOOL,
                "scope": {"sites": [SITE], "units": ["icu"], "populations": [ADULTS]},
                "conditions": ["Monthly drift report to the committee"],
                "signature_meaning": "approval",
                "expires_at": "2027-02-01T00:00:00Z",
                "approval_ref": "AIGC-2026-014",
            },
        ),
        _event(
            "trained-ada",
            "clinician.trained",
            "2026-02-10T12:41:09Z",
            LMS,
            "lms",
            {
                "clinician_id": "clin-ada",
                "tool_id": TOOL,
                "curriculum_version": "sw-3.2-basics-v2",
                "completed_at": "2026-02-10T12:41:09Z",
                "expires_at": "2027-02-10T00:00:00Z",
            },
        ),
        _event(
            "threshold",
            "tool.threshold_changed",
            "2026-03-20T08:00:00Z",
            VENDOR,
            "acme-inference",
            {
                "tool_id": TOOL,
                "parameter": "alert_threshold",
                "old_value": 0.6,
                "new_value": 0.7,
                "reason": "Alert fatigue reported by nursing staff.",
                "change_ref": "CHG-88123",
            },
        ),
        _event(
            "drift",
            "monitoring.checked",
            "2026-04-01T06:00:00Z",
            MONITOR,
            "drift-watch",
            {
                "tool_id": TOOL,
                "metric": "ppv_weekly",
                "window": {"start": "2026-03-25T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
                "value": 0.29,
                "limit": 0.35,
                "status": "drift",
            },
        ),
    ]


def _output(name: str, at: str, unit: str, patient: str, score: float, label: str, priority: str) -> dict[str, Any]:
    return _event(
        name,
        "output.generated",
        at,
        VENDOR,
        "acme-inference",
        {
            "output_id": name,
            "tool_id": TOOL,
            "model_version": "3.2.0",
            "site": SITE,
            "unit": unit,
            "population": ADULTS,
            "patient_ref": patient,
            "encounter_ref": f"Encounter/{name}",
            "score": score,
            "label": label,
            "priority": priority,
            "threshold_in_effect": 0.7,
        },
    )


def care() -> list[dict[str, Any]]:
    """Two outputs: one governed well (ICU), one not (ED)."""
    return [
        _output(
            "out-icu-2001", "2026-04-07T21:02:00Z", "icu", "Patient/pseud-a91c", 0.83, "sepsis_risk_high", "urgent"
        ),
        _event(
            "shown-icu",
            "output.shown",
            "2026-04-07T21:02:05Z",
            EHR,
            "epic-prod",
            {
                "output_id": "out-icu-2001",
                "clinician_id": "clin-ada",
                "surface": "icu_dashboard",
                "shown_at": "2026-04-07T21:02:04Z",
            },
        ),
        _event(
            "acted-icu",
            "output.acted",
            "2026-04-07T21:06:30Z",
            EHR,
            "epic-prod",
            {
                "output_id": "out-icu-2001",
                "clinician_id": "clin-ada",
                "action": "accepted",
                "reason_code": "sepsis_bundle_started",
            },
        ),
        _output("out-ed-1001", "2026-04-08T02:14:00Z", "ed", "Patient/pseud-5c2e", 0.64, "sepsis_risk_low", "routine"),
        _event(
            "shown-ed",
            "output.shown",
            "2026-04-08T02:15:00Z",
            EHR,
            "epic-prod",
            {
                "output_id": "out-ed-1001",
                "clinician_id": "clin-bob",
                "surface": "ed_tracking_board",
                "shown_at": "2026-04-08T02:14:58Z",
            },
        ),
        _event(
            "acted-ed",
            "output.acted",
            "2026-04-08T02:15:20Z",
            EHR,
            "epic-prod",
            {
                "output_id": "out-ed-1001",
                "clinician_id": "clin-bob",
                "action": "dismissed",
                "reason_code": "low_risk_score",
            },
        ),
    ]


def incident() -> list[dict[str, Any]]:
    """The missed sepsis case, from report to closure."""
    inc = "INC-2026-041"
    return [
        _event(
            "incident",
            "incident.reported",
            "2026-04-09T11:30:00Z",
            RISK,
            "safety-reporting",
            {
                "incident_id": inc,
                "category": "false_negative",
                "output_ids": ["out-ed-1001"],
                "patient_ref": "Patient/pseud-5c2e",
                "harm": "moderate_harm",
                "aware_at": "2026-04-09T11:30:00Z",
                "description": "Sepsis recognised six hours after a low-risk score; transferred to ICU.",
                "tool_id": TOOL,
                "serious": True,
            },
        ),
        _event(
            "assigned",
            "incident.assigned",
            "2026-04-09T14:00:00Z",
            RISK,
            "safety-reporting",
            {
                "incident_id": inc,
                "reviewer": "staff-0311",
            },
        ),
        _event(
            "reported-fda",
            "incident.reported_externally",
            "2026-04-15T09:42:00Z",
            RISK,
            "safety-reporting",
            {
                "incident_id": inc,
                "regime": "fda_mdr",
                "authority": "Acme Clinical AI (manufacturer)",
                "reference": "MW-2026-55512",
                "reported_at": "2026-04-15T09:42:00Z",
            },
        ),
        _event(
            "reviewed",
            "incident.reviewed",
            "2026-04-28T16:00:00Z",
            RISK,
            "safety-reporting",
            {
                "incident_id": inc,
                "findings": "Threshold raised without validation; tool used outside its approved unit.",
                "root_causes": ["governance", "monitoring", "human_factors"],
                "reviewers": ["staff-0311", "clin-0007"],
            },
        ),
        _event(
            "remediation",
            "remediation.planned",
            "2026-04-29T10:00:00Z",
            RISK,
            "safety-reporting",
            {
                "incident_id": inc,
                "remediation_id": "REM-2026-017",
                "action": "Require committee sign-off and revalidation for any threshold change.",
                "owner": "staff-0192",
                "due_at": "2026-06-30T23:59:59Z",
            },
        ),
        _event(
            "remediated",
            "remediation.completed",
            "2026-06-20T10:00:00Z",
            COMMITTEE,
            "governance",
            {
                "remediation_id": "REM-2026-017",
                "verified_by": "staff-0192",
                "effective": True,
                "incident_id": inc,
            },
        ),
        _event(
            "closed",
            "incident.closed",
            "2026-06-25T10:00:00Z",
            RISK,
            "safety-reporting",
            {
                "incident_id": inc,
                "outcome": "remediated",
                "summary": "Threshold restored, change control tightened, remediation verified effective.",
            },
        ),
    ]


def story() -> list[dict[str, Any]]:
    """Every event of the demo, in the order the systems emitted them."""
    return governance() + care() + incident()
