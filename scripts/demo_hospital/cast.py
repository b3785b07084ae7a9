"""Who and what the demo hospital is made of: two sites, their units, five AI tools, and the staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ADULTS: Final = "adults_18_plus"
CHILDREN: Final = "pediatric_under_18"
SITES: Final = {"northside": "Northside General Hospital", "riverside": "Riverside Community Hospital"}

COMMITTEE: Final = {"id": "aigc-network", "role": "ai_governance_committee", "kind": "committee"}
GOVERNANCE: Final = {"id": "govern-app", "role": "governance_system", "kind": "system"}
LMS: Final = {"id": "lms-network", "role": "learning_management_system", "kind": "system"}
EHR: Final = {"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"}
MONITOR: Final = {"id": "drift-watch", "role": "monitoring_service", "kind": "system"}
SAFETY: Final = {"id": "staff-0311", "role": "patient_safety_officer", "kind": "person"}
CMIO: Final = {"id": "staff-0192", "role": "chief_medical_information_officer", "kind": "person"}


@dataclass(frozen=True)
class Tool:
    """One AI tool as deployed, with its operating point."""

    tool_id: str
    name: str
    vendor: str
    version: str
    source: str  # the emitting system of its outputs
    parameter: str  # the operating point's name
    threshold: float
    intended_use: str
    regulatory: dict[str, str]
    ai_act_risk: str | None = None


SEPSIS: Final = Tool(
    "sepsis-watch", "SepsisWatch", "Acme Clinical AI", "3.2.0", "acme-inference", "alert_threshold", 0.6,
    "Early warning of sepsis risk for adult inpatients, as an aid to clinician judgement.",
    {"status": "device", "regime": "fda", "device_class": "II", "clearance_number": "K231234"},
)  # fmt: skip
CXR: Final = Tool(
    "cxr-triage", "LungFlag CXR", "Radiant Imaging AI", "2.1.0", "radiant-pacs", "urgent_finding_threshold", 0.8,
    "Flags chest radiographs with suspected pneumothorax for priority reading by a radiologist.",
    {"status": "device", "regime": "fda", "device_class": "II", "clearance_number": "K242077"},
    "annex_i_device",
)  # fmt: skip
ED_TRIAGE: Final = Tool(
    "ed-triage", "TriageIQ", "Northwind Health AI", "1.4.2", "northwind-triage", "high_acuity_cutoff", 0.5,
    "Suggests an emergency severity level at ED arrival for the triage nurse to confirm or change.",
    {"status": "none", "basis": "clinical decision support reviewed by the triage nurse"},
    "annex_iii",
)  # fmt: skip
DETERIORATION: Final = Tool(
    "deterioration-index", "Deterioration Index", "Epic Systems", "2.0.0", "epic-cognitive", "alert_score", 60.0,
    "Predicts ward patients at risk of deterioration within 12 hours, to prompt a bedside review.",
    {"status": "none", "basis": "non-device CDS, FD&C Act 520(o)(1)(E)"},
)  # fmt: skip
DOC_ASSIST: Final = Tool(
    "doc-assistant", "NoteDraft", "Scribe Labs", "5.0.1", "scribe-labs", "suggestion_confidence_floor", 0.5,
    "Drafts discharge summaries from the record for the physician to review, edit and sign.",
    {"status": "none", "basis": "documentation support, reviewed and signed by the physician"},
    "annex_iii",
)  # fmt: skip
TOOLS: Final = (SEPSIS, CXR, ED_TRIAGE, DETERIORATION, DOC_ASSIST)


def staff(unit: str, site: str, count: int) -> tuple[str, ...]:
    """The clinicians of one unit at one site (pseudonymous staff ids, no names)."""
    return tuple(f"clin-{site[:1]}{unit[:3]}-{n:02d}" for n in range(1, count + 1))


ICU_N: Final = staff("icu", "northside", 6)
ED_N: Final = staff("ed", "northside", 8)
ED_R: Final = staff("ed", "riverside", 6)
WARD_N: Final = staff("ward-4b", "northside", 5)
RAD_N: Final = staff("radiology", "northside", 4)
RAD_R: Final = staff("radiology", "riverside", 3)
MED_N: Final = staff("medicine", "northside", 5)
MED_R: Final = staff("medicine", "riverside", 4)
FAST_ACCEPTER: Final = ED_N[2]  # accepts TriageIQ's suggestion seconds after it appears
LAPSED: Final = {DETERIORATION.tool_id: (WARD_N[4],), DOC_ASSIST.tool_id: (MED_N[3], MED_R[1])}
