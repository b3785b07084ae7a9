"""A tool's state as of any moment: before and after each change, to the second (and to the microsecond)."""

from __future__ import annotations

from typing import Any

import pytest

from projections.answers import to_json
from projections.errors import NotFound
from projections.queries import tool_state
from projections.timefmt import SECOND, parse_us
from tests.projections.conftest import Api, Opened
from tests.projections.scenarios import COMMITTEE, Scenario, false_negative

TOOL = "sepsis-watch"


def lifecycle() -> Scenario:
    """The false-negative history, then a suspension, a reinstatement, a retirement."""
    s = false_negative()
    s.add(
        "suspended", "tool.suspended", "2026-04-12T11:00:00Z", COMMITTEE, {"tool_id": TOOL, "reason": "Pending review."}
    )
    s.add(
        "reinstated",
        "tool.reinstated",
        "2026-05-02T09:30:00Z",
        COMMITTEE,
        {"tool_id": TOOL, "reason": "Review closed."},
    )
    s.add("retired", "tool.retired", "2027-01-31T17:00:00Z", COMMITTEE, {"tool_id": TOOL, "reason": "Replaced."})
    return s


def state(opened: Opened, at: str, *, delta_s: int = 0) -> dict[str, Any]:
    body = to_json(tool_state(opened.views, TOOL, as_of=parse_us(at) + delta_s * SECOND))
    result: dict[str, Any] = body["state"]
    return result


def before_and_after(opened: Opened, at: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return state(opened, at, delta_s=-1), state(opened, at)


@pytest.fixture
def history(opened: Opened) -> Opened:
    opened.append(lifecycle())
    return opened


def threshold(s: dict[str, Any]) -> Any:
    return {t["parameter"]: t["value"] for t in s["thresholds"]}.get("alert_threshold")


def test_approval_takes_effect_at_its_second(history: Opened) -> None:
    before, after = before_and_after(history, "2026-02-01T10:00:00Z")
    assert (before["status"], before["approval"]) == ("not_approved", None)
    assert after["status"] == "approved"
    assert after["approval"]["scope"] == {"sites": ["northside"], "units": ["icu"], "populations": ["adults_18_plus"]}
    assert after["approval"]["approved_by"] == ["clin-0007", "staff-0192"]
    assert [e["seq"] for e in after["approval"]["evidence"]] == [lifecycle().seq("approved")]


def test_threshold_changes_at_its_second(history: Opened) -> None:
    assert threshold(state(history, "2026-02-01T11:00:00Z", delta_s=-1)) is None
    before, after = before_and_after(history, "2026-03-20T08:00:00Z")
    assert threshold(before) == 0.6
    assert threshold(after) == 0.7
    assert after["thresholds"][0]["approved_by"] is None


def test_validation_appears_at_its_second(history: Opened) -> None:
    before, after = before_and_after(history, "2026-01-31T15:00:00Z")
    assert [(v["unit"], v["result"]) for v in before["validations"]] == [("icu", "passed")]
    assert [(v["unit"], v["result"]) for v in after["validations"]] == [("ed", "failed"), ("icu", "passed")]


def test_training_expires_at_its_second(history: Opened) -> None:
    before, after = before_and_after(history, "2026-02-10T12:00:00Z")
    assert [(c["clinician_id"], c["current"]) for c in before["trained_clinicians"]] == [("clin-bob", True)]
    assert [(c["clinician_id"], c["state"]) for c in after["trained_clinicians"]] == [("clin-bob", "expired")]


def test_suspension_and_reinstatement_take_effect_at_their_seconds(history: Opened) -> None:
    before, after = before_and_after(history, "2026-04-12T11:00:00Z")
    assert (before["status"], after["status"]) == ("approved", "suspended")
    assert after["suspensions"][0]["in_force"] is True
    before, after = before_and_after(history, "2026-05-02T09:30:00Z")
    assert (before["status"], after["status"]) == ("suspended", "approved")
    assert after["suspensions"][0]["in_force"] is False


def test_expiry_and_retirement_take_effect_at_their_seconds(history: Opened) -> None:
    before, after = before_and_after(history, "2027-01-31T17:00:00Z")
    assert (before["status"], after["status"]) == ("approved", "retired")


def test_an_approval_expires_at_its_second(opened: Opened) -> None:
    opened.append(false_negative())  # approved until 2027-02-01T00:00:00Z, never retired
    before, after = before_and_after(opened, "2027-02-01T00:00:00Z")
    assert (before["status"], after["status"]) == ("approved", "expired")


def test_monitoring_as_of_shows_the_last_check_then(history: Opened) -> None:
    before, after = before_and_after(history, "2026-03-30T06:00:00Z")
    assert before["monitoring"]["last_check"] is None
    assert after["monitoring"]["last_check"]["status"] == "ok"


def test_the_boundary_is_exact_to_the_microsecond(history: Opened) -> None:
    at = parse_us("2026-03-20T08:00:00Z")
    assert threshold(to_json(tool_state(history.views, TOOL, as_of=at - 1))["state"]) == 0.6
    assert threshold(to_json(tool_state(history.views, TOOL, as_of=at))["state"]) == 0.7


def test_full_history_lists_every_governance_event_whatever_the_moment(history: Opened) -> None:
    s = lifecycle()
    body = to_json(tool_state(history.views, TOOL, as_of=parse_us("2026-01-01T00:00:00Z")))
    governance = [
        n
        for n, e in zip(s.names, s.events, strict=True)
        if e["type"].startswith(("tool.", "clinician.", "monitoring."))
    ]
    assert {e["seq"] for e in body["history"]} >= {s.seq(n) for n in governance}
    assert body["state"]["status"] == "not_approved"


def test_an_unknown_tool_is_not_found(history: Opened) -> None:
    with pytest.raises(NotFound):
        tool_state(history.views, "no-such-tool")


def test_as_of_through_the_api_accepts_any_utc_offset(api: Api) -> None:
    api.append(lifecycle())
    utc: Any = api.get(f"/v1/tools/{TOOL}", as_of="2026-03-20T08:00:00Z")
    paris: Any = api.get(f"/v1/tools/{TOOL}", as_of="2026-03-20T09:00:00+01:00")
    before: Any = api.get(f"/v1/tools/{TOOL}", as_of="2026-03-20T07:59:59Z")
    assert utc["state"] == paris["state"]
    assert threshold(utc["state"]) == 0.7 and threshold(before["state"]) == 0.6
    bad = api.client.get(f"/v1/tools/{TOOL}", params={"as_of": "yesterday"}, headers=api.reader)
    assert bad.status_code == 422 and [e["loc"] for e in bad.json()["errors"]] == ["as_of"]
    assert api.client.get("/v1/tools/nope", headers=api.reader).status_code == 404
