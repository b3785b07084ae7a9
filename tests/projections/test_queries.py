"""The queries' filters, windows and edge cases: incidents, outputs, blast radius, gaps; the routes' roles."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.apikeys import Role
from projections.answers import UNKNOWN, to_json
from projections.errors import InvalidQuery, NotFound
from projections.queries import (
    GAP_KINDS,
    accountability_report,
    blast_radius,
    governance_gaps,
    list_incidents,
    output_detail,
)
from projections.timefmt import parse_us
from tests.projections.conftest import Api, Opened
from tests.projections.scenarios import (
    NOW,
    RISK,
    Scenario,
    false_negative,
    false_positive,
    misprioritization,
    workflow_amplification,
)

NOW_US = parse_us(NOW)


@pytest.fixture
def everything(opened_sqlite: Opened) -> Opened:
    opened_sqlite.append(false_negative(), false_positive(), misprioritization(), workflow_amplification())
    return opened_sqlite


def ids(body: dict[str, Any]) -> list[str]:
    return [i["incident_id"] for i in body["incidents"]]


def test_incidents_filter_by_category_harm_tool_status_and_awareness(everything: Opened) -> None:
    views = everything.views
    assert ids(list_incidents(views)) == ["INC-MP", "INC-FP", "INC-FN", "INC-WA"]  # by aware_at
    assert ids(list_incidents(views, category="misprioritization")) == ["INC-MP"]
    assert ids(list_incidents(views, harm="death")) == ["INC-WA"]
    assert ids(list_incidents(views, tool="sepsis-watch")) == ["INC-FN"]
    assert ids(list_incidents(views, status="reviewed")) == ["INC-MP", "INC-FP", "INC-FN"]
    assert ids(list_incidents(views, status="assigned")) == ["INC-WA"]
    window = list_incidents(
        views, aware_from=parse_us("2026-04-08T00:00:00Z"), aware_to=parse_us("2026-04-10T00:00:00Z")
    )
    assert ids(window) == ["INC-FP", "INC-FN"]
    with pytest.raises(InvalidQuery, match="category must be one of"):
        list_incidents(views, category="typo")


def test_a_reclassification_changes_the_harm_the_list_filters_on(everything: Opened) -> None:
    s = Scenario("reclass")
    s.add(
        "classified",
        "incident.classified",
        "2026-04-12T10:00:00Z",
        RISK,
        {"incident_id": "INC-FN", "harm": "death", "rationale": "Patient died on day 3."},
    )
    everything.append(s)
    assert ids(list_incidents(everything.views, harm="death")) == ["INC-FN", "INC-WA"]
    summary = to_json(list_incidents(everything.views, harm="death"))["incidents"][0]
    assert {e["note"] for e in summary["evidence"]} >= {"report", "latest classification"}


def test_events_recorded_before_the_report_still_build_the_incident(opened_sqlite: Opened) -> None:
    s = Scenario("early")
    s.add(
        "assigned", "incident.assigned", "2026-04-09T14:00:00Z", RISK, {"incident_id": "INC-X", "reviewer": "staff-1"}
    )
    s.add(
        "reported",
        "incident.reported",
        "2026-04-09T11:30:00Z",
        RISK,
        {
            "incident_id": "INC-X",
            "category": "false_negative",
            "output_ids": ["out-missing"],
            "harm": "no_harm",
            "aware_at": "2026-04-09T11:30:00Z",
            "description": "Backfilled from the old system.",
        },
    )
    opened_sqlite.append(s)
    (row,) = to_json(list_incidents(opened_sqlite.views))["incidents"]
    assert (row["status"], row["category"], row["aware_at"]) == (
        "assigned",
        "false_negative",
        "2026-04-09T11:30:00.000000Z",
    )
    report = accountability_report(opened_sqlite.views, "INC-X", now=NOW_US)
    verdicts = {a.question: a.verdict for a in report["outputs"][0]["answers"]}
    assert verdicts["output"] == UNKNOWN and verdicts["approval"] == UNKNOWN  # the output was never recorded
    assert "no output.generated for output out-missing" in report["outputs"][0]["answers"][0].reason


def test_an_output_shows_who_saw_it_what_each_did_and_its_incident(everything: Opened) -> None:
    body = to_json(output_detail(everything.views, "out-fp-1"))
    assert [(s["clinician_id"], s["surface"]) for s in body["output"]["seen_by"]] == [
        ("clin-ada", "icu_dashboard"),
        ("clin-sen", "icu_dashboard"),
    ]
    assert [(a["clinician_id"], a["action"], a["seconds_after_display"]) for a in body["output"]["actions"]] == [
        ("clin-ada", "escalated", 146.0),
        ("clin-sen", "overridden", 660.0),
    ]
    assert [i["incident_id"] for i in body["incidents"]] == ["INC-FP"]
    assert all("Patient/" not in str(e["facts"]) for e in body["events"])
    with pytest.raises(NotFound):
        output_detail(everything.views, "no-such-output")


def test_a_second_output_generated_with_the_same_id_is_reported_not_hidden(opened_sqlite: Opened) -> None:
    s = false_positive()
    again = dict(s.events[s.names.index("out-fp-1")], event_id="9f1c2b7e-3d4a-4c8e-9a10-000000000001")
    again["data"] = {**again["data"], "score": 0.12}
    s.events.append(again)
    opened_sqlite.append(s)
    answers = {a.question: a for a in output_detail(opened_sqlite.views, "out-fp-1")["answers"]}
    assert answers["output"].verdict == "partly" and "recorded again" in answers["output"].reason
    assert len(s.events) in {e.seq for e in answers["output"].evidence}


def test_blast_radius_lists_each_output_in_the_window_with_who_saw_and_acted(everything: Opened) -> None:
    body = to_json(
        blast_radius(
            everything.views,
            "deteriorate-ai",
            start=parse_us("2026-04-10T20:10:00Z"),
            end=parse_us("2026-04-10T20:30:00Z"),
        )
    )
    assert [o["output_id"] for o in body["outputs"]] == ["out-wa-2", "out-wa-3", "out-wa-4", "out-wa-5", "out-wa-6"]
    assert body["summary"]["outputs"] == 5 and body["summary"]["acted_on"] == 4
    assert [a["action"] for a in body["outputs"][0]["actions"]] == ["dismissed"]
    assert body["outputs"][1]["actions"] == [] and body["outputs"][1]["seen_by"][0]["clinician_id"] == "rn-dee"
    page = blast_radius(everything.views, "deteriorate-ai", start=None, end=None, limit=5, offset=10)
    assert page["total"] == 12 and [o["output_id"] for o in page["outputs"]] == ["out-wa-10", "out-wa-11"]
    with pytest.raises(InvalidQuery, match="from must not be after to"):
        blast_radius(everything.views, "deteriorate-ai", start=2, end=1)


def test_gaps_filter_by_tool_kind_and_window(everything: Opened) -> None:
    views = everything.views
    assert {g.kind for g in governance_gaps(views, tool="pe-triage", now=NOW_US)["gaps"]} == {
        "drift_not_followed",
        "report_deadline_missed",
        "tool_changed_before_report",
        "tool_without_policy",  # the scenarios record no policy
    }
    only = governance_gaps(views, kinds=["shown_not_acted"], now=NOW_US)
    assert [g.output_id for g in only["gaps"]] == ["out-wa-3", "out-wa-7"]
    march = governance_gaps(
        views, start=parse_us("2026-03-01T00:00:00Z"), end=parse_us("2026-03-31T00:00:00Z"), now=NOW_US
    )
    assert {g.kind for g in march["gaps"]} == {
        "drift_not_followed",
        "threshold_change_unapproved",
        "report_deadline_missed",
        "tool_changed_before_report",
        "tool_without_policy",
    }
    with pytest.raises(InvalidQuery, match="^kind must be one of output_without_approval, ") as refused:
        governance_gaps(views, kinds=["nonsense"])
    assert "nonsense" not in str(refused.value)


def test_windows_not_yet_elapsed_are_not_gaps_yet(everything: Opened) -> None:
    early = governance_gaps(everything.views, tool="deteriorate-ai", now=parse_us("2026-04-10T21:20:00Z"))
    shown = [g.output_id for g in early["gaps"] if g.kind != "tool_without_policy"]  # the scenarios record no policy
    assert shown == ["out-wa-3"]  # out-wa-7 was shown at 20:35: its hour is not over


def test_a_one_value_parameter_given_twice_is_refused_and_a_list_parameter_repeats(api: Api) -> None:
    # schemathesis found tool=a&tool=b answered 200 with one tool's incidents: silently half the question.
    api.append(false_negative())
    twice = api.client.get("/v1/incidents?tool=sepsis-watch&tool=other", headers=api.reader)
    assert twice.status_code == 422
    assert twice.json()["errors"] == [
        {"index": None, "loc": "tool", "msg": "is given more than once; it takes one value"}
    ]
    two_kinds = "&".join(f"kind={kind}" for kind in GAP_KINDS[:2])
    assert api.client.get(f"/v1/gaps?{two_kinds}", headers=api.reader).status_code == 200


def test_reader_routes_need_the_reader_role(api: Api) -> None:
    api.append(false_negative())
    assert api.client.get("/v1/gaps").status_code == 401
    emitter = api.client.app.state.runtime.store().keys.create(Role.EMITTER, source="governance", label="e").token  # type: ignore[attr-defined]
    denied = api.client.get("/v1/gaps", headers={"Authorization": f"Bearer {emitter}"})
    assert denied.status_code == 403
    assert api.client.get("/v1/incidents/INC-NOPE/timeline", headers=api.reader).status_code == 404
    assert api.client.get("/v1/gaps", params={"kind": "nonsense"}, headers=api.reader).status_code == 422
    body: Any = api.get(
        "/v1/tools/sepsis-watch/blast-radius", **{"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T00:00:00Z"}
    )
    assert [o["output_id"] for o in body["outputs"]] == ["out-fn-1"]
    assert api.get("/v1/outputs/out-fn-1")["output_id"] == "out-fn-1"
