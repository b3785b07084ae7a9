"""Governance before and around care: registrations, validations, approvals, training, thresholds, monitoring.

The gaps planted here, each told where it happens:

* SepsisWatch is approved for the Northside ICU only, but also runs in the ED;
  its threshold is raised from 0.6 to 0.7 by the vendor with no approver; a PPV
  drift alert is never acknowledged; the ED staff were never trained on it.
* TriageIQ's approval expired a month ago and nobody renewed it; it was
  validated at Riverside on adults only, and is used there on children too.
* The Deterioration Index is suspended after the alert flood (see incidents);
  one ward nurse's training lapsed.
* NoteDraft failed its validation at Riverside and is used there anyway; two
  physicians' training lapsed.
* LungFlag CXR is governed end to end: every check holds.
"""

from __future__ import annotations

from typing import Any, Final

from scripts.demo_hospital.cast import (
    ADULTS,
    CHILDREN,
    COMMITTEE,
    CXR,
    DETERIORATION,
    DOC_ASSIST,
    ED_N,
    ED_R,
    ED_TRIAGE,
    GOVERNANCE,
    ICU_N,
    LAPSED,
    LMS,
    MED_N,
    MED_R,
    MONITOR,
    RAD_N,
    RAD_R,
    SEPSIS,
    TOOLS,
    WARD_N,
    Tool,
)
from scripts.demo_hospital.story import Story, iso

# (tool, site, unit, population, result): the local validations; NoteDraft failed at Riverside.
VALIDATIONS: Final = (
    (SEPSIS, "northside", "icu", ADULTS, "passed"),
    (CXR, "northside", "radiology", ADULTS, "passed"),
    (CXR, "riverside", "radiology", ADULTS, "passed"),
    (ED_TRIAGE, "northside", "ed", ADULTS, "passed"),
    (ED_TRIAGE, "riverside", "ed", ADULTS, "passed"),  # not on children, who are seen there too
    (DETERIORATION, "northside", "ward-4b", ADULTS, "passed"),
    (DOC_ASSIST, "northside", "medicine", ADULTS, "passed"),
    (DOC_ASSIST, "riverside", "medicine", ADULTS, "failed"),
)
# tool -> (sites, units, populations, days before the anchor the approval expires; negative: in the future)
APPROVALS: Final = {
    SEPSIS.tool_id: (["northside"], ["icu"], [ADULTS], -200),
    CXR.tool_id: (["northside", "riverside"], ["radiology"], [ADULTS], -300),
    ED_TRIAGE.tool_id: (["northside", "riverside"], ["ed"], [ADULTS, CHILDREN], 30),  # expired a month ago
    DETERIORATION.tool_id: (["northside"], ["ward-4b"], [ADULTS], -200),
    DOC_ASSIST.tool_id: (["northside", "riverside"], ["medicine"], [ADULTS], -300),
}
TRAINED: Final = {
    SEPSIS.tool_id: ICU_N,  # the ED staff who see it were never trained
    CXR.tool_id: RAD_N + RAD_R,
    ED_TRIAGE.tool_id: ED_N + ED_R,
    DETERIORATION.tool_id: WARD_N,
    DOC_ASSIST.tool_id: MED_N + MED_R,
}
CHECK_DAYS: Final = (39, 32, 25, 18, 11, 4)  # weekly monitoring, days before the anchor
SEPSIS_DRIFT_DAY: Final = 18
DETERIORATION_DRIFT_DAY: Final = 11
SUSPENDED_DAY: Final = 5  # the Deterioration Index, after the alert flood (see incidents)
THRESHOLD_RAISED_DAY: Final = 30  # SepsisWatch 0.6 -> 0.7, no approver


def registrations(story: Story) -> None:
    """Each tool enters the inventory."""
    for n, tool in enumerate(TOOLS):
        data: dict[str, Any] = {
            "tool_id": tool.tool_id,
            "name": tool.name,
            "vendor": tool.vendor,
            "version": tool.version,
            "intended_use": tool.intended_use,
            "regulatory_status": tool.regulatory,
            "model_digest": "sha256:" + f"{n + 1:02x}{tool.tool_id.encode().hex()}".ljust(64, "0")[:64],
            "clinical_owner": "staff-0192",
        }
        if tool.ai_act_risk:
            data["ai_act_risk"] = tool.ai_act_risk
        story.add(f"registered/{tool.tool_id}", "tool.registered", story.at(200 - n), GOVERNANCE, "governance", data)


def validations(story: Story) -> None:
    """Local validations, each on a year of the site's own data."""
    for n, (tool, site, unit, population, result) in enumerate(VALIDATIONS):
        good = result == "passed"
        metrics = {
            "n": 2400 + 97 * n,
            "n_positive": 180 + 11 * n,
            "sensitivity": 0.84 if good else 0.61,
            "specificity": 0.9 if good else 0.72,
            "ppv": 0.41 if good else 0.18,
        }
        story.add(
            f"validated/{tool.tool_id}/{site}/{unit}",
            "tool.validated",
            story.at(180 - n),
            GOVERNANCE,
            "governance",
            {
                "tool_id": tool.tool_id,
                "site": site,
                "unit": unit,
                "population": population,
                "data_period": {"start": iso(story.at(545)), "end": iso(story.at(181))},
                "metrics": metrics,
                "result": result,
                "validation_ref": f"VAL-{tool.tool_id}-{site}",
                "version": tool.version,
                "threshold": tool.threshold,
            },
        )


def approvals(story: Story) -> None:
    """The committee's sign-offs, each with its scope and expiry."""
    for n, tool in enumerate(TOOLS):
        sites, units, populations, expires = APPROVALS[tool.tool_id]
        story.add(
            f"approved/{tool.tool_id}",
            "tool.approved",
            story.at(165 - n),
            COMMITTEE,
            "governance",
            {
                "tool_id": tool.tool_id,
                "scope": {"sites": sites, "units": units, "populations": populations},
                "conditions": ["Weekly monitoring report to the committee"],
                "signature_meaning": "approval",
                "expires_at": iso(story.at(expires)),
                "approval_ref": f"AIGC-{tool.tool_id}",
                "version": tool.version,
                "approvers": ["staff-0192", "staff-0420", "staff-0533"],
            },
        )


def training(story: Story) -> None:
    """Each clinician's training on the tools they use; a few have lapsed."""
    for tool_id, clinicians in TRAINED.items():
        for n, clinician in enumerate(clinicians):
            completed = story.at(160 - 3 * n)
            lapsed = clinician in LAPSED.get(tool_id, ())
            story.add(
                f"trained/{tool_id}/{clinician}",
                "clinician.trained",
                completed,
                LMS,
                "lms",
                {
                    "clinician_id": clinician,
                    "tool_id": tool_id,
                    "curriculum_version": f"{tool_id}-basics-v1",
                    "completed_at": iso(completed),
                    "expires_at": iso(story.at(20 if lapsed else -200)),
                },
            )


def thresholds(story: Story) -> None:
    """Each operating point set with the committee's approval; then SepsisWatch's raised by the vendor alone."""
    for n, tool in enumerate(TOOLS):
        story.add(
            f"threshold-set/{tool.tool_id}",
            "tool.threshold_changed",
            story.at(164 - n),
            COMMITTEE,
            "governance",
            {
                "tool_id": tool.tool_id,
                "parameter": tool.parameter,
                "new_value": tool.threshold,
                "reason": "Operating point of the local validation.",
                "approved_by": "aigc-network",
                "change_ref": f"CHG-{tool.tool_id}-1",
            },
        )
    story.add(
        "threshold-raised/sepsis-watch",
        "tool.threshold_changed",
        story.at(THRESHOLD_RAISED_DAY),
        {"id": "acme-inference", "role": "inference_service", "kind": "system"},
        SEPSIS.source,
        {
            "tool_id": SEPSIS.tool_id,
            "parameter": SEPSIS.parameter,
            "old_value": 0.6,
            "new_value": 0.7,
            "reason": "Alert fatigue reported by nursing staff.",
            "change_ref": "CHG-88123",
        },
    )


def threshold_of(story: Story, tool: Tool, days: float) -> float:
    """The operating point in effect ``days`` before the anchor."""
    if tool is SEPSIS and days < THRESHOLD_RAISED_DAY:
        return 0.7
    return tool.threshold


def monitoring(story: Story) -> None:
    """Weekly checks of every tool; SepsisWatch's drift is never acknowledged, the Deterioration Index's is."""
    for tool in TOOLS:
        for day in CHECK_DAYS:
            if tool is DETERIORATION and day < SUSPENDED_DAY:
                continue  # no longer in use
            drift = (tool is SEPSIS and day == SEPSIS_DRIFT_DAY) or (
                tool is DETERIORATION and day == DETERIORATION_DRIFT_DAY
            )
            metric, value, limit = _metric(tool, drift)
            story.add(
                f"checked/{tool.tool_id}/{day}",
                "monitoring.checked",
                story.at(day),
                MONITOR,
                "drift-watch",
                {
                    "tool_id": tool.tool_id,
                    "metric": metric,
                    "window": {"start": iso(story.at(day + 7)), "end": iso(story.at(day))},
                    "value": value,
                    "limit": limit,
                    "status": "drift" if drift else "ok",
                    "n": 310 + day,
                },
            )
    story.add(
        f"acknowledged/deterioration-index/{DETERIORATION_DRIFT_DAY}",
        "monitoring.acknowledged",
        story.at(DETERIORATION_DRIFT_DAY - 1.5),
        COMMITTEE,
        "governance",
        {
            "tool_id": DETERIORATION.tool_id,
            "check_event_id": story.names[f"checked/deterioration-index/{DETERIORATION_DRIFT_DAY}"],
            "decision": "review_requested",
            "comment": "Alert rate on Ward 4B tripled; review with nursing leadership.",
        },
    )


def _metric(tool: Tool, drift: bool) -> tuple[str, float, float]:
    if tool is DETERIORATION:
        return "alerts_per_100_patient_days", 41.0 if drift else 12.5, 20.0
    if tool is DOC_ASSIST:
        return "edit_distance_share", 0.18, 0.3
    return "ppv_weekly", 0.29 if drift else 0.44, 0.35


GOVERNANCE_SECTIONS: Final = (registrations, validations, approvals, training, thresholds, monitoring)
