"""The eventsourcing application that holds the ledger's events.

Design: every ledger event is its own originator. Its ``event_id`` is the
eventsourcing ``originator_id`` and its version is 1, so eventsourcing's primary
key (originator_id, originator_version) is the durable idempotency constraint.
There are no aggregates with state that could refuse a fact: the ledger records
facts and never refuses a well-formed one because of what came before (an
output from an unapproved tool is recorded, then flagged by a projection). The
entities (tool, output, incident, clinician) are read models built from the log.

The mapper stores the event's canonical bytes verbatim as ``StoredEvent.state``
(no transcoding, compression or cipher in between): the bytes hashed are the
bytes stored. The topic ``ledger:<type>`` names the event type, so readers can
filter by type in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from ledger.store.postgres import PostgresLedgerRecorder
from ledger.store.recorder import LedgerRecorder, topic_of_type, type_of_topic
from ledger.store.sqlite import SQLiteLedgerRecorder


@dataclass(frozen=True, slots=True)
class Fact:
    """One ledger event as eventsourcing sees it: an originator with one version."""

    originator_id: UUID
    originator_version: int
    event_type: str
    body: bytes


class CanonicalMapper(Mapper[UUID]):
    """Stores a Fact's canonical bytes as they are; reads them back unchanged."""

    def __init__(self) -> None:
        super().__init__(transcoder=_NoTranscoder())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """A Fact as a stored event: topic ``ledger:<type>``, state = canonical bytes."""
        fact: Fact = domain_event
        return StoredEvent(
            originator_id=fact.originator_id,
            originator_version=fact.originator_version,
            topic=topic_of_type(fact.event_type),
            state=fact.body,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """A stored event back as a Fact."""
        originator_id = stored_event.originator_id
        return Fact(
            originator_id if isinstance(originator_id, UUID) else UUID(originator_id),
            stored_event.originator_version,
            type_of_topic(stored_event.topic),
            stored_event.state,
        )


class _NoTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("the ledger stores canonical bytes, never transcodes")

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("the ledger stores canonical bytes, never transcodes")


RECORDERS = {
    "sqlite": SQLiteLedgerRecorder,
    "postgres": PostgresLedgerRecorder,
}


def recorder_topic(backend: str) -> str:
    """The APPLICATION_RECORDER_TOPIC for a backend ("sqlite" or "postgres")."""
    return get_topic(RECORDERS[backend])


class LedgerApplication(Application[UUID]):
    """The event store: eventsourcing's application with the chained recorders."""

    name = "Ledger"

    def construct_mapper(self) -> Mapper[UUID]:
        """Canonical bytes in, canonical bytes out."""
        return CanonicalMapper()

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        """The recorder, typed with the ledger's extra reads."""
        recorder: Any = self.recorder
        return recorder  # type: ignore[no-any-return]
