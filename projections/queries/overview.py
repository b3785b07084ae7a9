"""The incidents as a risk team triages them: each with its deadline state, units and open gaps, filtered,
counted by every filter's values, overdue deadlines and open gaps first.

    incident_overview(views, category=, harm=, tool=, unit=, status=, deadline=, now=, policy=)

An incident's ``deadline`` is the worst state of the reporting regimes that
apply to it (``DEADLINE_STATES``, worst first; ``none`` when no regime applies
or none can be told yet). Its ``open_gaps`` are the governance gaps (the gaps
query, evaluated at ``now``) about the incident itself or about one of its
outputs (``gaps.incident_gaps``). ``counts`` gives, for each filter, how many incidents have each value
among those matching the other filters, so that a reader sees what each choice
would leave.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from projections.errors import InvalidQuery
from projections.logic import STATUS_RANKS
from projections.policy import DEFAULT_POLICY, Policy
from projections.queries.gaps import incident_gaps
from projections.queries.incidents import CATEGORIES, HARMS, incident_summary, reporting_deadlines
from projections.queries.loading import IncidentContext, load_incidents
from projections.timefmt import iso, now_us
from projections.views import Views

DEADLINE_STATES: Final = ("missed", "late", "due_soon", "pending", "met", "none")
OVERDUE: Final = ("missed", "late")
FILTERS: Final = ("category", "harm", "tool", "unit", "status", "deadline")


def incident_overview(
    views: Views,
    *,
    category: str | None = None,
    harm: str | None = None,
    tool: str | None = None,
    unit: str | None = None,
    status: str | None = None,
    deadline: str | None = None,
    now: int | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """Every incident matching the filters (None: any), overdue and gapped first, with the counts."""
    wanted = _checked(
        {"category": category, "harm": harm, "tool": tool, "unit": unit, "status": status, "deadline": deadline}
    )
    now = now_us() if now is None else now
    with views.reading() as snap:
        position = snap.position
        items = [_item(ctx, now=now, policy=policy) for ctx in load_incidents(snap, snap.incidents("1 = 1", {}))]
    shown = [item for item in items if _matches(item, wanted)]
    shown.sort(key=_urgency)
    return {
        "position": position,
        "evaluated_at": iso(now),
        "filters": wanted,
        "total": len(shown),
        "of": len(items),
        "counts": {name: _counts(items, wanted, name) for name in FILTERS},
        "incidents": [item["summary"] | _extra(item) for item in shown],
    }


def _checked(filters: dict[str, str | None]) -> dict[str, str | None]:
    choices = {"category": CATEGORIES, "harm": HARMS, "status": tuple(STATUS_RANKS), "deadline": DEADLINE_STATES}
    for name, allowed in choices.items():
        value = filters.get(name)
        if value is not None and value not in allowed:
            raise InvalidQuery(f"{name} must be one of: {', '.join(allowed)}")
    return {name: filters.get(name) for name in FILTERS}


def _item(ctx: IncidentContext, *, now: int, policy: Policy) -> dict[str, Any]:
    """One incident with the values it is filtered and sorted by."""
    deadlines = reporting_deadlines(ctx, now=now, policy=policy)
    states = [d["status"] for d in deadlines if d["applies"] == "yes" and d["status"] in DEADLINE_STATES]
    summary = incident_summary(ctx.incident)
    return {
        "summary": summary,
        "aware_us": ctx.incident.aware_us,
        "values": {
            "category": {summary["category"]} - {None},
            "harm": {summary["harm"]} - {None},
            "tool": set(ctx.tool_ids),
            "unit": {c.output.unit for c in ctx.cases if c.output is not None},
            "status": {summary["status"]} - {None},
            "deadline": {min(states, key=DEADLINE_STATES.index) if states else "none"},
        },
        "deadlines": [
            {k: d[k] for k in ("regime", "name", "due_at", "filed_at", "status")}
            for d in deadlines
            if d["applies"] == "yes"
        ],  # fmt: skip
        "open_gaps": len(incident_gaps(ctx, now=now, policy=policy)),
    }


def _matches(item: dict[str, Any], wanted: dict[str, str | None], *, but: str | None = None) -> bool:
    return all(value is None or name == but or value in item["values"][name] for name, value in wanted.items())


def _counts(items: list[dict[str, Any]], wanted: dict[str, str | None], name: str) -> dict[str, int]:
    """How many incidents have each value of ``name``, among those matching the other filters."""
    counted: Counter[str] = Counter()
    for item in items:
        if _matches(item, wanted, but=name):
            counted.update(item["values"][name])
    order = DEADLINE_STATES if name == "deadline" else sorted(counted)
    return {value: counted[value] for value in order if counted[value]}


def _urgency(item: dict[str, Any]) -> tuple[bool, bool, int]:
    """Overdue first, then those with open gaps, then the most recent awareness."""
    overdue = bool(item["values"]["deadline"] & set(OVERDUE))
    return (not overdue, item["open_gaps"] == 0, -(item["aware_us"] or 0))


def _extra(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "deadline": next(iter(item["values"]["deadline"])),
        "deadlines": item["deadlines"],
        "units": sorted(item["values"]["unit"]),
        "tools": sorted(item["values"]["tool"]),
        "open_gaps": item["open_gaps"],
    }
