"""Governance set before the first error: each incident's response judged against the policy in force when it
became known, the gaps of policies, intervention speed and recurrence, with the evidence seqs of each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.store import Ledger
from projections.answers import to_json
from projections.queries import (
    accountability_report,
    governance_gaps,
    incident_response,
    intervention_metrics,
    recurrence,
    tool_policy,
)
from projections.queries.policy_gaps import KINDS as POLICY_GAP_KINDS
from projections.timefmt import iso, parse_us
from projections.views import Views
from projections.worker import ProjectionWorker
from tests.ledgers import env_settings
from tests.projections.conftest import Api, Opened
from tests.projections.governance_scenarios import (
    NOW,
    STEPS,
    gaps_story,
    kind_story,
    policy_change,
    recurrence_story,
)
from tests.projections.viewdump import strip

NOW_US = parse_us(NOW)
KINDS = tuple(STEPS)


def response(opened: Opened, incident_id: str) -> dict[str, Any]:
    """The accountability report's ``response`` answer, as JSON."""
    report = to_json(accountability_report(opened.views, incident_id, now=NOW_US))
    answers = {a["question"]: a for a in report["incident_answers"]}
    found: dict[str, Any] = answers["response"]
    return found


def gap_list(opened: Opened, **filters: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = to_json(governance_gaps(opened.views, now=NOW_US, **filters))["gaps"]
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_error_followed_in_time_is_done_with_evidence_and_no_gap(opened_sqlite: Opened, kind: str) -> None:
    """Incident A's two expected steps (the default playbook for its kind, adopted by a complete policy) were each
    taken in time: each is done, its evidence the step and the report it cites; no response gap names A."""
    s = kind_story(kind)
    opened_sqlite.append(s)
    answer = response(opened_sqlite, "INC-A")

    assert answer["verdict"] == "yes"
    assert answer["details"]["expected_from"] == "default"
    steps = answer["details"]["steps"]
    assert [(x["step"], x["status"]) for x in steps] == [(name, "done") for name, _ in STEPS[kind]]
    assert {e["seq"] for e in steps[0]["evidence"]} == s.seqs("a-first", "INC-A")  # the step and the report it cites
    assert {e["seq"] for e in steps[1]["evidence"]} == s.seqs("a-second", "INC-A")
    assert all(x["deadline_missed"] is None for x in steps)
    assert s.seq("policy") in {e["seq"] for e in answer["evidence"]}
    assert [g for g in gap_list(opened_sqlite) if g["incident_id"] == "INC-A"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_error_with_a_step_late_and_one_missing_shows_each_with_the_deadline_it_missed(
    opened_sqlite: Opened, kind: str
) -> None:
    """Incident B's first step was taken a day after its deadline, its second never: late and missing, each with
    its deadline (aware_at + the playbook's hours), and one gap of each kind."""
    s = kind_story(kind)
    opened_sqlite.append(s)
    answer = response(opened_sqlite, "INC-B")
    (first, first_hours), (second, second_hours) = STEPS[kind]
    aware = parse_us("2026-03-10T09:00:00Z")

    assert answer["verdict"] == "no"
    late, missing = answer["details"]["steps"]
    assert (late["step"], late["status"]) == (first, "late")
    assert late["deadline_missed"] == iso(aware + first_hours * 3_600_000_000)
    assert {e["seq"] for e in late["evidence"]} == {s.seq("b-first")}
    assert (missing["step"], missing["status"]) == (second, "missing")
    assert missing["deadline_missed"] == iso(aware + second_hours * 3_600_000_000)
    assert missing["evidence"] == []
    mine = [
        (g["kind"], g["at"]) for g in gap_list(opened_sqlite) if g["incident_id"] == "INC-B" and "step" in g["kind"]
    ]
    assert sorted(mine) == [
        ("response_step_late", late["deadline_missed"]),
        ("response_step_missing", missing["deadline_missed"]),
    ]


def test_a_step_is_judged_by_the_policy_in_force_when_the_incident_became_known(opened_sqlite: Opened) -> None:
    """The review deadline went from 24 to 96 hours after INC-OLD became known: its review 48 hours after awareness
    is late (the old policy's evidence); INC-NEW's, also 48 hours after, is in time under the new policy."""
    s = policy_change()
    opened_sqlite.append(s)

    old = response(opened_sqlite, "INC-OLD")
    assert old["verdict"] == "no"
    assert [(x["status"], x["due_hours"]) for x in old["details"]["steps"]] == [("late", 24)]
    assert old["details"]["steps"][0]["deadline_missed"] == "2026-02-02T09:00:00.000000Z"
    assert s.seq("policy-v1") in {e["seq"] for e in old["evidence"]}
    assert s.seq("policy-v2") not in {e["seq"] for e in old["evidence"]}

    new = response(opened_sqlite, "INC-NEW")
    assert new["verdict"] == "yes"
    assert [(x["status"], x["due_hours"]) for x in new["details"]["steps"]] == [("done", 96)]
    assert s.seq("policy-v2") in {e["seq"] for e in new["evidence"]}

    body = to_json(incident_response(opened_sqlite.views, "INC-OLD", now=NOW_US))
    assert body["policy"]["policy_id"] == "POL-policy-v1"
    assert [g["incident_id"] for g in gap_list(opened_sqlite, kinds=["response_step_late"])] == ["INC-OLD"]


def test_recurrence_counts_incidents_after_a_verified_remediation_of_the_same_tool_and_kind_only(
    opened_sqlite: Opened,
) -> None:
    """R1 and R2 came before R1's remediation was verified effective, R3 after it: one recurrence. R4 (another
    kind) and O2 (another tool, whose remediation was not verified effective) are not recurrences."""
    s = recurrence_story()
    opened_sqlite.append(s)
    body = to_json(recurrence(opened_sqlite.views))
    groups = {(g["tool_id"], g["error_kind"]): g for g in body["groups"]}

    same = groups[("rec-tool", "false_negative")]
    assert (same["incidents"], same["before_a_verified_remediation"], same["recurrences"]) == (3, 2, 1)
    assert [r["incident_id"] for r in same["recurred"]] == ["R3"]
    assert {e["seq"] for e in same["recurred"][0]["evidence"]} == s.seqs("R3", "REM-R1-completed")
    assert groups[("rec-tool", "false_positive")]["recurrences"] == 0
    assert groups[("other-tool", "false_negative")]["recurrences"] == 0
    assert groups[("other-tool", "false_negative")]["verified_remediations"] == []
    assert body["total"] == 1
    only = to_json(recurrence(opened_sqlite.views, tool="other-tool"))
    assert [(g["tool_id"], g["recurrences"]) for g in only["groups"]] == [("other-tool", 0)]


def test_a_tool_without_policy_and_a_policy_with_open_questions_are_gaps_and_a_complete_policy_is_not(
    opened_sqlite: Opened,
) -> None:
    """none-tool has outputs and no policy; half-tool's policy leaves review_owner and repeat_prevention open;
    full-tool's policy is complete, so neither gap names it."""
    s = gaps_story()
    opened_sqlite.append(s)
    found = gap_list(opened_sqlite, kinds=["tool_without_policy", "policy_question_unanswered"])

    assert [(g["kind"], g["tool_id"]) for g in found] == [
        ("policy_question_unanswered", "half-tool"),
        ("tool_without_policy", "none-tool"),
    ]
    without, unanswered = found[1], found[0]
    assert [e["seq"] for e in without["evidence"]] == [s.seq("out-none")]
    assert [e["seq"] for e in unanswered["evidence"]] == [s.seq("half")]
    assert "review_owner" in unanswered["reason"] and "repeat_prevention" in unanswered["reason"]
    assert "failure_modes" not in unanswered["reason"]
    assert tool_policy(opened_sqlite.views, "half-tool", as_of=NOW_US)["policy"]["unanswered"] == [
        "review_owner",
        "repeat_prevention",
    ]
    assert tool_policy(opened_sqlite.views, "full-tool", as_of=NOW_US)["policy"]["unanswered"] == []


def test_a_step_taken_by_another_role_than_the_playbook_names_is_recorded_and_flagged(opened_sqlite: Opened) -> None:
    """The review was taken in time, by a nurse where the policy names the attending physician: done, flagged,
    and a response_step_wrong_role gap with the step as evidence."""
    s = gaps_story()
    opened_sqlite.append(s)
    answer = response(opened_sqlite, "INC-ROLE")

    assert answer["verdict"] == "partly"
    (review,) = answer["details"]["steps"]
    assert (review["status"], review["by_expected_role"], review["performed_by_role"]) == ("done", False, "staff_nurse")
    (gap,) = gap_list(opened_sqlite, kinds=["response_step_wrong_role"])
    assert gap["incident_id"] == "INC-ROLE"
    assert s.seq("by-nurse") in {e["seq"] for e in gap["evidence"]}


def test_intervention_speed_measures_each_interval_with_its_evidence(opened_sqlite: Opened) -> None:
    """INC-A: output at 10:00 the day before awareness (23 h), shown 10:01 and acted on 10:04 (180 s), assigned 2 h
    after awareness, first step after 24 h; the group's medians come from A and B."""
    s = kind_story("false_negative")
    opened_sqlite.append(s)
    body = to_json(intervention_metrics(opened_sqlite.views, tool="false_negative-tool"))
    a = next(i for i in body["incidents"] if i["incident_id"] == "INC-A")["seconds"]

    assert a["output_to_awareness"]["seconds"] == 23 * 3600
    assert a["shown_to_action"]["seconds"] == 180
    assert {e["seq"] for e in a["shown_to_action"]["evidence"]} == s.seqs("out-a-shown", "out-a-acted")
    assert a["awareness_to_assignment"]["seconds"] == 2 * 3600
    assert a["awareness_to_first_step"]["seconds"] == 24 * 3600
    assert a["awareness_to_step"]["escalation_analysis"]["seconds"] == 48 * 3600
    assert a["awareness_to_remediation"] is None
    (group,) = body["groups"]
    assert (group["tool_id"], group["unit"], group["error_kind"], group["incidents"]) == (
        "false_negative-tool",
        "ed",
        "false_negative",
        2,
    )
    # B's first step came 96 h after awareness: the median of 24 h and 96 h
    assert group["median_seconds"]["awareness_to_first_step"] == 60 * 3600
    assert intervention_metrics(opened_sqlite.views, kind="false_positive")["groups"] == []


def test_the_routes_give_a_reader_the_response_the_policy_and_the_measures(api: Api) -> None:
    """/v1/incidents/{id}/response, /v1/tools/{id}/policy, /v1/metrics/intervention and /v1/metrics/recurrence
    answer the reader with what the queries answer, on each store."""
    api.append(kind_story("false_negative"))
    body: Any = api.get("/v1/incidents/INC-B/response", now=NOW)
    assert body["policy"]["policy_id"] == "POL-policy"
    assert [x["status"] for x in body["response"]["steps"]] == ["late", "missing"]
    policy: Any = api.get("/v1/tools/false_negative-tool/policy", as_of=NOW)
    assert policy["policy"]["unanswered"] == []
    assert [s["step"] for s in policy["playbook"]["false_negative"]["steps"]] == [
        "clinical_review",
        "escalation_analysis",
    ]
    speed: Any = api.get("/v1/metrics/intervention", tool="false_negative-tool", unit="ed", kind="false_negative")
    assert [g["incidents"] for g in speed["groups"]] == [2]
    again: Any = api.get("/v1/metrics/recurrence", kind="false_negative")
    assert again["total"] == 0
    refused = api.client.get(
        "/v1/metrics/recurrence",
        params={"from": "2026-05-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=api.reader,
    )
    assert refused.status_code == 422
    assert api.client.get("/v1/incidents/INC-NONE/response", headers=api.reader).status_code == 404


# --- the same measures on both stores, live and rebuilt ------------------------------------------------------

Question = Callable[[Views], Any]
QUESTIONS: dict[str, Question] = {
    "responses": lambda v: [
        incident_response(v, i, now=NOW_US) for i in ("INC-A", "INC-B", "INC-OLD", "INC-NEW", "INC-ROLE", "R3")
    ],
    "intervention": lambda v: intervention_metrics(v),
    "recurrence": lambda v: recurrence(v),
    "gaps": lambda v: governance_gaps(v, now=NOW_US, kinds=list(POLICY_GAP_KINDS)),
    "policies": lambda v: [tool_policy(v, t, as_of=NOW_US) for t in ("change-tool", "half-tool", "none-tool")],
}


def _measured(url: str) -> dict[str, Any]:
    """Append the stories while a worker follows in small batches, ask every question, rebuild, ask again."""
    stories = (kind_story("false_negative"), policy_change(), recurrence_story(), gaps_story())
    with Ledger(env_settings(url)) as ledger:
        worker = ProjectionWorker(ledger, interval=0.01, batch_size=5)
        worker.start()
        try:
            for story in stories:
                for start in range(0, len(story.events), 4):
                    ledger.submit(story.events[start : start + 4])
            worker.wait_for(ledger.head_seq(), timeout=30)
        finally:
            worker.stop()
        views = Views(ledger)
        live = {name: to_json(ask(views)) for name, ask in QUESTIONS.items()}
        views.projector.rebuild(batch_size=7)
        assert {name: to_json(ask(views)) for name, ask in QUESTIONS.items()} == live
    return live


@pytest.mark.postgres
def test_the_response_measures_agree_on_sqlite_and_postgres_and_after_a_rebuild(sqlite_url: str, pg_url: str) -> None:
    """Every governance answer (responses, intervention speed, recurrence, policy gaps, policies) is the same
    live and after a rebuild on each store, and the same on SQLite and PostgreSQL but for recording times."""
    on_sqlite, on_postgres = _measured(sqlite_url), _measured(pg_url)
    assert on_sqlite["recurrence"]["total"] == 1 and on_sqlite["gaps"]["total"] >= 4  # the answers hold something
    for name in QUESTIONS:
        assert strip(on_sqlite[name]) == strip(on_postgres[name]), name
