"""The risk team's workspace beyond incidents, in Chromium: a tool's dossier moved through time with its
as-of picker, the reliance metrics and the open governance gaps."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Served, screenshot, sign_in

TOOL = "sepsis-watch"  # threshold 0.6 set 2026-02-01 11:00 UTC, raised to 0.7 (unapproved) 2026-03-20 08:00 UTC


def _threshold_then(page: Any, local_moment: str) -> str:
    """The alert threshold shown after choosing ``local_moment`` (Europe/Paris) in the as-of picker."""
    page.get_by_label("Date and time (Europe/Paris)").fill(local_moment)
    page.get_by_role("button", name="Show the state then").click()
    page.wait_for_url(f"**/tools/{TOOL}?as_of=*")
    return str(page.locator("table.thresholds .threshold-value").first.inner_text())


def test_moving_the_dossiers_as_of_time_across_a_threshold_change_changes_the_value_shown(
    page: Any, served: Served
) -> None:
    """Before the raise (Paris 2026-03-20 09:00 is 08:00 UTC) the dossier shows 0.6 approved; after, 0.7 unapproved;
    the plots are drawn inline, titled, with the change marked."""
    sign_in(page, served, then=f"/tools/{TOOL}")
    assert page.get_by_role("heading", name=f"Tool {TOOL}", level=1).is_visible()
    assert _threshold_then(page, "2026-03-20T08:59:00") == "0.6"
    assert page.locator("table.thresholds").get_by_text("not approved").count() == 0
    assert _threshold_then(page, "2026-03-20T09:01:00") == "0.7"
    assert page.locator("table.thresholds").get_by_text("not approved").is_visible()
    plot = page.get_by_role("img", name=f"Activity of {TOOL} over time")
    assert plot.first.is_visible()
    assert plot.first.locator("text", has_text="T").count() >= 1  # the threshold changes' letter on the plot
    screenshot(page, "dossier", full_page=False)
    page.locator("#activity-heading").evaluate("heading => heading.scrollIntoView()")
    screenshot(page, "dossier-plots", full_page=False)
