"""Planning an append on a tip: seq, hashes, retries, and the right edge carried forward."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.errors import EventConflict, IntegrityError
from ledger.proof.chain import GENESIS, entry_bytes, link_hash
from ledger.proof.merkle import MemoryNodes, frontier_keys, leaf_hash, root, root_of_leaves
from ledger.store.plan import Existing, Head, Plan, Tip, plan_append

START = Tip(Head(0, GENESIS, 0), ())


def stored(count: int) -> list[StoredEvent]:
    return [StoredEvent(uuid.uuid4(), 1, "ledger:x", b"{}" + bytes([i % 256])) for i in range(count)]


def test_the_tip_after_each_plan_holds_the_head_and_exactly_the_right_edge_of_the_tree() -> None:
    tip, nodes, leaves = START, MemoryNodes(), []
    for size in (1, 1, 2, 3, 1, 8, 5, 13, 1, 64, 7):  # uneven batches cross every subtree boundary
        plan = plan_append(stored(size), existing={}, tip=tip, now_us=1)
        nodes.add((0, r.seq - 1, r.leaf_hash) for r in plan.rows)
        nodes.add(plan.nodes)
        leaves += [r.leaf_hash for r in plan.rows]
        last = plan.rows[-1]
        assert plan.tip.head == Head(last.seq, last.hash, 1) and last.seq == len(leaves)
        assert plan.tip == Tip.of(plan.tip.head, nodes.get_nodes(frontier_keys(len(leaves))))
        assert root(len(leaves), nodes) == root_of_leaves(leaves)
        tip = plan.tip


def test_rows_link_to_the_tip_and_to_each_other() -> None:
    first = plan_append(stored(2), existing={}, tip=START, now_us=7)
    second = plan_append(stored(1), existing={}, tip=first.tip, now_us=8)
    row = second.rows[0]
    assert row.seq == 3 and row.prev_hash == first.rows[1].hash
    entry = entry_bytes(seq=3, recorded_us=8, body=row.event.state)
    assert row.hash == link_hash(prev=first.rows[1].hash, entry=entry) and row.leaf_hash == leaf_hash(entry)


def test_a_plan_of_retries_only_leaves_the_tip_as_it_was() -> None:
    events = stored(3)
    first = plan_append(events, existing={}, tip=START, now_us=5)
    existing = {_id(e): _existing(first, i) for i, e in enumerate(events)}
    again = plan_append(events[:2], existing=existing, tip=first.tip, now_us=6)
    assert again.rows == [] and again.tip is first.tip
    assert [r.created for r in again.receipts] == [False, False]


def test_the_same_event_twice_in_one_batch_is_written_once() -> None:
    events = stored(1)
    plan = plan_append([events[0], events[0]], existing={}, tip=START, now_us=1)
    assert len(plan.rows) == 1 and [r.created for r in plan.receipts] == [True, False]


def test_the_same_event_id_twice_in_one_batch_with_other_content_is_a_conflict() -> None:
    events = stored(1)
    changed = StoredEvent(events[0].originator_id, 1, "ledger:x", b"other")
    with pytest.raises(EventConflict):
        plan_append([*events, changed], existing={}, tip=START, now_us=1)


def test_the_recorded_time_never_goes_back_behind_the_tip() -> None:
    first = plan_append(stored(1), existing={}, tip=START, now_us=100)
    plan = plan_append(stored(1), existing={}, tip=first.tip, now_us=50)
    assert plan.rows[0].recorded_us == 100


def test_a_tip_read_from_a_store_that_lacks_a_right_edge_node_is_an_integrity_error() -> None:
    plan = plan_append(stored(3), existing={}, tip=START, now_us=1)
    nodes = MemoryNodes(plan.nodes)  # the leaves are missing: (0, 2) is on the edge of size 3
    with pytest.raises(IntegrityError, match=r"lacks perfect node \(level 0, index 2\)"):
        Tip.of(plan.tip.head, nodes.get_nodes(frontier_keys(3)))


def _id(event: StoredEvent) -> uuid.UUID:
    return uuid.UUID(str(event.originator_id))


def _existing(plan: Plan, index: int) -> Existing:
    return Existing(plan.receipts[index], plan.rows[index].digest)
