"""Planning an append: which events are new, which are retries, which conflict.

Pure functions, run by every backend inside its write-locked transaction, after
the chain head has been read under the lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.chain import content_digest, entry_bytes, link_hash
from ledger.errors import EventConflict
from ledger.merkle import MemoryNodes, Node, NodeKey, leaf_hash, nodes_for_append
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
class Plan:
    """The outcome: rows to insert, Merkle nodes above the leaves, one receipt per input."""

    rows: list[Row]
    receipts: list[Receipt]
    nodes: list[Node]


@dataclass(frozen=True, slots=True)
class Tip:
    """The chain head a writer last wrote, with the tree's right edge at that size.

    A writer keeps it to append without reading either back: under the append
    lock it only checks that the head is still this one (no other writer moved it).
    """

    head: Head
    frontier: Mapping[NodeKey, bytes]  # every key of frontier_keys(head.seq)


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees on the right edge of a tree of ``size`` leaves (one per set bit).

    They are all that appending to the tree needs from the past.
    """
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


def plan_append(
    stored: Sequence[StoredEvent],
    *,
    existing: Mapping[UUID, Existing],
    head: Head,
    frontier: Mapping[NodeKey, bytes],
    now_us: int,
) -> Plan:
    """Assign seq, time and hashes to the new events; answer retries; refuse conflicts.

    The recorded time never goes backwards along the chain: a clock that steps
    back is clamped to the previous entry's time. Leaves (level 0) are stored
    with their rows; ``nodes`` holds the completed subtrees above them.
    """
    recorded_us = max(now_us, head.recorded_us)
    seen: dict[UUID, Existing] = dict(existing)
    plan = Plan([], [], [])
    prev, seq = head.hash, head.seq
    for event in stored:
        event_id = _as_uuid(event.originator_id)
        digest = content_digest(event.state)
        if event_id in seen:
            plan.receipts.append(_retry(seen[event_id], digest=digest))
            continue
        seq += 1
        entry = entry_bytes(seq=seq, recorded_us=recorded_us, body=event.state)
        hash_ = link_hash(prev=prev, entry=entry)
        plan.rows.append(Row(event, seq, digest, recorded_us, prev, hash_, leaf_hash(entry)))
        receipt = Receipt(str(event_id), seq, hash_, prev, recorded_us, created=True)
        seen[event_id] = Existing(receipt, digest)
        plan.receipts.append(receipt)
        prev = hash_
    if plan.rows:
        reader = MemoryNodes((level, index, h) for (level, index), h in frontier.items())
        nodes = nodes_for_append(start_index=head.seq, leaf_hashes=[r.leaf_hash for r in plan.rows], reader=reader)
        plan.nodes.extend(node for node in nodes if node[0] > 0)
    return plan


def _retry(earlier: Existing, *, digest: bytes) -> Receipt:
    if earlier.digest != digest:
        raise EventConflict(earlier.receipt.event_id, seq=earlier.receipt.seq)
    r = earlier.receipt
    return Receipt(r.event_id, r.seq, r.hash, r.prev_hash, r.recorded_us, created=False)


def _as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def tip_after(tip: Tip, plan: Plan) -> Tip | None:
    """The tip once ``plan`` is committed on top of ``tip``; None if a right-edge node is unknown.

    Every node on the new right edge is either on the old one or completed by the
    append (its rows' leaves, ``plan.nodes``), so None means a bug, and only
    costs the next append a read.
    """
    if not plan.rows:
        return tip
    last = plan.rows[-1]
    first_new = plan.rows[0].seq - 1  # leaf index of the first new row
    added = {(level, index): hash_ for level, index, hash_ in plan.nodes}
    frontier: dict[NodeKey, bytes] = {}
    for level, index in frontier_keys(last.seq):
        if level == 0 and index >= first_new:
            found: bytes | None = plan.rows[index - first_new].leaf_hash
        else:
            found = added.get((level, index)) or tip.frontier.get((level, index))
        if found is None:
            return None
        frontier[(level, index)] = found
    return Tip(Head(last.seq, last.hash, last.recorded_us), frontier)
