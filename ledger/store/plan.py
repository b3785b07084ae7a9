"""Planning an append: which events are new, which are retries, which conflict; and the tip a writer keeps.

Pure functions, and one small cache. A backend plans on the chain head it read
under the append lock, or on the tip it last wrote (``TipCache``), which it
then checks is still the head under the lock before writing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.errors import EventConflict
from ledger.proof.chain import content_digest, row_hashes
from ledger.proof.merkle import CompactRange, Edge, Node, NodeKey
from ledger.store.records import Receipt


@dataclass(frozen=True, slots=True)
class Head:
    """The last entry of the chain, or the genesis state (seq 0)."""

    seq: int
    hash: bytes
    recorded_us: int


@dataclass(frozen=True, slots=True)
class Existing:
    """What the store already holds for an event_id: enough to answer a retry."""

    receipt: Receipt
    digest: bytes


@dataclass(frozen=True, slots=True)
class Row:
    """A new row of the events table: eventsourcing's columns and the chain's."""

    event: StoredEvent
    seq: int
    digest: bytes
    recorded_us: int
    prev_hash: bytes
    hash: bytes
    leaf_hash: bytes

    @property
    def event_id(self) -> UUID:
        """The event_id (eventsourcing's originator id)."""
        return _as_uuid(self.event.originator_id)


@dataclass(frozen=True, slots=True)
class Tip:
    """A chain head with the Merkle tree's right edge at that size: all an append builds on.

    A writer keeps the tip it last wrote, to append without reading either back:
    under the append lock it only checks that the head is still this one.
    """

    head: Head
    edge: Edge

    @classmethod
    def of(cls, head: Head, nodes: Mapping[NodeKey, bytes]) -> Tip:
        """The tip at ``head``, from the stored nodes at ``frontier_keys(head.seq)``."""
        return cls(head, CompactRange.from_frontier(head.seq, nodes).edge)


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome: rows to insert, Merkle nodes above the leaves, one receipt per input, the tip after."""

    rows: list[Row]
    receipts: list[Receipt]
    nodes: list[Node]
    tip: Tip


def plan_append(
    stored: Sequence[StoredEvent],
    *,
    existing: Mapping[UUID, Existing],
    tip: Tip,
    now_us: int,
) -> Plan:
    """Assign seq, time and hashes to the new events on top of ``tip``; answer retries; refuse conflicts.

    The recorded time never goes backwards along the chain: a clock that steps
    back is clamped to the previous entry's time. Leaves (level 0) are stored
    with their rows; ``nodes`` holds the completed subtrees above them.
    """
    head = tip.head
    recorded_us = max(now_us, head.recorded_us)
    seen: dict[UUID, Existing] = dict(existing)
    rows: list[Row] = []
    receipts: list[Receipt] = []
    prev, seq = head.hash, head.seq
    for event in stored:
        event_id = _as_uuid(event.originator_id)
        if event_id in seen:
            receipts.append(_retry(seen[event_id], digest=content_digest(event.state)))
            continue
        seq += 1
        hash_, leaf, digest = row_hashes(seq=seq, recorded_us=recorded_us, prev=prev, body=event.state)
        rows.append(Row(event, seq, digest, recorded_us, prev, hash_, leaf))
        receipt = Receipt(str(event_id), seq, hash_, prev, recorded_us, created=True)
        seen[event_id] = Existing(receipt, digest)
        receipts.append(receipt)
        prev = hash_
    if not rows:
        return Plan(rows, receipts, [], tip)
    tree = CompactRange.from_edge(tip.edge, size=head.seq)
    nodes = tree.extend_with_nodes([r.leaf_hash for r in rows])
    return Plan(rows, receipts, nodes, Tip(Head(seq, prev, recorded_us), tree.edge))


def _retry(earlier: Existing, *, digest: bytes) -> Receipt:
    if earlier.digest != digest:
        raise EventConflict(earlier.receipt.event_id, seq=earlier.receipt.seq)
    r = earlier.receipt
    return Receipt(r.event_id, r.seq, r.hash, r.prev_hash, r.recorded_us, created=False)


def _as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


class TipCache:
    """The tip a writer last wrote or read, and how long to leave it unused once another writer moved the head.

    Both stores keep one per recorder. An append on the tip reads nothing
    before it writes; when the head turns out to have moved, the next appends
    read it first (``moved``): one, then two, four... up to MAX_SKIP as it keeps
    moving, and one again once an append finds its tip still the head (``held``).
    """

    MAX_SKIP = 64

    def __init__(self) -> None:
        self.tip: Tip | None = None  # what the next append may plan on, if usable
        self._skip = 0  # appends left that read the head first
        self._backoff = 1  # how many the next move makes skip

    def usable(self) -> Tip | None:
        """The tip to plan on; None when there is none yet, or for a while after the head moved under it."""
        if self.tip is None or self._skip:
            self._skip = max(0, self._skip - 1)
            return None
        return self.tip

    def keep(self, tip: Tip) -> None:
        """Plan the next append on ``tip`` (the head this writer just wrote or read)."""
        self.tip = tip

    def moved(self) -> None:
        """Another writer moved the head: the next appends read it first, twice as many as last time."""
        self._skip, self._backoff = self._backoff, min(2 * self._backoff, self.MAX_SKIP)

    def held(self) -> None:
        """The head was still this writer's tip: the next move counts from one again."""
        self._backoff = 1
