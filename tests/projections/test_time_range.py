"""Times the ledger can compute with: a stored time outside the range is reported, never a 500; a query time, 422.

Events recorded before the catalogue bounded its timestamps may hold any year
from 1000 to 9999. They are planted here the way the old code wrote them: the
catalogue's reading rules (``stored=True``, the rules of their day) and
``Ledger.append``, which takes a validated event as it is.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.catalogue import CATALOGUE
from ledger.catalogue.fields import TIME_MAX_TEXT, TIME_MIN_TEXT
from ledger.store import Ledger
from projections.regulatory_clocks import REGIMES, Clock, IncidentFacts, evaluate
from projections.timefmt import (
    QUERY_TIME_MESSAGE,
    TIME_MAX_US,
    TIME_MIN_US,
    TimeOutOfRange,
    computable,
    parse_query_time,
    parse_us,
)
from tests.ledgers import env_settings
from tests.projections.conftest import Api
from tests.projections.scenarios import Scenario, check, false_negative

FAR_AWARE = "9999-12-31T23:00:00Z"  # the value of issue 14: accepted then, a 500 on every deadline query since
FAR_CHECK = "9999-12-31T23:59:59.999999Z"
INCIDENT, TOOL = "INC-FN", "sepsis-watch"
OUT_OF_RANGE = "outside the range the ledger computes with"


def _plant(api: Api, store_url: str, scenario: Scenario, name: str, change: Any) -> int:
    """Append ``scenario`` with the named event changed by ``change`` and written as the old code did; its seq."""
    index = scenario.names.index(name)
    before, planted, after = (
        scenario.events[:index],
        copy.deepcopy(scenario.events[index]),
        scenario.events[index + 1 :],
    )
    change(planted)
    if before:
        api.append(Scenario(scenario.name, before))
    with Ledger(env_settings(store_url)) as ledger:
        seq = ledger.append(CATALOGUE.validate_event(planted, stored=True)).seq
    if after:
        api.append(Scenario(scenario.name, after))
    return seq


def _far_incident(api: Api, store_url: str) -> int:
    return _plant(api, store_url, false_negative(), "reported", lambda e: e["data"].__setitem__("aware_at", FAR_AWARE))


def _errors(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    done = api.client.get(path, params=params, headers=api.reader)
    assert done.status_code == 422, done.text
    for value in params.values():
        assert value not in done.text
    errors: list[dict[str, Any]] = done.json()["errors"]
    return errors


def test_an_event_past_the_range_is_refused_at_intake_and_nothing_is_written(api: Api, store_url: str) -> None:
    scenario = false_negative()
    scenario.events[scenario.names.index("reported")]["data"]["aware_at"] = FAR_AWARE
    done = api.client.post("/v1/events/batch", json={"events": scenario.events}, headers=api.admin)
    assert done.status_code == 422
    assert [e["loc"] for e in done.json()["errors"]] == ["data.aware_at"]
    assert FAR_AWARE not in done.text
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.head_seq() == 0


def test_a_stored_aware_at_past_the_range_is_a_gap_naming_its_seq_not_a_500(api: Api, store_url: str) -> None:
    seq = _far_incident(api, store_url)
    body: Any = api.get("/v1/gaps")
    mine = [g for g in body["gaps"] if g["incident_id"] == INCIDENT]
    assert [g["kind"] for g in mine] == ["time_out_of_range"]  # no deadline gap counted from year 9999
    assert f"seq {seq}" in mine[0]["reason"] and OUT_OF_RANGE in mine[0]["reason"]
    assert mine[0]["evidence"][0]["seq"] == seq
    # Outside every window a query may ask for, so listed whatever from and to say.
    windowed: Any = api.get("/v1/gaps", **{"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"})
    assert [g["kind"] for g in windowed["gaps"] if g["incident_id"] == INCIDENT] == ["time_out_of_range"]
    only: Any = api.get("/v1/gaps", kind="report_deadline_missed")
    assert only["gaps"] == []


def test_a_stored_aware_at_past_the_range_leaves_the_report_and_its_clocks_answering(api: Api, store_url: str) -> None:
    seq = _far_incident(api, store_url)
    report: Any = api.get(f"/v1/incidents/{INCIDENT}/accountability", now="2026-05-01T00:00:00Z")
    assert f"seq {seq}" in report["incident"]["problem"]
    answers = {a["question"]: a for a in report["incident_answers"]}
    assert answers["deadlines"]["verdict"] == "unknown: not recorded"
    assert f"seq {seq}" in answers["deadlines"]["reason"] and OUT_OF_RANGE in answers["deadlines"]["reason"]
    assert answers["changes_after_awareness"]["verdict"] == "unknown: not recorded"
    regimes = answers["deadlines"]["details"]["regimes"]
    assert len(regimes) == len(REGIMES)
    for regime in regimes:
        assert regime["due_at"] is None
        assert regime["status"] == ("not_applicable" if regime["applies"] == "no" else "time_out_of_range")
        assert f"seq {seq}" in regime["problem"]
    assert any(r["status"] == "time_out_of_range" for r in regimes)


def test_a_stored_aware_at_past_the_range_leaves_the_timeline_and_list_answering(api: Api, store_url: str) -> None:
    seq = _far_incident(api, store_url)
    timeline: Any = api.get(f"/v1/incidents/{INCIDENT}/timeline")
    assert f"seq {seq}" in timeline["incident"]["problem"]
    assert seq in {e["seq"] for e in timeline["entries"]}
    listed: Any = api.get("/v1/incidents")
    assert [i["aware_at"] for i in listed["incidents"]] == ["9999-12-31T23:00:00.000000Z"]
    assert f"seq {seq}" in listed["incidents"][0]["problem"]
    status: Any = api.get("/v1/projections/status")
    assert status["worker_failure"] is None  # the projections read on past it


def test_a_stored_occurred_at_past_the_range_is_a_gap_and_a_problem_in_the_tools_history(
    api: Api, store_url: str
) -> None:
    scenario = false_negative()
    check(scenario, "drift-far", TOOL, at="2026-04-01T00:00:00Z", status="drift")
    seq = _plant(api, store_url, scenario, "drift-far", lambda e: e.__setitem__("occurred_at", FAR_CHECK))
    body: Any = api.get("/v1/gaps", tool=TOOL)
    far = [g for g in body["gaps"] if g["kind"] == "time_out_of_range" and g["evidence"][0]["seq"] == seq]
    assert len(far) == 1 and "occurred_at" in far[0]["reason"] and f"seq {seq}" in far[0]["reason"]
    assert not [g for g in body["gaps"] if g["kind"] == "drift_not_followed"]  # no window counted from 9999
    tool: Any = api.get(f"/v1/tools/{TOOL}", as_of="2026-05-01T00:00:00Z")
    history = {e["seq"]: e for e in tool["history"]}
    assert f"seq {seq}" in history[seq]["problem"]
    everything: Any = api.get("/v1/gaps")
    assert any(g["kind"] == "time_out_of_range" and g["evidence"][0]["seq"] == seq for g in everything["gaps"])


# --- query parameters -------------------------------------------------------------------------------------

TIME_ROUTES = [
    ("/v1/incidents", "from"),
    ("/v1/incidents", "to"),
    (f"/v1/incidents/{INCIDENT}/accountability", "now"),
    (f"/v1/tools/{TOOL}", "as_of"),
    (f"/v1/tools/{TOOL}/blast-radius", "from"),
    (f"/v1/tools/{TOOL}/blast-radius", "to"),
    ("/v1/metrics/reliance", "from"),
    ("/v1/metrics/reliance", "to"),
    ("/v1/gaps", "from"),
    ("/v1/gaps", "to"),
    ("/v1/gaps", "now"),
]
UNUSABLE_TIMES = [
    "0001-01-01T00:00:00+01:00",  # before datetime's year 1 once in UTC
    "0001-01-01T00:00:00Z",
    "1899-12-31T23:59:59.999999Z",
    "9999-12-31T23:00:00-05:00",  # after datetime's year 9999 once in UTC
    "9999-12-31T23:59:59.999999Z",
    "2200-01-01T00:00:00.000000Z",
    "2026-05-17T03:14:07",  # no offset
    "2026-02-30T00:00:00Z",
    "yesterday",
    "2026-05-17T03:14:07Z\x00",
    "1" * 400,
]


@pytest.mark.parametrize(("path", "name"), TIME_ROUTES)
def test_every_time_parameter_refuses_a_time_it_cannot_use_with_422_naming_it(api: Api, path: str, name: str) -> None:
    api.append(false_negative())
    for value in UNUSABLE_TIMES:
        assert [e["loc"] for e in _errors(api, path, **{name: value})] == [name], value
    assert api.client.get(path, params={name: TIME_MIN_TEXT}, headers=api.reader).status_code == 200
    assert api.client.get(path, params={name: "2199-12-31T23:59:59Z"}, headers=api.reader).status_code == 200


def test_query_times_follow_the_catalogues_range_and_syntax() -> None:
    assert parse_query_time(TIME_MIN_TEXT) == TIME_MIN_US
    assert parse_query_time("2199-12-31T23:59:59.999999Z") == TIME_MAX_US - 1
    assert parse_query_time("2026-04-08T03:14:07 01:00") == parse_us("2026-04-08T02:14:07Z")
    for value in (TIME_MAX_TEXT, "1900-01-01T00:59:59+01:00", "9999-12-31T23:00:00-05:00"):
        with pytest.raises(ValueError, match=r"must be from 1900-01-01T00:00:00Z \(inclusive\)"):
            parse_query_time(value)
    for value in ("20260408T021407Z", "2026-04-08T02:14Z", "2026-W01-1T00:00:00Z", "２０２６-04-08T02:14:07Z"):
        with pytest.raises(ValueError, match="^" + QUERY_TIME_MESSAGE + "$"):
            parse_query_time(value)


# --- the clocks themselves ----------------------------------------------------------------------------------


def test_a_deadline_is_never_counted_from_a_time_outside_the_range() -> None:
    far = parse_us(FAR_AWARE)
    assert not computable(far) and not computable(TIME_MAX_US) and computable(TIME_MIN_US)
    for clock in (Clock("always", 15), Clock("always", 10, days="work")):
        with pytest.raises(TimeOutOfRange):
            clock.due(far)
        with pytest.raises(TimeOutOfRange):
            clock.due(parse_us("1000-01-01T00:00:00Z"))
        assert computable(clock.due(TIME_MAX_US - 1) - 20 * 86_400_000_000)  # the last instant still counts
    facts = IncidentFacts(
        harm="death",
        serious=True,
        widespread=False,
        tools=({"ai_act_risk": "annex_iii", "regulatory_status": {"status": "device", "regime": "fda"}},),
    )
    verdicts = [evaluate(regime, facts, far) for regime in REGIMES]
    assert any(v.applies for v in verdicts) and all(v.due_us is None for v in verdicts)
