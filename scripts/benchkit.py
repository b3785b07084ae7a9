"""The baseline's event class, in an importable module so its eventsourcing topic resolves."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import DomainEvent

from ledger.store.app import Fact


class PlainRecorded(DomainEvent):
    """The same fact, as a plain eventsourcing domain event (transcoded to JSON by the library)."""

    event_type: str
    body: str

    @classmethod
    def of(cls, fact: Fact) -> PlainRecorded:
        """The baseline twin of a ledger fact."""
        return cls(  # type: ignore[call-arg]
            originator_id=UUID(str(fact.originator_id)),
            originator_version=1,
            timestamp=DomainEvent.create_timestamp(),
            event_type=fact.event_type,
            body=fact.body.decode(),
        )
