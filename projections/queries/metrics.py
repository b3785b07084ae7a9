"""Reliance metrics: how clinicians respond to a tool's outputs (Art. 14(4)(b) automation bias, alert burden)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any, Final

from projections.answers import Evidence
from projections.errors import InvalidQuery
from projections.policy import DEFAULT_POLICY, Policy
from projections.timefmt import iso, now_us
from projections.views import Views

ACTIONS: Final = ("accepted", "overridden", "dismissed", "escalated", "deferred")

_FILTER: Final = (
    "(CAST(:tool AS TEXT) IS NULL OR o.tool_id = :tool) AND (CAST(:unit AS TEXT) IS NULL OR o.unit = :unit) "
    "AND (CAST(:clinician AS TEXT) IS NULL OR x.clinician_id = :clinician)"
)
_ACTIONS_SQL: Final = (
    "SELECT x.seq, x.event_id, x.output_id, x.clinician_id, x.action, x.acted_us, "  # noqa: S608
    "(SELECT MIN(d.shown_us) FROM {displays} d WHERE d.output_id = x.output_id "
    "AND d.clinician_id = x.clinician_id AND d.shown_us <= x.acted_us), o.tool_id, o.unit "
    "FROM {actions} x LEFT JOIN {outputs} o ON o.output_id = x.output_id WHERE "
    + _FILTER
    + " AND (CAST(:start AS {int}) IS NULL OR x.acted_us >= :start)"
    " AND (CAST(:end AS {int}) IS NULL OR x.acted_us <= :end) ORDER BY x.acted_us, x.seq"
)
_DISPLAYS_SQL: Final = (
    "SELECT x.seq, x.event_id, x.output_id, x.clinician_id, x.shown_us, "  # noqa: S608
    "(SELECT MIN(a.acted_us) FROM {actions} a WHERE a.output_id = x.output_id "
    "AND a.clinician_id = x.clinician_id AND a.acted_us >= x.shown_us), o.tool_id, o.unit "
    "FROM {displays} x LEFT JOIN {outputs} o ON o.output_id = x.output_id WHERE "
    + _FILTER
    + " AND (CAST(:start AS {int}) IS NULL OR x.shown_us >= :start)"
    " AND (CAST(:end AS {int}) IS NULL OR x.shown_us <= :end) ORDER BY x.shown_us, x.seq"
)


def reliance_metrics(
    views: Views,
    *,
    tool: str | None = None,
    unit: str | None = None,
    clinician: str | None = None,
    start: int | None = None,
    end: int | None = None,
    now: int | None = None,
    policy: Policy = DEFAULT_POLICY,
    evidence_limit: int = 200,
) -> dict[str, Any]:
    """Acceptance, override, dismissal and escalation rates; median display-to-action time; the share of
    acceptances faster than ``policy.fast_acceptance_us`` (rubber-stamping); alerts per clinician per shift."""
    actions, displays, position = _rows(views, tool=tool, unit=unit, clinician=clinician, start=start, end=end)
    return {
        "filters": {"tool": tool, "unit": unit, "clinician": clinician, "from": iso(start), "to": iso(end)},
        "position": position,
        **_summary(
            actions, displays, now=now_us() if now is None else now, policy=policy, evidence_limit=evidence_limit
        ),
    }


# Breakdowns: the column of an action row and of a display row that holds each grouping.
BY: Final = {"tool": (7, 6), "unit": (8, 7), "clinician": (3, 3)}
NOT_RECORDED: Final = "(output not recorded)"


def reliance_breakdown(
    views: Views,
    *,
    tool: str | None = None,
    unit: str | None = None,
    clinician: str | None = None,
    start: int | None = None,
    end: int | None = None,
    now: int | None = None,
    policy: Policy = DEFAULT_POLICY,
    evidence_limit: int = 20,
) -> dict[str, Any]:
    """``reliance_metrics`` for the filters, and the same metrics by tool, by unit and by clinician, from one
    read of the rows (each group's evidence left out; the whole's kept, up to ``evidence_limit``)."""
    actions, displays, position = _rows(views, tool=tool, unit=unit, clinician=clinician, start=start, end=end)
    moment = now_us() if now is None else now
    groups: dict[str, list[dict[str, Any]]] = {}
    for by, (action_column, display_column) in BY.items():
        split_actions = _split(actions, action_column)
        split_displays = _split(displays, display_column)
        keys = sorted(split_actions.keys() | split_displays.keys())
        groups[by] = [
            {
                "key": key,
                **_summary(
                    split_actions.get(key, []), split_displays.get(key, []), now=moment, policy=policy, evidence_limit=0
                ),
            }  # fmt: skip
            for key in keys
        ]
    return {
        "filters": {"tool": tool, "unit": unit, "clinician": clinician, "from": iso(start), "to": iso(end)},
        "position": position,
        "whole": _summary(actions, displays, now=moment, policy=policy, evidence_limit=evidence_limit),
        "by": groups,
    }


def _split(rows: list[tuple[Any, ...]], column: int) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        found[_key(row[column])].append(row)
    return found


def _key(value: Any) -> str:
    """A group's name: an action or display whose output is not in the views has no tool or unit."""
    return NOT_RECORDED if value is None else str(value)


def _rows(
    views: Views,
    *,
    tool: str | None,
    unit: str | None,
    clinician: str | None,
    start: int | None,
    end: int | None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """The actions and displays the filters select, and the views' position."""
    if start is not None and end is not None and start > end:
        raise InvalidQuery("from must not be after to")
    params = {"tool": tool, "unit": unit, "clinician": clinician, "start": start, "end": end}
    with views.reading() as snap:
        return snap.select(_ACTIONS_SQL, params), snap.select(_DISPLAYS_SQL, params), snap.position


def _summary(
    actions: list[tuple[Any, ...]], displays: list[tuple[Any, ...]], *, now: int, policy: Policy, evidence_limit: int
) -> dict[str, Any]:
    counts = Counter(str(row[4]) for row in actions)
    latencies = [(row, row[5] - row[6]) for row in actions if row[6] is not None]
    accepted = [(row, lat) for row, lat in latencies if row[4] == "accepted"]
    fast = [(row, lat) for row, lat in accepted if lat < policy.fast_acceptance_us]
    due = [row for row in displays if row[4] + policy.action_window_us <= now]
    unanswered = [row for row in due if row[5] is None or row[5] > row[4] + policy.action_window_us]
    total = len(actions)
    return {
        "actions": total,
        "counts": {a: counts.get(a, 0) for a in ACTIONS},
        "acceptance_rate": counts.get("accepted", 0) / total if total else None,
        "override_rate": counts.get("overridden", 0) / total if total else None,
        "dismissal_rate": counts.get("dismissed", 0) / total if total else None,
        "escalation_rate": counts.get("escalated", 0) / total if total else None,
        "median_seconds_display_to_action": statistics.median(lat for _, lat in latencies) / 1_000_000
        if latencies
        else None,
        "actions_without_prior_display": total - len(latencies),
        "fast_acceptance": {
            "threshold_seconds": policy.fast_acceptance_us / 1_000_000,
            "acceptances_timed": len(accepted),
            "faster_than_threshold": len(fast),
            "share": len(fast) / len(accepted) if accepted else None,
            "evidence": [
                _ref(row, "output.acted", f"accepted {lat / 1_000_000:.1f} s after display")
                for row, lat in fast[:evidence_limit]
            ],
        },
        "unanswered": {
            "window_seconds": policy.action_window_us / 1_000_000,
            "displays_past_window": len(due),
            "not_acted_on_within_window": len(unanswered),
            "share": len(unanswered) / len(due) if due else None,
            "evidence": [
                _ref(row, "output.shown", f"shown to {row[3]}, no action in time")
                for row in unanswered[:evidence_limit]
            ],
        },
        "alert_burden": _burden(displays, policy),
        "evidence": [_ref(row, "output.acted", f"{row[4]} by {row[3]}") for row in actions[:evidence_limit]],
        "evidence_omitted": max(total - evidence_limit, 0),
    }


def _ref(row: tuple[Any, ...], event_type: str, note: str) -> Evidence:
    return Evidence(
        int(row[0]), str(row[1]), event_type, iso(int(row[5] if event_type == "output.acted" else row[4])), note
    )


def _burden(displays: list[tuple[Any, ...]], policy: Policy) -> dict[str, Any]:
    per_shift = Counter((str(row[3]), policy.shift_of(int(row[4]))) for row in displays)
    counts = sorted(per_shift.values())
    return {
        "shift_hours": policy.shift_hours,
        "shift_start_hour_utc": policy.shift_start_hour,
        "alerts": len(displays),
        "clinician_shifts": len(counts),
        "mean_alerts_per_clinician_shift": statistics.fmean(counts) if counts else None,
        "median_alerts_per_clinician_shift": statistics.median(counts) if counts else None,
        "max_alerts_in_a_clinician_shift": counts[-1] if counts else None,
    }
