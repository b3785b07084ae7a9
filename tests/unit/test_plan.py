"""Planning an append on a writer's cached tip: the right edge it carries forward is the tree's."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.errors import EventConflict
from ledger.merkle import MemoryNodes, root, root_of_leaves
from ledger.store.plan import Head, Tip, frontier_keys, plan_append, tip_after

GENESIS = Tip(Head(0, bytes(32), 0), {})


def stored(count: int, body: bytes = b"{}") -> list[StoredEvent]:
    return [StoredEvent(uuid.uuid4(), 1, "ledger:x", body + bytes([i % 256])) for i in range(count)]


def test_the_tip_carried_forward_holds_exactly_the_right_edge_of_the_tree() -> None:
    tip, nodes, leaves = GENESIS, MemoryNodes(), []
    for size in (1, 1, 2, 3, 1, 8, 5, 13, 1, 64, 7):  # uneven batches cross every subtree boundary
        plan = plan_append(stored(size), existing={}, head=tip.head, frontier=tip.frontier, now_us=1)
        nodes.add((0, r.seq - 1, r.leaf_hash) for r in plan.rows)
        nodes.add(plan.nodes)
        leaves += [r.leaf_hash for r in plan.rows]
        following = tip_after(tip, plan)
        assert following is not None
        assert following.head == Head(plan.rows[-1].seq, plan.rows[-1].hash, 1)
        assert dict(following.frontier) == dict(nodes.get_nodes(frontier_keys(len(leaves))))
        assert root(len(leaves), nodes) == root_of_leaves(leaves)
        tip = following


def test_a_plan_of_retries_only_leaves_the_tip_as_it_was() -> None:
    events = stored(3)
    first = plan_append(events, existing={}, head=GENESIS.head, frontier={}, now_us=5)
    tip = tip_after(GENESIS, first)
    assert tip is not None
    within = plan_append([events[0], events[0]], existing={}, head=tip.head, frontier=tip.frontier, now_us=6)
    assert [r.created for r in within.receipts] == [True, False]  # the batch's own repeat is a retry
    assert tip_after(tip, plan_append([], existing={}, head=tip.head, frontier=tip.frontier, now_us=7)) is tip


def test_a_tip_missing_a_right_edge_node_gives_no_tip_rather_than_a_wrong_one() -> None:
    tip = tip_after(GENESIS, plan_append(stored(4), existing={}, head=GENESIS.head, frontier={}, now_us=1))
    assert tip is not None and list(tip.frontier) == [(2, 0)]
    crippled = Tip(tip.head, {})  # the fifth leaf hashes with nothing, but size 5's edge still holds (2, 0)
    plan = plan_append(stored(1), existing={}, head=crippled.head, frontier=crippled.frontier, now_us=1)
    assert tip_after(crippled, plan) is None
    assert tip_after(tip, plan) is not None


def test_the_recorded_time_never_goes_back_behind_the_tip() -> None:
    tip = tip_after(GENESIS, plan_append(stored(1), existing={}, head=GENESIS.head, frontier={}, now_us=100))
    assert tip is not None
    plan = plan_append(stored(1), existing={}, head=tip.head, frontier=tip.frontier, now_us=50)
    assert plan.rows[0].recorded_us == 100


def test_the_same_event_id_twice_in_one_batch_with_other_content_is_a_conflict() -> None:
    events = stored(1)
    changed = StoredEvent(events[0].originator_id, 1, "ledger:x", b"other")
    with pytest.raises(EventConflict):
        plan_append([*events, changed], existing={}, head=GENESIS.head, frontier={}, now_us=1)
