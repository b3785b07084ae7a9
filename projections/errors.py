"""The projections' exceptions, in the ledger's family.

    ledger.errors.LedgerError
    ├── InputError
    │   └── InvalidQuery            a query's parameters are malformed (bad time, from after to)
    ├── StoreUnavailable            the database cannot be reached (translated in projections.db)
    └── ProjectionError             the read models cannot answer
        ├── ProjectionFailed        an event could not be projected: the projection stopped at its seq
        ├── ViewsOutdated           views built by another version of the projection code: rebuild
        └── NotFound                no incident, output or tool with that id in the views

A projection never skips an event: ``ProjectionFailed`` names the projection,
the seq and the event type, and the position stays before that seq until the
cause is fixed. Messages never carry event values (they may be PHI).
"""

from __future__ import annotations

from ledger.errors import InputError, LedgerError


class ProjectionError(LedgerError):
    """The read models cannot answer or cannot advance."""


class ProjectionFailed(ProjectionError):
    """Projecting one event failed; nothing at or after ``seq`` was written for ``projection``."""

    def __init__(self, *, projection: str, seq: int, event_type: str, reason: str) -> None:
        self.projection = projection
        self.seq = seq
        self.event_type = event_type or "(unknown type)"
        self.reason = reason
        super().__init__(
            f"projection {projection!r} stopped at seq {seq} ({self.event_type}): {reason}; "
            "it will not skip this event, fix the cause and restart it"
        )


class ViewsOutdated(ProjectionError):
    """The view tables were built by another version of the projection code."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            f"views {', '.join(names)} were built by another version of the projections: "
            "run `ledger projections rebuild`"
        )


class NotFound(ProjectionError):
    """The views hold no incident, output or tool with this id."""

    def __init__(self, kind: str, identifier: str) -> None:
        self.kind = kind
        self.identifier = identifier
        super().__init__(f"no {kind} with this id in the ledger")


class InvalidQuery(InputError):
    """A query parameter is malformed or inconsistent."""
