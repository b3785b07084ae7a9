"""What goes into the store and what comes back out: submissions, receipts, records."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from ledger.proof.chain import entry_bytes


def time_from_us(recorded_us: int) -> str:
    """Microseconds since the Unix epoch as the canonical RFC 3339 UTC string.

    In integers throughout: through a float of seconds, a time late in a second
    can round up into the next one (8028-01-17T09:39:17.999993Z read as :18).
    """
    seconds, micros = divmod(recorded_us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of recording that an emitter keeps beside its own record."""

    event_id: str
    seq: int
    hash: bytes
    prev_hash: bytes
    recorded_us: int
    created: bool

    @property
    def leaf_index(self) -> int:
        """The event's position in the Merkle tree (``seq - 1``)."""
        return self.seq - 1

    @property
    def recorded_at(self) -> str:
        """When the ledger recorded the event, RFC 3339 in UTC."""
        return time_from_us(self.recorded_us)

    def to_json(self) -> dict[str, Any]:
        """The receipt as the API returns it."""
        return {
            "event_id": self.event_id,
            "seq": self.seq,
            "leaf_index": self.leaf_index,
            "hash": self.hash.hex(),
            "prev_hash": self.prev_hash.hex(),
            "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True, slots=True)
class Record:
    """One stored entry: the event's canonical bytes and its place in the chain."""

    seq: int
    event_id: str
    type: str
    body: bytes
    prev_hash: bytes
    hash: bytes
    recorded_us: int

    @property
    def entry(self) -> bytes:
        """The framed bytes that the chain and the Merkle tree hash."""
        return entry_bytes(seq=self.seq, recorded_us=self.recorded_us, body=self.body)

    @property
    def recorded_at(self) -> str:
        """When the ledger recorded the event, RFC 3339 in UTC."""
        return time_from_us(self.recorded_us)


class StoredCheckpoint(NamedTuple):
    """A signed checkpoint as the database keeps it."""

    size: int
    root: bytes
    note: str  # the C2SP signed note, exactly as signed
    signed_us: int


def event_uuid(event_id: str | UUID) -> UUID:
    """The event_id as a UUID (the eventsourcing originator id)."""
    return event_id if isinstance(event_id, UUID) else UUID(event_id)
