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
    assert page.locator("#plot-axis-local").is_visible() and not page.locator("#plot-axis-utc").is_visible()
    page.emulate_media(media="print")  # on paper, the time axis in UTC
    assert page.locator("#plot-axis-utc").is_visible() and not page.locator("#plot-axis-local").is_visible()
    screenshot(page, "dossier-plots-print", full_page=False)


def test_the_gaps_page_groups_the_gaps_by_kind_and_tool_and_links_each_to_its_evidence(
    page: Any, served: Served
) -> None:
    """From the navigation: the unapproved threshold raise of sepsis-watch is listed under its kind and tool, and
    its evidence link opens the threshold change's event page; filtering by kind keeps that kind alone."""
    sign_in(page, served)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Gaps").click()
    page.wait_for_url("**/gaps")
    section = page.locator("section.gap-kind", has=page.locator("h2#gaps-threshold_change_unapproved"))
    assert section.get_by_role("heading", name=f"Tool {TOOL}").is_visible()
    screenshot(page, "gaps", full_page=False)
    section.locator("ul.evidence a").first.click()
    page.wait_for_url("**/events/*")
    assert "tool.threshold_changed" in page.get_by_role("heading", level=1).inner_text()
    page.go_back()
    page.get_by_label("Kind").select_option("threshold_change_unapproved")
    page.get_by_role("button", name="Apply the filters").click()
    page.wait_for_url("**/gaps?*kind=threshold_change_unapproved*")
    assert page.locator("section.gap-kind").count() == 1


def test_the_reliance_page_shows_the_metrics_by_tool_unit_and_clinician(page: Any, served: Served) -> None:
    """The scenarios' actions, whole and broken down; the faulty antibiotic advice accepted in 4 seconds counts as
    rubber-stamping; filtering by a tool keeps that tool alone."""
    sign_in(page, served)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Reliance").click()
    page.wait_for_url("**/reliance")
    for heading in ("By tool", "By unit", "By clinician"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert page.locator("table.reliance-tool tbody tr").count() == 5
    whole = page.locator("#reliance-whole")
    assert "Rubber-stamping" in whole.locator("dt").nth(6).inner_text()
    assert whole.locator("dd").nth(6).inner_text() == "100.0% (1 of 1)"  # the only timed acceptance: 4 s
    screenshot(page, "reliance", full_page=False)
    page.get_by_label("Tool", exact=True).select_option(TOOL)
    page.get_by_role("button", name="Apply the filters").click()
    page.wait_for_url(f"**/reliance?tool={TOOL}*")
    assert page.locator("table.reliance-tool tbody tr").count() == 1
