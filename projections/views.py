"""Reading the views: one snapshot per answer, rows as small typed tuples.

``Views(ledger)`` opens the view tables of a ledger (creating them if needed).
``with views.reading() as snap:`` gives a Snapshot whose every select sees the
same state, and ``snap.position``, the seq up to which the views hold the log:
every answer reports it, so a reader knows what the answer rests on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import orjson

from ledger.store import Ledger
from projections.answers import Evidence
from projections.db import Reader
from projections.errors import ViewsOutdated
from projections.timefmt import computable, iso, out_of_range, parse_us

if TYPE_CHECKING:
    from projections.runner import Projector

_EVENT_COLUMNS: Final = (
    "seq, event_id, type, occurred_us, effective_us, recorded_us, actor_id, actor_role, actor_kind, "
    "tool_id, output_id, incident_id, clinician_id, remediation_id, outcome, facts"
)
_OUTPUT_COLUMNS: Final = (
    "output_id, seq, event_id, tool_id, model_version, site, unit, population, score, label, priority, "
    "threshold, has_explanation, generated_us, recorded_us"
)
_DISPLAY_COLUMNS: Final = "seq, event_id, output_id, clinician_id, surface, ui_version, shown_us, recorded_us"
_ACTION_COLUMNS: Final = (
    "seq, event_id, output_id, clinician_id, action, reason_code, escalated_to, has_comment, acted_us, recorded_us"
)
_INCIDENT_COLUMNS: Final = (
    "incident_id, reported_seq, reported_event_id, COALESCE(class_category, category), COALESCE(class_harm, harm), "
    "tool_id, safety_event_type, COALESCE(class_serious, serious), COALESCE(class_widespread, widespread), "
    "aware_us, reported_us, class_seq, class_event_id, assigned_us, assigned_seq, assigned_event_id, "
    "external_us, external_seq, external_event_id, status, status_seq, status_event_id, status_type"
)

# The tool events that make up its governance state (small per tool); trainings and
# monitoring are loaded separately, for the clinicians and moments a question needs.
CORE_GOVERNANCE: Final = (
    "tool.registered",
    "tool.approved",
    "tool.updated",
    "tool.threshold_changed",
    "tool.suspended",
    "tool.reinstated",
    "tool.retired",
    "tool.validated",
)
GOVERNANCE: Final = (*CORE_GOVERNANCE, "clinician.trained", "monitoring.checked", "monitoring.acknowledged")


class EventRow(NamedTuple):
    """A row of view_events: one ledger event, its public facts and the entities it names."""

    seq: int
    event_id: str
    type: str
    occurred_us: int
    effective_us: int
    recorded_us: int
    actor_id: str
    actor_role: str
    actor_kind: str
    tool_id: str | None
    output_id: str | None
    incident_id: str | None
    clinician_id: str | None
    remediation_id: str | None
    outcome: str | None
    facts: dict[str, Any]

    @classmethod
    def of(cls, row: Sequence[Any]) -> EventRow:
        """From a selected row (facts still JSON text)."""
        return cls._make([*row[:15], orjson.loads(row[15])])

    def evidence(self, note: str = "") -> Evidence:
        """This event as evidence for an answer."""
        return Evidence(self.seq, self.event_id, self.type, iso(self.effective_us), note)

    def time(self, name: str) -> int | None:
        """A timestamp field of the facts, in microseconds."""
        value = self.facts.get(name)
        return None if not isinstance(value, str) else parse_us(value)

    def entry(self, note: str = "") -> dict[str, Any]:
        """The event as a timeline or history entry."""
        entry = {
            "seq": self.seq,
            "event_id": self.event_id,
            "type": self.type,
            "at": iso(self.effective_us),
            "occurred_at": iso(self.occurred_us),
            "recorded_at": iso(self.recorded_us),
            "actor": {"id": self.actor_id, "role": self.actor_role, "kind": self.actor_kind},
            "facts": self.facts,
        }
        if note:
            entry["note"] = note
        if not (computable(self.occurred_us) and computable(self.effective_us)):  # stored before times were bounded
            field = "occurred_at" if not computable(self.occurred_us) else "its effective time"
            entry["problem"] = out_of_range(self.type, self.seq, field)
        return entry


class OutputRow(NamedTuple):
    """A row of view_outputs: the first output.generated of an output_id."""

    output_id: str
    seq: int
    event_id: str
    tool_id: str
    model_version: str
    site: str
    unit: str
    population: str
    score: float
    label: str
    priority: str
    threshold: str  # JSON text of the setting: "0.7" or "\"high\""
    has_explanation: int
    generated_us: int
    recorded_us: int

    @property
    def threshold_value(self) -> Any:
        """The threshold in effect, as a number or code."""
        return orjson.loads(self.threshold)

    def evidence(self, note: str = "output generated") -> Evidence:
        """The output.generated event as evidence."""
        return Evidence(self.seq, self.event_id, "output.generated", iso(self.generated_us), note)


class DisplayRow(NamedTuple):
    """A row of view_displays: an output shown to a clinician."""

    seq: int
    event_id: str
    output_id: str
    clinician_id: str
    surface: str
    ui_version: str | None
    shown_us: int
    recorded_us: int

    def evidence(self, note: str = "") -> Evidence:
        """The output.shown event as evidence."""
        return Evidence(
            self.seq, self.event_id, "output.shown", iso(self.shown_us), note or f"shown to {self.clinician_id}"
        )


class ActionRow(NamedTuple):
    """A row of view_actions: a clinician's response to an output."""

    seq: int
    event_id: str
    output_id: str
    clinician_id: str
    action: str
    reason_code: str | None
    escalated_to: str | None
    has_comment: int
    acted_us: int
    recorded_us: int

    def evidence(self, note: str = "") -> Evidence:
        """The output.acted event as evidence."""
        return Evidence(
            self.seq, self.event_id, "output.acted", iso(self.acted_us), note or f"{self.action} by {self.clinician_id}"
        )


class IncidentRow(NamedTuple):
    """A row of view_incidents, with the latest classification applied."""

    incident_id: str
    reported_seq: int | None
    reported_event_id: str | None
    category: str | None
    harm: str | None
    tool_id: str | None
    safety_event_type: str | None
    serious: int | None
    widespread: int | None
    aware_us: int | None
    reported_us: int | None
    class_seq: int | None
    class_event_id: str | None
    assigned_us: int | None
    assigned_seq: int | None
    assigned_event_id: str | None
    external_us: int | None
    external_seq: int | None
    external_event_id: str | None
    status: str
    status_seq: int
    status_event_id: str
    status_type: str


class Snapshot:
    """The views at one moment: every select sees the same state.

    The ``where`` and ``order`` arguments are SQL templates written in this
    package (constants, never input): every value is a bound parameter, which
    is why the string-built statements below carry ``noqa: S608``.
    """

    def __init__(self, reader: Reader, position: int) -> None:
        self.reader = reader
        self.position = position

    def select(self, template: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of one select."""
        return self.reader.select(template, params)

    def events(self, where: str, params: dict[str, Any]) -> list[EventRow]:
        """view_events rows matching a WHERE clause (a constant template), in time order."""
        rows = self.reader.select(
            "SELECT " + _EVENT_COLUMNS + " FROM {events} WHERE " + where + " ORDER BY effective_us, seq",  # noqa: S608
            params,
        )
        return [EventRow.of(row) for row in rows]

    def last_event(self, where: str, params: dict[str, Any]) -> EventRow | None:
        """The latest view_events row matching a WHERE clause, or None."""
        rows = self.reader.select(
            "SELECT "  # noqa: S608
            + _EVENT_COLUMNS
            + " FROM {events} WHERE "
            + where
            + " ORDER BY effective_us DESC, seq DESC LIMIT 1",
            params,
        )
        return EventRow.of(rows[0]) if rows else None

    def outputs(self, where: str, params: dict[str, Any], *, order: str = "generated_us, seq") -> list[OutputRow]:
        """view_outputs rows matching a WHERE clause."""
        rows = self.reader.select(
            "SELECT " + _OUTPUT_COLUMNS + " FROM {outputs} WHERE " + where + " ORDER BY " + order,  # noqa: S608
            params,
        )
        return [OutputRow(*row) for row in rows]

    def displays(self, output_ids: Sequence[str]) -> list[DisplayRow]:
        """Every display of these outputs, in time order."""
        if not output_ids:
            return []
        rows = self.reader.select(
            "SELECT " + _DISPLAY_COLUMNS + " FROM {displays} WHERE @in(output_id, :ids) ORDER BY shown_us, seq",  # noqa: S608
            {"ids": list(output_ids)},
        )
        return [DisplayRow(*row) for row in rows]

    def actions(self, output_ids: Sequence[str]) -> list[ActionRow]:
        """Every action on these outputs, in time order."""
        if not output_ids:
            return []
        rows = self.reader.select(
            "SELECT " + _ACTION_COLUMNS + " FROM {actions} WHERE @in(output_id, :ids) ORDER BY acted_us, seq",  # noqa: S608
            {"ids": list(output_ids)},
        )
        return [ActionRow(*row) for row in rows]

    def incidents(self, where: str, params: dict[str, Any]) -> list[IncidentRow]:
        """view_incidents rows matching a WHERE clause, by awareness time."""
        rows = self.reader.select(
            "SELECT " + _INCIDENT_COLUMNS + " FROM {incidents} WHERE " + where + " ORDER BY aware_us, incident_id",  # noqa: S608
            params,
        )
        return [IncidentRow(*row) for row in rows]


class Views:
    """The read models of one ledger."""

    def __init__(self, ledger: Ledger, *, projector: Projector | None = None) -> None:
        from projections.runner import Projector

        self.ledger = ledger
        self.projector = projector if projector is not None else Projector(ledger)
        self.db = self.projector.db

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """A consistent snapshot of every view, with the position it reflects."""
        if self.projector.outdated:
            raise ViewsOutdated(self.projector.outdated)
        with self.db.reading() as reader:
            rows = reader.select(
                "SELECT MIN(notification_id) FROM {tracking} WHERE @in(application_name, :names)",
                {"names": [p.name for p in self.projector.projections]},
            )
            yield Snapshot(reader, int(rows[0][0] or 0))

    def position(self) -> int:
        """The seq up to which every view holds the log."""
        return self.projector.position()
