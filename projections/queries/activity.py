"""A tool's activity over time, in bins: what the dossier plots.

Per bin (an hour, six hours, a day, a week or thirty days: the smallest that
cuts the tool's outputs into at most ``MAX_BINS``): outputs generated, actions
taken by kind, and the median time from a clinician's first display of an
output to that clinician's action on it. Beside the bins: every monitoring
check (metric, value, limit, outcome) and the governance moments to mark on
the plots (approvals, threshold changes, suspensions and reinstatements,
incidents reported), each with its seq.

The bins are counted by the database (``GROUP BY`` over the outputs' tool
index); the actions come back one row each (their display-to-action times
need medians, which SQLite has no aggregate for).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any, Final

from projections.queries.metrics import ACTIONS
from projections.timefmt import iso
from projections.views import Views

_HOUR: Final = 3_600_000_000
WIDTHS: Final = (_HOUR, 6 * _HOUR, 24 * _HOUR, 7 * 24 * _HOUR, 30 * 24 * _HOUR)
MAX_BINS: Final = 60
# Governance moments drawn on the plots, by kind.
MARKED: Final = {
    "tool.approved": "approval",
    "tool.threshold_changed": "threshold",
    "tool.suspended": "suspension",
    "tool.reinstated": "reinstatement",
    "incident.reported": "incident",
}

_SPAN_SQL: Final = "SELECT MIN(generated_us), MAX(generated_us) FROM {outputs} WHERE tool_id = :tool"
_OUTPUTS_SQL: Final = (
    "SELECT (generated_us - :origin) / :width, COUNT(*) FROM {outputs} WHERE tool_id = :tool GROUP BY 1"
)
# Each action with its clinician's first display of the output before it: a join the planner can hash (PostgreSQL
# scans the tool's actions once) rather than a subquery per action (one index probe each: 2.5 s at 1M events).
_ACTIONS_SQL: Final = (
    "SELECT x.acted_us, x.action, MIN(d.shown_us) FROM {actions} x JOIN {outputs} o ON o.output_id = x.output_id "
    "LEFT JOIN {displays} d ON d.output_id = x.output_id AND d.clinician_id = x.clinician_id "
    "AND d.shown_us <= x.acted_us WHERE o.tool_id = :tool GROUP BY x.seq, x.acted_us, x.action"
)


def bin_width(start: int, end: int) -> int:
    """The smallest of ``WIDTHS`` (microseconds) that cuts ``start``..``end`` into at most ``MAX_BINS`` bins."""
    return next((w for w in WIDTHS if (end - start) // w < MAX_BINS), WIDTHS[-1])


def tool_activity(views: Views, tool_id: str) -> dict[str, Any]:
    """The tool's outputs, actions and display-to-action times per bin, its monitoring checks, and the
    governance moments to mark (see the module docstring). No outputs: no bins."""
    with views.reading() as snap:
        first, last = snap.select(_SPAN_SQL, {"tool": tool_id})[0]
        checks = snap.events("tool_id = :tool AND type = 'monitoring.checked'", {"tool": tool_id})
        moments = snap.events("tool_id = :tool AND @in(type, :types)", {"tool": tool_id, "types": list(MARKED)})
        position = snap.position
        bins: list[dict[str, Any]] = []
        width = None
        if first is not None:
            # The bins cut the whole span drawn (outputs, checks and marks), so that bars stay readable beside them.
            times = [int(first), int(last), *(r.effective_us for r in [*checks, *moments])]
            width = bin_width(min(times), max(times))
            origin = int(first) - int(first) % width
            params = {"tool": tool_id, "origin": origin, "width": width}
            outputs = {int(b): int(n) for b, n in snap.select(_OUTPUTS_SQL, params)}
            actions = snap.select(_ACTIONS_SQL, {"tool": tool_id})
            bins = _bins(origin, width, outputs, actions)
    return {
        "tool_id": tool_id,
        "position": position,
        "bin_seconds": None if width is None else width // 1_000_000,
        "bins": bins,
        "monitoring": [
            {
                "seq": row.seq,
                "at": iso(row.effective_us),
                "metric": row.facts.get("metric"),
                "value": row.facts.get("value"),
                "limit": row.facts.get("limit"),
                "status": row.outcome,
            }
            for row in checks
        ],
        "marks": [
            {"seq": row.seq, "kind": MARKED[row.type], "type": row.type, "at": iso(row.effective_us)} for row in moments
        ],
    }


def _bins(origin: int, width: int, outputs: dict[int, int], actions: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """One entry per bin from the first output's to the last output's or action's, empty bins included."""
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    latencies: dict[int, list[int]] = defaultdict(list)
    for acted, action, shown in actions:
        index = (int(acted) - origin) // width
        counts[index][str(action)] += 1
        if shown is not None:
            latencies[index].append(int(acted) - int(shown))
    indexes = [*outputs, *counts]
    first = min(indexes)
    found = []
    for index in range(first, min(max(indexes), first + 2 * MAX_BINS) + 1):  # actions long after: not drawn
        taken = counts.get(index, Counter())
        total = sum(taken.values())
        found.append(
            {
                "start": iso(origin + index * width),
                "outputs": outputs.get(index, 0),
                "actions": total,
                "counts": {a: taken.get(a, 0) for a in ACTIONS},
                "median_seconds_display_to_action": statistics.median(latencies[index]) / 1_000_000
                if latencies.get(index)
                else None,
            }
        )
    return found
