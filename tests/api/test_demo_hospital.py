"""The demo hospital, loaded through the API's client, shows through the API every story it was built to tell.

One load (SQLite, module-scoped: about ten thousand events) serves every test;
each test asks the API one question a newcomer would, and checks the answer
names the planted facts: the five incidents, the gaps, the near and the overdue
reporting deadline, the unacknowledged drift, the clinician who accepts in
seconds, the alert flood, and the tool where every check holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.client.http import LedgerClient
from scripts.demo_hospital import DEFAULT_SEED, load
from scripts.demo_hospital.cast import FAST_ACCEPTER

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Demo:
    """The app with the demo loaded, a reader's headers, the head seq and what the loads did."""

    client: TestClient
    reader: dict[str, str]
    head: int
    first: load.Loaded
    second: load.Loaded

    def get(self, path: str, **params: Any) -> Any:
        """A query's JSON, once the views hold the whole demo."""
        response = self.client.get(path, params={**params, "min_seq": self.head}, headers=self.reader)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/ledger.sqlite3"
    keys = KeyStore(url)
    admin, reader = keys.create(Role.ADMIN, label="admin").token, keys.create(Role.READER, label="reader").token
    with TestClient(create_app(Settings(database_url=url, key_cache_s=0))) as client:
        emitter = LedgerClient("http://testserver", admin, http=client, timeout=60)
        first = load.through_api(emitter, seed=DEFAULT_SEED)
        second = load.through_api(emitter, seed=DEFAULT_SEED)
        head = int(client.get("/readyz").json()["head_seq"])
        yield Demo(client, {"Authorization": f"Bearer {reader}"}, head, first, second)


def _gaps(demo: Demo, **params: Any) -> dict[str, Any]:
    return dict(demo.get("/v1/gaps", **{"limit": 100, **params}))


def test_loading_twice_appends_nothing_the_second_time(demo: Demo) -> None:
    """The second load finds the anchor in the ledger, tells the same story, and every event is already recorded."""
    assert demo.first.created == demo.first.events > 5000
    assert (demo.second.created, demo.second.events, demo.second.anchor) == (0, demo.first.events, demo.first.anchor)


def test_one_incident_of_each_kind_each_at_its_own_stage(demo: Demo) -> None:
    """Five incidents, one per category of AI error; their review and remediation states differ."""
    incidents = {i["incident_id"]: i for i in demo.get("/v1/incidents")["incidents"]}
    assert sorted(i["category"] for i in incidents.values()) == sorted(
        ["false_negative", "false_positive", "misprioritization", "faulty_recommendation", "workflow_amplification"]
    )
    assert {k: i["status"] for k, i in incidents.items()} == {
        "INC-D01": "closed", "INC-D02": "reviewed", "INC-D03": "assigned", "INC-D04": "reviewed", "INC-D05": "open",
    }  # fmt: skip
    remediations = {}
    for incident in ("INC-D02", "INC-D04"):
        timeline = demo.get(f"/v1/incidents/{incident}/timeline")
        remediations[incident] = [e["type"] for e in timeline["entries"] if e["type"].startswith("remediation.")]
    assert remediations == {
        "INC-D02": ["remediation.planned"],
        "INC-D04": ["remediation.planned", "remediation.completed"],
    }


def test_one_reporting_deadline_is_near_and_one_is_missed(demo: Demo) -> None:
    """Relative to the real now: INC-D03's report is due within the warning window, INC-D04's has passed unfiled."""
    gaps = _gaps(demo, kind=["report_deadline_near", "report_deadline_missed"])["gaps"]
    assert sorted((g["kind"], g["incident_id"]) for g in gaps) == [
        ("report_deadline_missed", "INC-D04"),
        ("report_deadline_near", "INC-D03"),
    ]


def test_the_governance_gaps_are_found_on_the_tools_they_were_planted_in(demo: Demo) -> None:
    """Outside scope, an unapproved threshold, an expired approval, a suspension, failed validation, lapsed training."""
    counts = {tool: _gaps(demo, tool=tool, limit=1)["counts"] for tool in
              ("sepsis-watch", "ed-triage", "deterioration-index", "doc-assistant")}  # fmt: skip
    sepsis, triage, deterioration, notes = counts.values()
    assert sepsis["threshold_change_unapproved"] == 1
    assert sepsis["output_outside_scope"] > 100 and sepsis["shown_to_untrained_clinician"] > 100
    assert triage["output_without_approval"] > 100 and triage["output_without_passed_validation"] > 100
    assert triage["incident_unassigned"] == 1
    assert deterioration["output_without_approval"] > 0 and deterioration["shown_to_untrained_clinician"] > 0
    assert notes["output_without_passed_validation"] > 100 and notes["shown_to_untrained_clinician"] > 0


def test_the_sepsis_drift_alert_is_left_unacknowledged(demo: Demo) -> None:
    """One drift is followed up (the Deterioration Index's); SepsisWatch's is the only one not followed."""
    gaps = _gaps(demo, kind=["drift_not_followed"])["gaps"]
    assert [(g["tool_id"], g["evidence"][0]["type"]) for g in gaps] == [("sepsis-watch", "monitoring.checked")]


def test_the_clinician_who_accepts_in_seconds_stands_out(demo: Demo) -> None:
    """Almost all of one ED nurse's acceptances come within the rubber-stamping threshold; the unit's do not."""
    own = demo.get("/v1/metrics/reliance", tool="ed-triage", clinician=FAST_ACCEPTER)["fast_acceptance"]
    unit = demo.get("/v1/metrics/reliance", tool="ed-triage")["fast_acceptance"]
    assert own["acceptances_timed"] > 20 and own["share"] > 0.9
    assert (unit["faster_than_threshold"] - own["faster_than_threshold"]) / unit["acceptances_timed"] < 0.05


def test_the_alert_flood_shows_on_ward_4b(demo: Demo) -> None:
    """Ward 4B's busiest clinician-shift and its unanswered share are far above every other unit's."""
    ward = demo.get("/v1/metrics/reliance", unit="ward-4b")
    others = [demo.get("/v1/metrics/reliance", unit=u) for u in ("icu", "ed", "radiology", "medicine")]
    busiest = max(o["alert_burden"]["max_alerts_in_a_clinician_shift"] for o in others)
    assert ward["alert_burden"]["max_alerts_in_a_clinician_shift"] > 2 * busiest
    assert ward["unanswered"]["share"] > 3 * max(o["unanswered"]["share"] for o in others)
    assert ward["dismissal_rate"] > 2 * max(o["dismissal_rate"] for o in others)


def test_the_governed_tool_shows_no_gap_among_hundreds_of_outputs(demo: Demo) -> None:
    """LungFlag CXR: approved in scope, validated, trained staff, approved threshold, monitored, every flag acted on."""
    gaps = _gaps(demo, tool="cxr-triage")
    radiology = demo.get("/v1/metrics/reliance", tool="cxr-triage")
    assert (gaps["total"], gaps["gaps"]) == (0, [])
    assert radiology["actions"] > 300 and radiology["unanswered"]["not_acted_on_within_window"] == 0


def test_each_incident_is_judged_against_the_policy_its_tool_had_before_go_live(demo: Demo) -> None:
    """INC-D01's playbook was followed in time; INC-D02's threshold reassessment came late; INC-D04's guardrail
    review was never done; four tools went live without a policy; NoteDraft's leaves a go-live question open,
    LungFlag's answers them all."""
    steps = {
        incident: {s["step"]: s["status"] for s in demo.get(f"/v1/incidents/{incident}/response")["response"]["steps"]}
        for incident in ("INC-D01", "INC-D02", "INC-D04")
    }
    assert steps == {
        "INC-D01": {"clinical_review": "done", "escalation_analysis": "done"},
        "INC-D02": {"threshold_reassessment": "late", "workflow_reassessment": "pending"},
        "INC-D04": {"output_validation": "done", "guardrail_review": "missing"},
    }
    found = _gaps(demo, kind=["policy_question_unanswered", "tool_without_policy"])["gaps"]
    assert sorted((g["kind"], g["tool_id"]) for g in found) == [
        ("policy_question_unanswered", "doc-assistant"),
        *(("tool_without_policy", t) for t in ("deterioration-index", "doc-assistant", "ed-triage", "sepsis-watch")),
    ]  # the four went live without a policy, and got one later
    assert demo.get("/v1/tools/cxr-triage/policy")["policy"]["unanswered"] == []
