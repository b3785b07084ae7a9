"""What the SQLite and PostgreSQL recorders share: topics, columns, the clock, the interface."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.errors import ChainBroken
from ledger.pgcopy import CopySource
from ledger.proof.merkle import NodeKey
from ledger.store.plan import Existing
from ledger.store.records import Receipt, Record, StoredCheckpoint
from ledger.vault import KeyRow

TOPIC_PREFIX = "ledger:"

# The chain's columns, added to eventsourcing's events table.
CHAIN_COLUMNS = ("seq", "digest", "recorded_us", "prev_hash", "hash", "leaf_hash")

# The columns every backend selects for a record, in this order.
RECORD_COLUMNS = "seq, originator_id, recorded_us, prev_hash, hash, digest, topic, state, leaf_hash"


def topic_of_type(event_type: str) -> str:
    """The eventsourcing topic under which events of ``event_type`` are stored."""
    return TOPIC_PREFIX + event_type


def type_of_topic(topic: str | None) -> str:
    """The event type named by a stored topic."""
    return (topic or "").removeprefix(TOPIC_PREFIX)


def now_us() -> int:
    """The wall clock in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


def record_of(row: Sequence[Any], event_id: str) -> Record:
    """A selected row (RECORD_COLUMNS order) as a Record; ChainBroken if a column it needs is NULL.

    The ledger never writes a NULL there: only an edit of the table can, and a
    reader must then stop at that seq and say so, as ``ledger verify`` does.
    """
    seq, _, recorded_us, prev_hash, hash_, _, topic, body, _ = row
    columns = {"recorded_us": recorded_us, "prev_hash": prev_hash, "hash": hash_, "state": body}
    missing = [name for name, value in columns.items() if value is None]
    if missing:
        raise ChainBroken(seq=seq, kind="missing chain column", detail=f"the row has a seq but no {missing[0]}")
    return Record(seq, event_id, type_of_topic(topic), bytes(body), bytes(prev_hash), bytes(hash_), recorded_us)


class LedgerRecorder(Protocol):
    """What every ledger recorder offers beyond eventsourcing's own: the append, and the reads."""

    def append(self, stored_events: Sequence[StoredEvent], *, subject_keys: Sequence[KeyRow] = ()) -> list[Receipt]:
        """Append the events (retries answered, conflicts refused) with new subjects' keys, in one transaction."""
        ...

    def select_existing(self, event_ids: Sequence[UUID]) -> dict[UUID, Existing]: ...

    def select_records(self, *, after_seq: int, limit: int, topics: Sequence[str] = ()) -> list[Record]: ...

    def select_record(self, event_id: UUID) -> Record | None: ...

    def scan_records(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]: ...

    def copy_source(self) -> CopySource | None: ...

    def unchained_events(self) -> list[str]: ...

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]: ...

    def insert_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...

    def select_checkpoints(self) -> list[StoredCheckpoint]: ...

    def select_latest_checkpoint(self) -> StoredCheckpoint | None: ...

    def max_notification_id(self) -> int | None: ...

    def replica_lag_s(self) -> float | None: ...
