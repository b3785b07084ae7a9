"""What the SQLite and PostgreSQL recorders share: topics, columns, the clock."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

from ledger.store.plan import Existing
from ledger.store.records import Record

TOPIC_PREFIX = "ledger:"

# The columns every backend selects for a record, in this order.
RECORD_COLUMNS = "c.seq, c.event_id, c.recorded_us, c.prev_hash, c.hash, c.digest, e.topic, e.state"


def topic_of_type(event_type: str) -> str:
    """The eventsourcing topic under which events of ``event_type`` are stored."""
    return TOPIC_PREFIX + event_type


def type_of_topic(topic: str | None) -> str:
    """The event type named by a stored topic ('' when the event row is missing)."""
    if topic is None:
        return ""
    return topic.removeprefix(TOPIC_PREFIX)


def now_us() -> int:
    """The wall clock in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


class RecorderMixin:
    """Marker for the ledger's recorders; see LedgerRecorder for the interface."""


class LedgerRecorder(Protocol):
    """The reads every ledger recorder offers beyond eventsourcing's own."""

    def select_existing(self, event_ids: Sequence[UUID]) -> dict[UUID, Existing]: ...

    def select_records(self, *, after_seq: int, limit: int) -> list[Record]: ...

    def select_record(self, event_id: UUID) -> Record | None: ...

    def scan_records(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]: ...

    def orphan_events(self) -> list[tuple[str, int]]: ...

    def max_notification_id(self) -> int | None: ...

    @staticmethod
    def to_record(row: Any) -> Record: ...
