"""Five incidents, one of each kind of AI error, each at a different stage of review and remediation.

* INC-D01 missed case (false_negative), SepsisWatch in the Northside ED: closed;
  reported to the FDA in time, reviewed, remediated, verified effective.
* INC-D02 false alert flood (false_positive), Deterioration Index on Ward 4B:
  reviewed, tool suspended, remediation planned and still open.
* INC-D03 wrong priority (misprioritization), TriageIQ on a child at Riverside:
  serious, assigned, not yet reviewed; its EU AI Act report is due tomorrow.
* INC-D04 misleading suggestion (faulty_recommendation), NoteDraft at Riverside:
  serious, reviewed, remediation done but not effective; its report is overdue.
* INC-D05 over-trust (workflow_amplification), TriageIQ accepted in seconds:
  reported, and nobody has been assigned to review it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from scripts.demo_hospital.care import act, generate, show
from scripts.demo_hospital.cast import (
    ADULTS,
    CHILDREN,
    CMIO,
    COMMITTEE,
    DETERIORATION,
    DOC_ASSIST,
    ED_N,
    ED_R,
    ED_TRIAGE,
    FAST_ACCEPTER,
    MED_R,
    SAFETY,
    SEPSIS,
    WARD_N,
)
from scripts.demo_hospital.governance import SUSPENDED_DAY
from scripts.demo_hospital.story import Story, iso

SOURCE: Final = "safety-reporting"
NEAR_DUE_AWARE_DAYS: Final = 14 - 0.25  # 15 calendar days from awareness: due in a day and six hours
OVERDUE_AWARE_DAYS: Final = 21  # due six days ago


def _case(
    story: Story,
    output_id: str,
    days: float,
    *,
    who: tuple[str, str],
    reading: tuple[Any, ...],
    response: tuple[str, int],
) -> None:
    """One output of the story, shown to ``who`` (clinician, surface) and answered ``response`` seconds later."""
    tool, site, unit, population, score, label, priority = reading
    generated = generate(story, tool, output_id, days, where=(site, unit, population), reading=(score, label, priority))
    shown = generated + timedelta(seconds=12)
    show(story, output_id, who[0], who[1], shown)
    act(story, output_id, who[0], response[0], shown + timedelta(seconds=response[1]))


def _add(story: Story, name: str, event_type: str, days: float, data: dict[str, Any], actor: Any = SAFETY) -> None:
    story.add(name, event_type, story.at(days), actor, "governance" if actor is COMMITTEE else SOURCE, data)


def _report(story: Story, incident: str, days: float, **data: Any) -> None:
    data = {"incident_id": incident, "aware_at": iso(story.at(days)), **data}
    _add(story, f"{incident}/reported", "incident.reported", days, data)


def _assign(story: Story, incident: str, days: float) -> None:
    _add(story, f"{incident}/assigned", "incident.assigned", days, {"incident_id": incident, "reviewer": SAFETY["id"]})


def _review(story: Story, incident: str, days: float, findings: str, causes: list[str]) -> None:
    data = {
        "incident_id": incident,
        "findings": findings,
        "root_causes": causes,
        "reviewers": ["staff-0311", "staff-0192"],
    }
    _add(story, f"{incident}/reviewed", "incident.reviewed", days, data)


def _plan(story: Story, incident: str, days: float, action: str, due_days: float) -> None:
    data = {
        "incident_id": incident,
        "remediation_id": f"REM-{incident[4:]}",
        "action": action,
        "owner": CMIO["id"],
        "due_at": iso(story.at(due_days)),
        "strength": "stronger",
    }
    _add(story, f"{incident}/planned", "remediation.planned", days, data)


def _remediated(story: Story, incident: str, days: float, *, effective: bool, comment: str) -> None:
    data = {
        "remediation_id": f"REM-{incident[4:]}",
        "verified_by": CMIO["id"],
        "effective": effective,
        "incident_id": incident,
        "comment": comment,
    }
    _add(story, f"{incident}/remediated", "remediation.completed", days, data, COMMITTEE)


def missed_case(story: Story) -> None:
    """INC-D01: a septic patient scored under the raised threshold; no alert; closed after remediation."""
    inc, out = "INC-D01", "sepsis-watch-ned-story1"
    reading = (SEPSIS, "northside", "ed", ADULTS, 0.64, "sepsis_risk_low", "routine")
    _case(story, out, 25, who=(ED_N[0], "ed_tracking_board"), reading=reading, response=("dismissed", 40))
    _report(
        story,
        inc,
        24,
        category="false_negative",
        output_ids=[out],
        harm="moderate_harm",
        tool_id=SEPSIS.tool_id,
        serious=True,
        description="Sepsis recognised six hours after a low-risk score; transferred to ICU.",
    )
    _assign(story, inc, 23.9)
    data = {
        "incident_id": inc,
        "regime": "fda_mdr",
        "authority": "FDA MedWatch",
        "reference": "MW-D-55512",
        "reported_at": iso(story.at(20)),
        "report_kind": "initial",
    }
    _add(story, f"{inc}/reported-externally", "incident.reported_externally", 20, data)
    _review(
        story,
        inc,
        14,
        "Threshold raised without validation; tool used outside its approved unit.",
        ["governance", "monitoring", "human_factors"],
    )
    _plan(story, inc, 13.5, "Committee sign-off and revalidation for any threshold change.", 3)
    _remediated(story, inc, 4, effective=True, comment="Change control enforced in the vendor console.")
    _add(
        story,
        f"{inc}/closed",
        "incident.closed",
        3.5,
        {"incident_id": inc, "outcome": "remediated", "summary": "Change control tightened and verified."},
    )


def false_alert_flood(story: Story) -> None:
    """INC-D02: Ward 4B flooded with alerts for a week; reviewed, the tool suspended, the fix still open."""
    inc = "INC-D02"
    outputs = [f"deterioration-index-nwar-story{n}" for n in (1, 2, 3)]
    for n, out in enumerate(outputs):
        reading = (DETERIORATION, "northside", "ward-4b", ADULTS, 71.0 + n, "deterioration_risk_high", "urgent")
        _case(story, out, 8 - n / 24, who=(WARD_N[n], "ward_banner"), reading=reading, response=("dismissed", 9))
    _report(
        story,
        inc,
        7.5,
        category="false_positive",
        output_ids=outputs,
        harm="no_harm",
        serious=False,
        tool_id=DETERIORATION.tool_id,
        safety_event_type="unsafe_condition",
        description="Nurses on Ward 4B dismissing most deterioration alerts after a week of false alarms.",
    )
    _assign(story, inc, 7.4)
    _review(
        story,
        inc,
        SUSPENDED_DAY + 0.2,
        "Alert volume tripled after an upstream vital-signs feed change.",
        ["data_quality", "workflow_design", "interface_design"],
    )
    story.add(
        f"{inc}/suspended",
        "tool.suspended",
        story.at(SUSPENDED_DAY),
        COMMITTEE,
        "governance",
        {"tool_id": DETERIORATION.tool_id, "reason": "Alert flood on Ward 4B under review.", "incident_id": inc},
    )
    _plan(story, inc, SUSPENDED_DAY - 0.1, "Fix the vital-signs feed mapping and revalidate before reinstatement.", -20)


def wrong_priority(story: Story) -> None:
    """INC-D03: a child triaged as low acuity; serious; assigned, not reviewed, its report due tomorrow."""
    inc, out = "INC-D03", "ed-triage-red-story1"
    reading = (ED_TRIAGE, "riverside", "ed", CHILDREN, 0.51, "esi_4", "low")
    _case(
        story,
        out,
        NEAR_DUE_AWARE_DAYS + 0.3,
        who=(ED_R[0], "triage_screen"),
        reading=reading,
        response=("accepted", 50),
    )
    _report(
        story,
        inc,
        NEAR_DUE_AWARE_DAYS,
        category="misprioritization",
        output_ids=[out],
        harm="severe_harm",
        serious=True,
        tool_id=ED_TRIAGE.tool_id,
        description="A child with sepsis was triaged as low acuity and waited two hours.",
    )
    _assign(story, inc, NEAR_DUE_AWARE_DAYS - 0.2)


def misleading_suggestion(story: Story) -> None:
    """INC-D04: a draft said to stop an anticoagulant; serious; remediated without effect; report overdue."""
    inc, out = "INC-D04", "doc-assistant-rmed-story1"
    reading = (DOC_ASSIST, "riverside", "medicine", ADULTS, 0.83, "discharge_summary_draft", "routine")
    _case(story, out, OVERDUE_AWARE_DAYS + 1, who=(MED_R[0], "note_editor"), reading=reading, response=("accepted", 95))
    _report(
        story,
        inc,
        OVERDUE_AWARE_DAYS,
        category="faulty_recommendation",
        output_ids=[out],
        harm="severe_harm",
        serious=True,
        tool_id=DOC_ASSIST.tool_id,
        description="Discharge summary draft told the patient to stop an anticoagulant; readmitted with a stroke.",
    )
    _assign(story, inc, OVERDUE_AWARE_DAYS - 0.5)
    _review(
        story,
        inc,
        12,
        "Used at Riverside despite a failed local validation; the draft was signed unread.",
        ["governance", "model_performance", "human_factors"],
    )
    _plan(story, inc, 11.5, "Medication changes in drafts highlighted and require a second click.", 5)
    _remediated(story, inc, 4, effective=False, comment="Audit found drafts still signed within seconds.")


def over_trust(story: Story) -> None:
    """INC-D05: TriageIQ's suggestion accepted three seconds after it appeared; nobody assigned to review."""
    inc, out = "INC-D05", "ed-triage-ned-story1"
    reading = (ED_TRIAGE, "northside", "ed", ADULTS, 0.52, "esi_4", "low")
    _case(story, out, 6.4, who=(FAST_ACCEPTER, "triage_screen"), reading=reading, response=("accepted", 3))
    _report(
        story,
        inc,
        6,
        category="workflow_amplification",
        output_ids=[out],
        harm="mild_harm",
        serious=False,
        tool_id=ED_TRIAGE.tool_id,
        description="Chest pain triaged low acuity; the suggestion was accepted without a look at the ECG.",
    )


INCIDENT_SECTIONS: Final = (missed_case, false_alert_flood, wrong_priority, misleading_suggestion, over_trust)
