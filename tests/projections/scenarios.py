"""Five realistic histories, one per kind of clinical AI error, as the emitting systems would send them.

Each Scenario is a list of envelopes in the order they are appended (so an
event's seq in a fresh ledger is its position + 1) with deterministic ids, and
the names of the events a test expects as evidence.

    false_negative           missed sepsis: approval scope, site validation, training and threshold
                             approval all fail (the "four failures" scenario)
    false_positive           a governed alert that was wrong, escalated and overridden: every check passes
    misprioritization        a CT worklist ranks a pulmonary embolism routine; drift ignored, model
                             updated before the MDR report, which was filed late
    faulty_recommendation    an antibiotic advisor past its approval recommends a drug the patient is
                             allergic to; accepted in 4 seconds; no reviewer for 80 hours
    workflow_amplification   a deterioration alert floods a night nurse; alerts go unanswered, an
                             escalation is not followed, the patient dies; a report deadline is near
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

# The same hospital's systems and staff as the short sepsis story's, so both stories name one set of actors.
from tests.sepsis_story import ADULTS, COMMITTEE, EHR, GOVERNANCE, LMS, MONITOR, RISK, VENDOR

NAMESPACE = uuid.UUID("0b6f3c1e-9a2d-4e57-8c41-7d2e5f9a1b30")
INFORMATICS = {"id": "staff-0420", "role": "clinical_informatics_lead", "kind": "person"}


@dataclass
class Scenario:
    """A named sequence of events."""

    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def add(self, name: str, event_type: str, at: str, actor: dict[str, str], data: dict[str, Any]) -> None:
        """Append an event named ``name`` (unique within the scenario)."""
        if name in self.names:
            raise ValueError(f"duplicate event name {name}")
        self.names.append(name)
        self.events.append(
            {
                "event_id": self.event_id(name),
                "type": event_type,
                "occurred_at": at,
                "source": "ehr.epic-prod" if actor in (EHR, VENDOR) else "governance",
                "actor": actor,
                "data": data,
            }
        )

    def event_id(self, name: str) -> str:
        """The deterministic event_id of a named event."""
        return str(uuid.uuid5(NAMESPACE, f"{self.name}:{name}"))

    def seq(self, name: str, *, offset: int = 0) -> int:
        """The seq the named event gets when the scenario is appended after ``offset`` events."""
        return offset + self.names.index(name) + 1

    def seqs(self, *names: str, offset: int = 0) -> set[int]:
        """The seqs of several named events."""
        return {self.seq(n, offset=offset) for n in names}


# --- building blocks ---------------------------------------------------------------------------------


def register(
    s: Scenario, tool: str, *, at: str, regulatory: dict[str, Any], ai_act: str | None, version: str = "3.2.0"
) -> None:
    data = {
        "tool_id": tool,
        "name": tool,
        "vendor": "Acme Clinical AI",
        "version": version,
        "intended_use": "An aid to clinician judgement for adult inpatients.",
        "regulatory_status": regulatory,
        "model_digest": "sha256:" + "3f4c9a1d" * 8,
    }
    if ai_act:
        data["ai_act_risk"] = ai_act
    s.add("registered", "tool.registered", at, GOVERNANCE, data)


def validate(
    s: Scenario, name: str, tool: str, *, at: str, unit: str, result: str = "passed", threshold: float = 0.6
) -> None:
    s.add(
        name,
        "tool.validated",
        at,
        INFORMATICS,
        {
            "tool_id": tool,
            "site": "northside",
            "unit": unit,
            "population": ADULTS,
            "data_period": {"start": "2025-01-01T00:00:00Z", "end": "2025-12-31T23:59:59Z"},
            "metrics": {
                "n": 4120,
                "n_positive": 311,
                "sensitivity": 0.82 if result == "passed" else 0.61,
                "specificity": 0.91,
                "auroc": 0.88,
            },
            "result": result,
            "validation_ref": f"VAL-{name}",
            "threshold": threshold,
        },
    )


def approve(
    s: Scenario, name: str, tool: str, *, at: str, units: list[str], expires: str = "2027-02-01T00:00:00Z"
) -> None:
    s.add(
        name,
        "tool.approved",
        at,
        COMMITTEE,
        {
            "tool_id": tool,
            "scope": {"sites": ["northside"], "units": units, "populations": [ADULTS]},
            "conditions": ["Monthly drift report to the committee"],
            "signature_meaning": "approval",
            "expires_at": expires,
            "approval_ref": f"AIGC-{name}",
            "approvers": ["clin-0007", "staff-0192"],
        },
    )


def set_threshold(
    s: Scenario, name: str, tool: str, *, at: str, old: float | None, new: float, approved_by: str | None
) -> None:
    data: dict[str, Any] = {
        "tool_id": tool,
        "parameter": "alert_threshold",
        "new_value": new,
        "reason": "Operating point agreed after local validation.",
        "change_ref": f"CHG-{name}",
    }
    if old is not None:
        data["old_value"] = old
    if approved_by:
        data["approved_by"] = approved_by
    s.add(name, "tool.threshold_changed", at, INFORMATICS, data)


def train(
    s: Scenario, name: str, tool: str, clinician: str, *, completed: str, expires: str = "2027-02-10T00:00:00Z"
) -> None:
    s.add(
        name,
        "clinician.trained",
        completed,
        LMS,
        {
            "clinician_id": clinician,
            "tool_id": tool,
            "curriculum_version": f"{tool}-basics-v2",
            "completed_at": completed,
            "expires_at": expires,
        },
    )


def check(s: Scenario, name: str, tool: str, *, at: str, status: str, value: float = 0.41) -> None:
    s.add(
        name,
        "monitoring.checked",
        at,
        MONITOR,
        {
            "tool_id": tool,
            "metric": "ppv_weekly",
            "window": {"start": "2026-03-01T00:00:00Z", "end": at},
            "value": value,
            "limit": 0.35,
            "status": status,
        },
    )


def output(
    s: Scenario,
    name: str,
    tool: str,
    *,
    at: str,
    unit: str,
    score: float,
    label: str,
    priority: str,
    threshold: float,
    explanation: bool = True,
    version: str = "3.2.0",
) -> None:
    data: dict[str, Any] = {
        "output_id": name,
        "tool_id": tool,
        "model_version": version,
        "site": "northside",
        "unit": unit,
        "population": ADULTS,
        "patient_ref": f"Patient/pseud-{name}",
        "encounter_ref": f"Encounter/enc-{name}",
        "score": score,
        "label": label,
        "priority": priority,
        "threshold_in_effect": threshold,
    }
    if explanation:
        data["explanation"] = "Rising lactate, heart rate 118, temperature 38.9 C."
    s.add(name, "output.generated", at, VENDOR, data)


def shown(
    s: Scenario, name: str, output_id: str, clinician: str, *, at: str, surface: str = "ed_tracking_board"
) -> None:
    s.add(
        name,
        "output.shown",
        at,
        EHR,
        {"output_id": output_id, "clinician_id": clinician, "surface": surface, "shown_at": at},
    )


def acted(
    s: Scenario, name: str, output_id: str, clinician: str, action: str, *, at: str, to: str | None = None
) -> None:
    data: dict[str, Any] = {
        "output_id": output_id,
        "clinician_id": clinician,
        "action": action,
        "reason_code": "clinical_judgement",
        "acted_at": at,
    }
    if to:
        data["escalated_to"] = to
    s.add(name, "output.acted", at, EHR, data)


def incident(
    s: Scenario,
    tool: str,
    incident_id: str,
    category: str,
    outputs: list[str],
    *,
    aware: str,
    harm: str,
    serious: bool | None,
    **extra: Any,
) -> None:
    data: dict[str, Any] = {
        "incident_id": incident_id,
        "category": category,
        "output_ids": outputs,
        "harm": harm,
        "aware_at": aware,
        "description": "Reported by the charge nurse after the morning huddle.",
        "patient_ref": "Patient/pseud-x",
        "tool_id": tool,
        **extra,
    }
    if serious is not None:
        data["serious"] = serious
    s.add("reported", "incident.reported", aware, RISK, data)


def handle(
    s: Scenario,
    incident_id: str,
    *,
    assigned: str | None,
    reviewed: str | None,
    regime: str | None = None,
    filed: str | None = None,
) -> None:
    if assigned:
        s.add("assigned", "incident.assigned", assigned, RISK, {"incident_id": incident_id, "reviewer": "staff-0311"})
    if regime and filed:
        s.add(
            "filed",
            "incident.reported_externally",
            filed,
            RISK,
            {
                "incident_id": incident_id,
                "regime": regime,
                "authority": "competent_authority",
                "reference": "REF-1",
                "reported_at": filed,
                "report_kind": "initial",
            },
        )
    if reviewed:
        s.add(
            "reviewed",
            "incident.reviewed",
            reviewed,
            RISK,
            {
                "incident_id": incident_id,
                "findings": "See the RCA2 report.",
                "root_causes": ["workflow_design"],
                "reviewers": ["staff-0311", "clin-0007"],
            },
        )


# --- the five errors ------------------------------------------------------------------------------------


def false_negative() -> Scenario:
    """Missed sepsis in the ED. Approved for ICU only; failed ED validation; expired training; unapproved threshold."""
    s, tool = Scenario("fn"), "sepsis-watch"
    register(
        s,
        tool,
        at="2026-01-12T09:00:00Z",
        regulatory={"status": "device", "regime": "fda", "device_class": "II"},
        ai_act="not_high_risk",
    )
    validate(s, "validated-icu", tool, at="2026-01-30T15:00:00Z", unit="icu")
    validate(s, "validated-ed", tool, at="2026-01-31T15:00:00Z", unit="ed", result="failed")
    approve(s, "approved", tool, at="2026-02-01T10:00:00Z", units=["icu"])
    set_threshold(
        s, "threshold-initial", tool, at="2026-02-01T11:00:00Z", old=None, new=0.6, approved_by="aigc-northside"
    )
    train(s, "trained-bob", tool, "clin-bob", completed="2025-02-10T12:00:00Z", expires="2026-02-10T12:00:00Z")
    check(s, "checked", tool, at="2026-03-30T06:00:00Z", status="ok")
    set_threshold(s, "threshold-raised", tool, at="2026-03-20T08:00:00Z", old=0.6, new=0.7, approved_by=None)
    output(
        s,
        "out-fn-1",
        tool,
        at="2026-04-08T02:14:00Z",
        unit="ed",
        score=0.64,
        label="sepsis_risk_low",
        priority="routine",
        threshold=0.7,
    )
    shown(s, "shown", "out-fn-1", "clin-bob", at="2026-04-08T02:14:58Z")
    acted(s, "dismissed", "out-fn-1", "clin-bob", "dismissed", at="2026-04-08T02:15:13Z")
    incident(
        s,
        tool,
        "INC-FN",
        "false_negative",
        ["out-fn-1"],
        aware="2026-04-09T11:30:00Z",
        harm="severe_harm",
        serious=True,
    )
    handle(
        s,
        "INC-FN",
        assigned="2026-04-09T14:00:00Z",
        regime="fda_mdr",
        filed="2026-04-15T09:42:00Z",
        reviewed="2026-04-28T16:00:00Z",
    )
    return s


def false_positive() -> Scenario:
    """A well-governed sepsis alert that was wrong: escalated, reviewed by the senior, overridden.

    Every check passes."""
    s, tool = Scenario("fp"), "sepsis-guard"
    register(
        s,
        tool,
        at="2026-01-12T09:00:00Z",
        regulatory={"status": "device", "regime": "fda", "device_class": "II"},
        ai_act="not_high_risk",
    )
    validate(s, "validated-icu", tool, at="2026-01-30T15:00:00Z", unit="icu")
    approve(s, "approved", tool, at="2026-02-01T10:00:00Z", units=["icu", "ed"])
    set_threshold(s, "threshold", tool, at="2026-02-01T11:00:00Z", old=None, new=0.6, approved_by="aigc-northside")
    train(s, "trained-ada", tool, "clin-ada", completed="2026-02-10T12:41:09Z")
    train(s, "trained-sen", tool, "clin-sen", completed="2026-02-11T09:00:00Z")
    check(s, "checked", tool, at="2026-04-01T06:00:00Z", status="ok")
    output(
        s,
        "out-fp-1",
        tool,
        at="2026-04-07T21:02:00Z",
        unit="icu",
        score=0.83,
        label="sepsis_risk_high",
        priority="urgent",
        threshold=0.6,
    )
    shown(s, "shown-ada", "out-fp-1", "clin-ada", at="2026-04-07T21:02:04Z", surface="icu_dashboard")
    acted(s, "escalated", "out-fp-1", "clin-ada", "escalated", at="2026-04-07T21:04:30Z", to="clin-sen")
    shown(s, "shown-sen", "out-fp-1", "clin-sen", at="2026-04-07T21:09:00Z", surface="icu_dashboard")
    acted(s, "overridden", "out-fp-1", "clin-sen", "overridden", at="2026-04-07T21:20:00Z")
    incident(
        s,
        tool,
        "INC-FP",
        "false_positive",
        ["out-fp-1"],
        aware="2026-04-08T08:00:00Z",
        harm="no_harm",
        serious=False,
        safety_event_type="near_miss",
    )
    handle(s, "INC-FP", assigned="2026-04-08T09:00:00Z", reviewed="2026-04-20T16:00:00Z")
    return s


def misprioritization() -> Scenario:
    """A CT worklist prioritizer ranks a pulmonary embolism as routine. Drift was never acknowledged, the model
    was updated after awareness and before the MDR report, which was filed after its 15-day deadline."""
    s, tool = Scenario("mp"), "pe-triage"
    register(
        s,
        tool,
        at="2026-01-05T09:00:00Z",
        regulatory={"status": "device", "regime": "eu_mdr", "device_class": "IIa"},
        ai_act="annex_i_device",
    )
    validate(s, "validated", tool, at="2026-01-20T15:00:00Z", unit="radiology")
    approve(s, "approved", tool, at="2026-01-25T10:00:00Z", units=["radiology"])
    set_threshold(s, "threshold", tool, at="2026-01-25T11:00:00Z", old=None, new=0.6, approved_by="aigc-northside")
    train(s, "trained-rad", tool, "clin-rad", completed="2026-02-01T09:00:00Z")
    check(s, "drift", tool, at="2026-03-02T06:00:00Z", status="drift", value=0.22)
    check(s, "checked", tool, at="2026-03-09T06:00:00Z", status="ok")
    output(
        s,
        "out-mp-1",
        tool,
        at="2026-03-12T14:00:00Z",
        unit="radiology",
        score=0.58,
        label="pe_unlikely",
        priority="routine",
        threshold=0.6,
    )
    shown(s, "shown", "out-mp-1", "clin-rad", at="2026-03-12T14:00:30Z", surface="pacs_worklist")
    acted(s, "deferred", "out-mp-1", "clin-rad", "deferred", at="2026-03-12T14:05:00Z")
    incident(
        s,
        tool,
        "INC-MP",
        "misprioritization",
        ["out-mp-1"],
        aware="2026-03-13T09:00:00Z",
        harm="severe_harm",
        serious=True,
    )
    s.add(
        "updated",
        "tool.updated",
        "2026-03-20T22:00:00Z",
        VENDOR,
        {
            "tool_id": tool,
            "version": "3.3.0",
            "model_digest": "sha256:" + "9b21e07c" * 8,
            "change_summary": "Hotfix for the worklist ordering.",
            "previous_version": "3.2.0",
            "within_pccp": False,
        },
    )
    handle(
        s,
        "INC-MP",
        assigned="2026-03-13T10:00:00Z",
        regime="eu_mdr_art87",
        filed="2026-04-02T09:00:00Z",
        reviewed="2026-04-10T10:00:00Z",
    )
    return s


def faulty_recommendation() -> Scenario:
    """An antibiotic advisor, its approval expired, recommends a drug the patient is allergic to. Accepted 4 s after
    display; no explanation recorded; no reviewer assigned for 80 hours."""
    s, tool = Scenario("fr"), "abx-advisor"
    register(
        s,
        tool,
        at="2025-01-05T09:00:00Z",
        regulatory={"status": "none", "basis": "non-device CDS"},
        ai_act="not_high_risk",
    )
    validate(s, "validated", tool, at="2025-01-20T15:00:00Z", unit="ward_7")
    approve(s, "approved", tool, at="2025-02-01T10:00:00Z", units=["ward_7"], expires="2026-02-01T00:00:00Z")
    set_threshold(s, "threshold", tool, at="2025-02-01T11:00:00Z", old=None, new=0.6, approved_by="aigc-northside")
    train(s, "trained-cat", tool, "clin-cat", completed="2026-01-10T09:00:00Z")
    check(s, "checked", tool, at="2026-03-01T06:00:00Z", status="ok")
    output(
        s,
        "out-fr-1",
        tool,
        at="2026-03-05T10:00:00Z",
        unit="ward_7",
        score=0.91,
        label="recommend_ceftriaxone",
        priority="routine",
        threshold=0.6,
        explanation=False,
    )
    shown(s, "shown", "out-fr-1", "clin-cat", at="2026-03-05T10:00:10Z", surface="order_entry")
    acted(s, "accepted", "out-fr-1", "clin-cat", "accepted", at="2026-03-05T10:00:14Z")
    incident(
        s,
        tool,
        "INC-FR",
        "faulty_recommendation",
        ["out-fr-1"],
        aware="2026-03-05T16:00:00Z",
        harm="moderate_harm",
        serious=False,
    )
    handle(s, "INC-FR", assigned="2026-03-09T00:00:00Z", reviewed="2026-03-20T10:00:00Z")
    return s


def workflow_amplification() -> Scenario:
    """A deterioration alert floods the night nurse with 12 alerts in one shift; two go unanswered, the critical
    one is escalated to a rapid response team that never acts; the patient dies. At the evaluation time the AI Act
    report (10 days after a death) is due within 48 hours; the FDA report (10 work days) is pending."""
    s, tool = Scenario("wa"), "deteriorate-ai"
    register(
        s,
        tool,
        at="2026-01-05T09:00:00Z",
        regulatory={"status": "device", "regime": "fda", "device_class": "II"},
        ai_act="annex_iii",
    )
    validate(s, "validated", tool, at="2026-01-20T15:00:00Z", unit="ward_4")
    approve(s, "approved", tool, at="2026-01-25T10:00:00Z", units=["ward_4"])
    set_threshold(s, "threshold", tool, at="2026-01-25T11:00:00Z", old=None, new=0.6, approved_by="aigc-northside")
    train(s, "trained-nurse", tool, "rn-dee", completed="2026-02-01T09:00:00Z")
    train(s, "trained-rrt", tool, "rrt-team", completed="2026-02-01T09:00:00Z")
    check(s, "checked", tool, at="2026-04-01T06:00:00Z", status="ok")
    for i in range(12):
        minute = 5 * i
        at = f"2026-04-10T{20 + (minute // 60):02d}:{minute % 60:02d}:00Z"
        output(
            s,
            f"out-wa-{i}",
            tool,
            at=at,
            unit="ward_4",
            score=0.7,
            label="deterioration_risk",
            priority="high",
            threshold=0.6,
        )
        shown(s, f"shown-{i}", f"out-wa-{i}", "rn-dee", at=at.replace(":00Z", ":20Z"), surface="nurse_station")
        if i in (3, 7):
            continue  # never acted on
        if i == 11:
            acted(s, "escalated", "out-wa-11", "rn-dee", "escalated", at="2026-04-10T20:56:00Z", to="rrt-team")
        else:
            acted(s, f"dismissed-{i}", f"out-wa-{i}", "rn-dee", "dismissed", at=at.replace(":00Z", ":40Z"))
    incident(
        s,
        tool,
        "INC-WA",
        "workflow_amplification",
        ["out-wa-11"],
        aware="2026-04-11T07:00:00Z",
        harm="death",
        serious=True,
    )
    handle(s, "INC-WA", assigned="2026-04-11T08:00:00Z", reviewed=None)
    s.add(
        "suspended",
        "tool.suspended",
        "2026-04-11T09:00:00Z",
        COMMITTEE,
        {"tool_id": tool, "reason": "Alert burden review after a death on ward 4.", "incident_id": "INC-WA"},
    )
    return s


ALL = (false_negative, false_positive, misprioritization, faulty_recommendation, workflow_amplification)

# The moment the tests evaluate windows and deadlines at.
NOW = "2026-04-20T09:00:00Z"
