"""A tool's governance state at any moment, from its events: approval, validations, thresholds, training, monitoring.

Rules (docs/projections.md restates them):

* An event counts from the moment it took effect (``effective_us``: a
  training's ``completed_at``, a threshold's ``effective_at``, otherwise
  ``occurred_at``), inclusive: at that very microsecond it is in force.
* The latest approval supersedes earlier ones (its scope replaces theirs). A
  suspension holds until a reinstatement or a new approval; a retirement until
  a new approval. An approval past its ``expires_at`` is expired.
* For each site, unit and population, the latest validation holds.
* For each threshold parameter, the latest change that applies to the site
  and unit (a change with no site or unit applies to all) holds.
* A clinician's training is current at a moment if some training completed by
  then has not expired by then.
* Ties in time are broken by seq (the order the ledger recorded them).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from projections.views import EventRow

_STATUS_TYPES = ("tool.approved", "tool.suspended", "tool.reinstated", "tool.retired")


@dataclass(frozen=True)
class ApprovalState:
    """The tool's approval at one moment."""

    state: str  # approved, expired, suspended, retired, not_approved
    approval: EventRow | None  # the latest approval by then
    status_event: EventRow | None  # the suspension or retirement in force, if any
    later_approval: EventRow | None  # the first approval after the moment, when none before


@dataclass(frozen=True)
class TrainingState:
    """A clinician's training on the tool at one moment."""

    state: str  # current, expired, later (only after the moment), none
    training: EventRow | None


class ToolHistory:
    """The governance events of one tool, queried as of any moment."""

    def __init__(self, tool_id: str, rows: Iterable[EventRow]) -> None:
        self.tool_id = tool_id
        self.rows = sorted({r.seq: r for r in rows}.values(), key=lambda r: (r.effective_us, r.seq))
        self._by_type: dict[str, list[EventRow]] = defaultdict(list)
        self._times: dict[str, list[int]] = defaultdict(list)
        self._trainings: dict[str, list[EventRow]] = defaultdict(list)
        for row in self.rows:
            self._by_type[row.type].append(row)
            self._times[row.type].append(row.effective_us)
            if row.type == "clinician.trained" and row.clinician_id is not None:
                self._trainings[row.clinician_id].append(row)

    def of_type(self, *types: str, at: int | None = None) -> list[EventRow]:
        """Events of these types in force by ``at`` (all, if None), in time order."""
        parts = []
        for event_type in types:
            rows = self._by_type.get(event_type, [])
            parts.append(rows if at is None else rows[: bisect_right(self._times[event_type], at)])
        if len(parts) == 1:
            return list(parts[0])
        return sorted((r for part in parts for r in part), key=lambda r: (r.effective_us, r.seq))

    def registration(self, at: int | None = None) -> EventRow | None:
        """The latest registration by ``at``."""
        rows = self.of_type("tool.registered", at=at)
        return rows[-1] if rows else None

    def deployed_version(self, at: int) -> tuple[str | None, EventRow | None]:
        """The model version deployed at ``at``: the latest registration or update."""
        rows = self.of_type("tool.registered", "tool.updated", at=at)
        if not rows:
            return None, None
        version = rows[-1].facts.get("version")
        return (version if isinstance(version, str) else None), rows[-1]

    def approval(self, at: int) -> ApprovalState:
        """Approved, expired, suspended, retired or not approved, at ``at``."""
        approval: EventRow | None = None
        status_event: EventRow | None = None
        state = "not_approved"
        for row in self.of_type(*_STATUS_TYPES, at=at):
            if row.type == "tool.approved":
                approval, status_event, state = row, None, "approved"
            elif row.type == "tool.suspended" and state != "retired":
                status_event, state = row, "suspended"
            elif row.type == "tool.reinstated" and state == "suspended":
                status_event, state = None, "approved" if approval is not None else "not_approved"
            elif row.type == "tool.retired":
                status_event, state = row, "retired"
        if state == "approved" and approval is not None:
            expires = approval.time("expires_at")
            if expires is not None and expires <= at:
                state = "expired"
        later = None
        if approval is None:
            future = [r for r in self.of_type("tool.approved") if r.effective_us > at]
            later = future[0] if future else None
        return ApprovalState(state, approval, status_event, later)

    def suspensions(self, at: int) -> list[tuple[EventRow, EventRow | None]]:
        """Each suspension by ``at`` and what lifted it (reinstatement or new approval), if anything did."""
        periods: list[tuple[EventRow, EventRow | None]] = []
        open_suspension: EventRow | None = None
        for row in self.of_type(*_STATUS_TYPES, at=at):
            if row.type == "tool.suspended" and open_suspension is None:
                open_suspension = row
            elif row.type in ("tool.reinstated", "tool.approved") and open_suspension is not None:
                periods.append((open_suspension, row))
                open_suspension = None
        if open_suspension is not None:
            periods.append((open_suspension, None))
        return periods

    def validations(self, at: int) -> dict[tuple[str, str, str], EventRow]:
        """The latest validation by ``at`` for each (site, unit, population)."""
        latest: dict[tuple[str, str, str], EventRow] = {}
        for row in self.of_type("tool.validated", at=at):
            latest[(str(row.facts.get("site")), str(row.facts.get("unit")), str(row.facts.get("population")))] = row
        return latest

    def thresholds(
        self, at: int, *, site: str | None = None, unit: str | None = None
    ) -> dict[tuple[str, str | None, str | None], EventRow]:
        """The latest change by ``at`` of each (parameter, site, unit); with site/unit, only those applying there."""
        latest: dict[tuple[str, str | None, str | None], EventRow] = {}
        for row in self.of_type("tool.threshold_changed", at=at):
            row_site, row_unit = row.facts.get("site"), row.facts.get("unit")
            if site is not None and row_site not in (None, site):
                continue
            if unit is not None and row_unit not in (None, unit):
                continue
            latest[(str(row.facts.get("parameter")), row_site, row_unit)] = row
        return latest

    def thresholds_in_effect(self, at: int, *, site: str, unit: str) -> dict[str, EventRow]:
        """For each parameter, the latest change by ``at`` that applies to this site and unit."""
        in_effect: dict[str, EventRow] = {}
        for row in self.of_type("tool.threshold_changed", at=at):
            if row.facts.get("site") not in (None, site) or row.facts.get("unit") not in (None, unit):
                continue
            in_effect[str(row.facts.get("parameter"))] = row
        return in_effect

    def training(self, clinician_id: str, at: int) -> TrainingState:
        """Whether ``clinician_id`` held current training on this tool at ``at``."""
        rows = self._trainings.get(clinician_id, [])
        done = [r for r in rows if r.effective_us <= at]
        current = [r for r in done if (r.time("expires_at") or at + 1) > at]
        if current:
            return TrainingState("current", current[-1])
        if done:
            return TrainingState("expired", done[-1])
        if rows:
            return TrainingState("later", rows[0])
        return TrainingState("none", None)

    def trained_clinicians(self, at: int) -> dict[str, TrainingState]:
        """Every clinician with a training on this tool completed by ``at``, and its state then."""
        clinicians = {r.clinician_id for r in self.of_type("clinician.trained", at=at) if r.clinician_id}
        return {c: self.training(c, at) for c in sorted(clinicians)}

    def last_check(self, at: int) -> EventRow | None:
        """The latest monitoring check by ``at``."""
        rows = self.of_type("monitoring.checked", at=at)
        return rows[-1] if rows else None

    def drift_checks(self, at: int) -> list[tuple[EventRow, list[EventRow]]]:
        """Each drift check by ``at``, with its acknowledgements recorded by ``at``."""
        acks: dict[str, list[EventRow]] = defaultdict(list)
        for ack in self.of_type("monitoring.acknowledged", at=at):
            acks[str(ack.facts.get("check_event_id"))].append(ack)
        return [
            (c, acks.get(c.event_id, [])) for c in self.of_type("monitoring.checked", at=at) if c.outcome == "drift"
        ]

    def follow_ups(self, check: EventRow) -> list[EventRow]:
        """What followed a drift check: its acknowledgements, and any suspension of the tool after it."""
        acks = [a for a in self.of_type("monitoring.acknowledged") if a.facts.get("check_event_id") == check.event_id]
        suspensions = [s for s in self.of_type("tool.suspended") if s.effective_us >= check.effective_us]
        return sorted(acks + suspensions, key=lambda r: (r.effective_us, r.seq))


def scope_of(approval: EventRow) -> dict[str, list[str]]:
    """An approval's scope: sites, units, populations."""
    scope: Any = approval.facts.get("scope") or {}
    return {key: list(scope.get(key) or []) for key in ("sites", "units", "populations")}


def approvers_of(approval: EventRow) -> list[str]:
    """Who signed: the listed approvers, else the actor."""
    listed = approval.facts.get("approvers")
    return list(listed) if isinstance(listed, list) and listed else [approval.actor_id]


def by_time(rows: Sequence[EventRow]) -> list[EventRow]:
    """Rows in time order (ties by seq)."""
    return sorted(rows, key=lambda r: (r.effective_us, r.seq))
