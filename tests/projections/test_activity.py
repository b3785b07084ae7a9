"""A tool's activity per bin, for the dossier's plots: counted by the database the same way on both stores."""

from __future__ import annotations

from projections.queries.activity import WIDTHS, bin_width, tool_activity
from tests.projections.conftest import Opened
from tests.projections.scenarios import false_negative, false_positive


def test_the_activity_counts_outputs_and_actions_per_bin_and_marks_each_governance_moment(opened: Opened) -> None:
    """sepsis-watch in two scenarios: its outputs and actions land in their bins, the threshold changes,
    approvals and incidents are marked with their seqs, the monitoring checks carry value and limit."""
    scenario, other = false_negative(), false_positive()
    opened.append(scenario, other)
    found = tool_activity(opened.views, "sepsis-watch")
    assert found["bin_seconds"] * 1_000_000 in WIDTHS
    generated = [e for s in (scenario, other) for e in s.events if e["type"] == "output.generated"]
    assert sum(b["outputs"] for b in found["bins"]) == sum(e["data"]["tool_id"] == "sepsis-watch" for e in generated)
    dismissed = [b for b in found["bins"] if b["counts"]["dismissed"]]
    assert dismissed and dismissed[0]["median_seconds_display_to_action"] == 15.0  # shown 02:14:58, dismissed 02:15:13
    kinds = {(m["kind"], m["seq"]) for m in found["marks"]}
    assert ("threshold", scenario.seq("threshold-raised")) in kinds and ("approval", scenario.seq("approved")) in kinds
    assert any(kind == "incident" for kind, _ in kinds)
    assert found["monitoring"] and all("value" in c and "limit" in c for c in found["monitoring"])


def test_a_tool_with_nothing_recorded_has_nothing_to_plot(opened: Opened) -> None:
    assert tool_activity(opened.views, "no-such-tool") == {
        "tool_id": "no-such-tool", "position": 0, "bin_seconds": None, "bins": [], "monitoring": [], "marks": [],
    }  # fmt: skip


def test_the_bin_is_the_smallest_width_that_keeps_the_span_under_sixty_bins() -> None:
    hour = 3_600_000_000
    assert bin_width(0, 10 * hour) == hour
    assert bin_width(0, 100 * hour) == 6 * hour
    assert bin_width(0, 50 * 24 * hour) == 24 * hour
    assert bin_width(0, 100 * 365 * 24 * hour) == WIDTHS[-1]
