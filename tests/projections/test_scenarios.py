"""The five errors clinical AI makes, appended through the API, answered by the timeline, the accountability
report and the gaps with the right evidence seqs; one scenario passes every check, one fails four of them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.projections.conftest import Api
from tests.projections.scenarios import (
    NOW,
    Scenario,
    false_negative,
    false_positive,
    faulty_recommendation,
    misprioritization,
    workflow_amplification,
)

YES, NO, PARTLY, UNKNOWN = "yes", "no", "partly", "unknown: not recorded"


def report(api: Api, incident_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The accountability report as {question: answer} for the first output, and for the incident."""
    body: Any = api.get(f"/v1/incidents/{incident_id}/accountability", now=NOW)
    per_output = {a["question"]: a for a in body["outputs"][0]["answers"]}
    incident = {a["question"]: a for a in body["incident_answers"]}
    return per_output, incident


def seqs(answer: dict[str, Any]) -> set[int]:
    return {int(e["seq"]) for e in answer["evidence"]}


def gaps(api: Api, **params: Any) -> list[dict[str, Any]]:
    """The gaps, but tool_without_policy: these scenarios record no policy (tests/projections/test_governance.py
    is where policies are recorded and their gaps checked)."""
    body: Any = api.get("/v1/gaps", now=NOW, **params)
    return [g for g in body["gaps"] if g["kind"] != "tool_without_policy"]


def gap_kinds(found: list[dict[str, Any]]) -> list[str]:
    return sorted(g["kind"] for g in found)


def timeline_seqs(api: Api, incident_id: str) -> list[int]:
    body: Any = api.get(f"/v1/incidents/{incident_id}/timeline")
    return [int(e["seq"]) for e in body["entries"]]


def test_false_negative_fails_approval_scope_site_validation_training_and_threshold_approval(api: Api) -> None:
    s = false_negative()
    api.append(s)
    answers, incident = report(api, "INC-FN")

    assert answers["approval"]["verdict"] == YES
    assert answers["approval_scope"]["verdict"] == NO
    assert seqs(answers["approval_scope"]) == s.seqs("approved", "out-fn-1")
    assert answers["approval_scope"]["details"]["outside"] == ["unit ed"]
    assert answers["validation"]["verdict"] == NO
    assert seqs(answers["validation"]) == s.seqs("validated-ed", "out-fn-1")
    assert answers["training"]["verdict"] == NO
    assert seqs(answers["training"]) == s.seqs("trained-bob", "shown")
    assert answers["threshold"]["verdict"] == NO
    assert seqs(answers["threshold"]) == s.seqs("threshold-raised", "out-fn-1")
    earlier = answers["threshold"]["details"]["changes_before_output"]
    assert [(c["seq"], c["value"], c["approved_by"]) for c in earlier] == [
        (s.seq("threshold-initial"), 0.6, "aigc-northside"),
        (s.seq("threshold-raised"), 0.7, None),
    ]
    assert answers["actions"]["details"]["actions"][0]["seconds_after_display"] == 15.0
    assert incident["deadlines"]["verdict"] == YES  # FDA user facility report filed within 10 work days
    assert s.seq("filed") in seqs(incident["deadlines"])

    found = gaps(api)
    assert gap_kinds(found) == [
        "output_outside_scope",
        "output_without_passed_validation",
        "shown_to_untrained_clinician",
        "threshold_change_unapproved",
    ]
    by_kind = {g["kind"]: g for g in found}
    assert seqs(by_kind["threshold_change_unapproved"]) == {s.seq("threshold-raised")}
    assert seqs(by_kind["shown_to_untrained_clinician"]) == s.seqs("trained-bob", "shown")

    # The timeline runs from the governance in effect, through the output and its display and action, to the review.
    entries = timeline_seqs(api, "INC-FN")
    assert len(entries) == len(set(entries))  # each event once, however many roles it plays
    for name in (
        "approved",
        "validated-ed",
        "threshold-raised",
        "trained-bob",
        "out-fn-1",
        "shown",
        "dismissed",
        "reported",
        "assigned",
        "filed",
        "reviewed",
    ):
        assert s.seq(name) in entries, name
    assert s.seq("threshold-initial") not in entries  # superseded before the output
    assert entries.index(s.seq("out-fn-1")) < entries.index(s.seq("shown")) < entries.index(s.seq("reported"))


def test_false_positive_that_was_governed_well_passes_every_check_and_raises_no_gap(api: Api) -> None:
    s = false_positive()
    api.append(s)
    answers, incident = report(api, "INC-FP")

    assert {q: a["verdict"] for q, a in answers.items()} == dict.fromkeys(answers, YES)
    assert {q: a["verdict"] for q, a in incident.items()} == {
        "deadlines": YES,
        "changes_after_awareness": YES,
        "response": UNKNOWN,  # no policy recorded in this scenario: nothing was promised
    }
    assert seqs(answers["escalation"]) == s.seqs("escalated", "overridden")
    assert seqs(answers["training"]) == s.seqs("trained-ada", "trained-sen", "shown-ada", "shown-sen")
    assert gaps(api) == []


def test_misprioritization_with_ignored_drift_a_change_before_the_report_and_a_late_mdr_report(api: Api) -> None:
    s = misprioritization()
    api.append(s)
    answers, incident = report(api, "INC-MP")

    assert answers["monitoring"]["verdict"] == PARTLY
    assert s.seq("drift") in seqs(answers["monitoring"])
    assert incident["changes_after_awareness"]["verdict"] == NO
    assert seqs(incident["changes_after_awareness"]) == {s.seq("updated")}
    assert incident["deadlines"]["verdict"] == NO
    regimes = {r["regime"]: r for r in incident["deadlines"]["details"]["regimes"]}
    assert regimes["eu_mdr_art87"]["status"] == "late"
    assert regimes["eu_mdr_art87"]["due_at"] == "2026-03-28T09:00:00.000000Z"  # 15 days after awareness
    assert regimes["eu_ai_act_art73"]["applies"] == "no"  # Art. 73(10): an MDR device reports under the MDR

    found = gaps(api)
    assert gap_kinds(found) == ["drift_not_followed", "report_deadline_missed", "tool_changed_before_report"]
    by_kind = {g["kind"]: g for g in found}
    assert seqs(by_kind["drift_not_followed"]) == {s.seq("drift")}
    assert seqs(by_kind["tool_changed_before_report"]) == s.seqs("reported", "updated")
    assert seqs(by_kind["report_deadline_missed"]) == s.seqs("reported", "filed")


def test_faulty_recommendation_from_an_expired_approval_rubber_stamped_and_left_unassigned(api: Api) -> None:
    s = faulty_recommendation()
    api.append(s)
    answers, incident = report(api, "INC-FR")

    assert answers["approval"]["verdict"] == NO
    assert "expired" in answers["approval"]["reason"]
    assert seqs(answers["approval"]) == s.seqs("approved", "out-fr-1")
    assert answers["explanation"]["verdict"] == UNKNOWN
    assert answers["actions"]["details"]["actions"][0]["seconds_after_display"] == 4.0
    assert incident["deadlines"]["verdict"] == YES  # moderate harm, not serious, not a device: nothing to report

    found = gaps(api)
    assert gap_kinds(found) == ["incident_unassigned", "output_without_approval"]
    assert seqs(next(g for g in found if g["kind"] == "incident_unassigned")) == s.seqs("reported", "assigned")

    metrics: Any = api.get("/v1/metrics/reliance", tool="abx-advisor", fast_acceptance_seconds=10)
    assert metrics["acceptance_rate"] == 1.0
    assert metrics["fast_acceptance"]["share"] == 1.0
    assert [e["seq"] for e in metrics["fast_acceptance"]["evidence"]] == [s.seq("accepted")]


def test_workflow_amplification_floods_a_nurse_leaves_alerts_unanswered_and_an_escalation_unfollowed(api: Api) -> None:
    s = workflow_amplification()
    api.append(s)
    answers, incident = report(api, "INC-WA")

    assert answers["escalation"]["verdict"] == PARTLY
    assert seqs(answers["escalation"]) == {s.seq("escalated")}
    assert incident["deadlines"]["verdict"] == PARTLY  # not yet due, not yet filed
    assert incident["changes_after_awareness"]["verdict"] == YES  # a suspension is not an alteration
    assert s.seq("suspended") in seqs(incident["changes_after_awareness"])

    found = gaps(api)
    assert gap_kinds(found) == ["report_deadline_near", "shown_not_acted", "shown_not_acted"]
    assert sorted(g["output_id"] for g in found if g["kind"] == "shown_not_acted") == ["out-wa-3", "out-wa-7"]
    assert {int(e["seq"]) for g in found if g["kind"] == "shown_not_acted" for e in g["evidence"]} == s.seqs(
        "shown-3", "shown-7"
    )

    metrics: Any = api.get("/v1/metrics/reliance", tool="deteriorate-ai")
    assert metrics["alert_burden"]["max_alerts_in_a_clinician_shift"] == 12
    assert metrics["unanswered"]["not_acted_on_within_window"] == 2
    assert metrics["dismissal_rate"] == pytest.approx(9 / 10)
    assert metrics["escalation_rate"] == pytest.approx(1 / 10)


def test_all_five_in_one_ledger_give_each_its_own_gaps_and_none_for_the_governed_tool(api: Api) -> None:
    appended = 0
    for build in (false_negative, false_positive, misprioritization, faulty_recommendation, workflow_amplification):
        scenario: Scenario = build()
        appended = api.append(scenario)
    found = gaps(api)
    flagged = {g["tool_id"] for g in found} | {g["incident_id"] for g in found}
    assert "sepsis-guard" not in flagged and "INC-FP" not in flagged
    assert len(found) == 4 + 0 + 3 + 2 + 3
    assert gap_kinds(gaps(api, tool="sepsis-guard")) == []
    incidents: Any = api.get("/v1/incidents", category="false_positive")
    assert [i["incident_id"] for i in incidents["incidents"]] == ["INC-FP"]
    assert incidents["position"] == appended
