"""What each projection does with an event: a list of row changes, no SQL.

A projection is a name, a version, the tables it owns and a pure function from
a Fact to Changes (a named statement of projections.schema and its
parameters). The runner writes the changes of a batch of events and the
projection's new position in one transaction.

Bump a projection's ``version`` whenever what it writes changes: views built by
another version refuse to serve until ``ledger projections rebuild``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from projections.facts import Fact, FactUnreadable, public_data


class Change(NamedTuple):
    """One write: a statement of projections.schema.STATEMENTS with its parameters."""

    statement: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Projection:
    """A read model: its tables, and the changes each event makes to them."""

    name: str
    version: int
    tables: tuple[str, ...]
    handlers: Mapping[str, Callable[[Fact], list[Change]]]
    every_event: Callable[[Fact], list[Change]] | None = None

    def changes(self, fact: Fact) -> list[Change]:
        """The changes ``fact`` makes to this projection's tables (often none)."""
        if self.every_event is not None:
            return self.every_event(fact)
        handler = self.handlers.get(fact.type)
        return [] if handler is None else handler(fact)


def setting_text(value: Any) -> str:
    """A configuration value (number or code) as stored: its JSON text (0.7 -> "0.7")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FactUnreadable("a threshold value is neither a number nor a code")
    return orjson.dumps(float(value) if isinstance(value, int) else value).decode()


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


# --- events: every event, indexed by the entities it names --------------------------------


# The field whose value view_events.outcome holds, for filtering in SQL.
_OUTCOME_FIELD: Final = {"monitoring.checked": "status", "output.acted": "action", "tool.validated": "result"}


def _event_row(fact: Fact) -> list[Change]:
    data, withheld = public_data(fact)
    if withheld:
        data["withheld"] = withheld
    get = fact.data.get
    return [
        Change(
            "insert_event",
            {
                "seq": fact.seq,
                "event_id": fact.event_id,
                "type": fact.type,
                "occurred_us": fact.occurred_us,
                "effective_us": fact.effective_us,
                "recorded_us": fact.recorded_us,
                "actor_id": fact.actor_id,
                "actor_role": fact.actor_role,
                "actor_kind": fact.actor_kind,
                "tool_id": get("tool_id"),
                "output_id": get("output_id"),
                "incident_id": get("incident_id"),
                "clinician_id": get("clinician_id"),
                "remediation_id": get("remediation_id"),
                "outcome": get(_OUTCOME_FIELD.get(fact.type, "")),
                # Keys stay in the canonical (sorted) order they were stored in; "withheld" last.
                "facts": orjson.dumps(data).decode(),
            },
        )
    ]


EVENTS: Final = Projection(name="events", version=1, tables=("events",), handlers={}, every_event=_event_row)


# --- outputs: each output, each display, each action ------------------------------------


def _output(fact: Fact) -> list[Change]:
    return [
        Change(
            "insert_output",
            {
                "output_id": fact.need("output_id"),
                "seq": fact.seq,
                "event_id": fact.event_id,
                "tool_id": fact.need("tool_id"),
                "model_version": fact.need("model_version"),
                "site": fact.need("site"),
                "unit": fact.need("unit"),
                "population": fact.need("population"),
                "score": float(fact.need("score")),
                "label": fact.need("label"),
                "priority": fact.need("priority"),
                "threshold": setting_text(fact.need("threshold_in_effect")),
                "has_explanation": int(fact.get("explanation") is not None),
                "generated_us": fact.effective_us,
                "recorded_us": fact.recorded_us,
            },
        )
    ]


def _display(fact: Fact) -> list[Change]:
    fact.need("shown_at")
    return [
        Change(
            "insert_display",
            {
                "seq": fact.seq,
                "event_id": fact.event_id,
                "output_id": fact.need("output_id"),
                "clinician_id": fact.need("clinician_id"),
                "surface": fact.need("surface"),
                "ui_version": fact.get("ui_version"),
                "shown_us": fact.effective_us,
                "recorded_us": fact.recorded_us,
            },
        )
    ]


def _action(fact: Fact) -> list[Change]:
    return [
        Change(
            "insert_action",
            {
                "seq": fact.seq,
                "event_id": fact.event_id,
                "output_id": fact.need("output_id"),
                "clinician_id": fact.need("clinician_id"),
                "action": fact.need("action"),
                "reason_code": fact.get("reason_code"),
                "escalated_to": fact.get("escalated_to"),
                "has_comment": int(fact.get("comment") is not None),
                "acted_us": fact.effective_us,
                "recorded_us": fact.recorded_us,
            },
        )
    ]


OUTPUTS: Final = Projection(
    name="outputs",
    version=1,
    tables=("outputs", "displays", "actions"),
    handlers={"output.generated": _output, "output.shown": _display, "output.acted": _action},
)


# --- incidents: current classification and status, and the outputs each names -------------


def _incident_reported(fact: Fact) -> list[Change]:
    incident_id = fact.need("incident_id")
    aware_us = fact.time("aware_at")
    if aware_us is None:
        raise FactUnreadable("data.aware_at is missing")
    changes = [
        Change(
            "incident_reported",
            {
                "incident_id": incident_id,
                "seq": fact.seq,
                "event_id": fact.event_id,
                "category": fact.need("category"),
                "harm": fact.need("harm"),
                "tool_id": fact.get("tool_id"),
                "safety_event_type": fact.get("safety_event_type"),
                "serious": _flag(fact.get("serious")),
                "widespread": _flag(fact.get("widespread")),
                "aware_us": aware_us,
                "reported_us": fact.effective_us,
            },
        )
    ]
    for output_id in fact.need("output_ids"):
        changes.append(Change("incident_output", {"incident_id": incident_id, "output_id": output_id, "seq": fact.seq}))
    return changes


def _incident_classified(fact: Fact) -> list[Change]:
    return [
        Change(
            "incident_classified",
            {
                "incident_id": fact.need("incident_id"),
                "seq": fact.seq,
                "event_id": fact.event_id,
                "harm": fact.need("harm"),
                "category": fact.get("category"),
                "serious": _flag(fact.get("serious")),
                "widespread": _flag(fact.get("widespread")),
            },
        )
    ]


def _incident_assigned(fact: Fact) -> list[Change]:
    params = {"incident_id": fact.need("incident_id"), "seq": fact.seq, "event_id": fact.event_id}
    return [Change("incident_assigned", {**params, "assigned_us": fact.effective_us})]


def _status(status: str, rank: int) -> Callable[[Fact], list[Change]]:
    def handler(fact: Fact) -> list[Change]:
        params = {"incident_id": fact.need("incident_id"), "seq": fact.seq, "event_id": fact.event_id}
        change = {**params, "status": status, "status_rank": rank, "status_type": fact.type}
        return [Change("incident_status", change)]

    return handler


def _incident_external(fact: Fact) -> list[Change]:
    params = {"incident_id": fact.need("incident_id"), "seq": fact.seq, "event_id": fact.event_id}
    return [Change("incident_external", {**params, "external_us": fact.effective_us})]


# Status ranks: an incident's status only moves forward.
STATUS_RANKS: Final = {"open": 0, "assigned": 1, "reviewed": 2, "closed": 3}

INCIDENTS: Final = Projection(
    name="incidents",
    version=1,
    tables=("incidents", "incident_outputs"),
    handlers={
        "incident.reported": _incident_reported,
        "incident.classified": _incident_classified,
        "incident.assigned": _incident_assigned,
        "incident.reviewed": _status("reviewed", STATUS_RANKS["reviewed"]),
        "incident.closed": _status("closed", STATUS_RANKS["closed"]),
        "incident.reported_externally": _incident_external,
    },
)

PROJECTIONS: Final[tuple[Projection, ...]] = (EVENTS, OUTPUTS, INCIDENTS)
