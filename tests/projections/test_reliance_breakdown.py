"""The reliance page's breakdown: each group's metrics are those the reliance query answers for that filter."""

from __future__ import annotations

from projections.queries import reliance_breakdown, reliance_metrics
from tests.projections.conftest import Opened
from tests.projections.scenarios import ALL

NOW = 1_900_000_000_000_000  # 2030: every action window has passed


def _metrics(found: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in found.items() if k not in ("filters", "position", "evidence", "evidence_omitted")} | {
        "fast_share": found["fast_acceptance"]["share"],  # type: ignore[index]
        "unanswered_share": found["unanswered"]["share"],  # type: ignore[index]
    }


def test_each_tool_unit_and_clinician_group_equals_the_query_filtered_to_it(opened: Opened) -> None:
    opened.append(*(scenario() for scenario in ALL))
    found = reliance_breakdown(opened.views, now=NOW)
    assert _metrics(found["whole"])["actions"] == reliance_metrics(opened.views, now=NOW)["actions"]
    assert len(found["by"]["tool"]) == 5
    for by in ("tool", "unit", "clinician"):
        for group in found["by"][by]:
            alone = reliance_metrics(opened.views, now=NOW, **{by: group["key"]})
            mine, theirs = _metrics(group), _metrics(alone)
            for key in ("actions", "counts", "acceptance_rate", "median_seconds_display_to_action", "fast_share",
                        "unanswered_share", "alert_burden"):  # fmt: skip
                assert mine[key] == theirs[key], (by, group["key"], key)
