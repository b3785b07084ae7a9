"""The verifier's compact range folds leaves to the same root as RFC 9162's MTH, at every size."""

from __future__ import annotations

import pytest

from ledger.proof import merkle
from ledger.proof.merkle import CompactRange

LEAVES = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(70)]


def test_pushing_leaves_one_at_a_time_gives_the_rfc_root_at_every_size() -> None:
    edge = CompactRange()
    assert edge.root() == merkle.EMPTY_ROOT
    for size, leaf in enumerate(LEAVES, start=1):
        edge.push(leaf)
        assert edge.root() == merkle.root_of_leaves(LEAVES[:size]), size


def test_extending_in_uneven_batches_gives_the_same_root() -> None:
    edge, start = CompactRange(), 0
    for batch in (1, 2, 5, 8, 13, 41):
        edge.extend(LEAVES[start : start + batch])
        start += batch
        assert edge.root() == merkle.root_of_leaves(LEAVES[:start])


def test_a_range_resumed_from_stored_subtrees_goes_on_to_the_right_root() -> None:
    size = 45
    stored = merkle.nodes_for_append(start_index=0, leaf_hashes=LEAVES[:size], reader=merkle.MemoryNodes())
    edge = CompactRange.from_frontier(size, merkle.MemoryNodes(stored).get_nodes(merkle.root_node_keys(size)))
    assert edge.root() == merkle.root_of_leaves(LEAVES[:size])
    edge.extend(LEAVES[size:])
    assert edge.root() == merkle.root_of_leaves(LEAVES)


@pytest.mark.parametrize(("start", "count"), [(0, 70), (32, 38), (64, 6), (48, 16), (40, 8), (44, 3)])
def test_a_range_folded_on_its_own_joins_where_its_subtrees_are_perfect_nodes(start: int, count: int) -> None:
    before, after = CompactRange(), CompactRange()
    before.extend(LEAVES[:start])
    after.extend(LEAVES[start : start + count])
    assert before.joins(after)
    assert before.joined(after).root() == merkle.root_of_leaves(LEAVES[: start + count])
    assert before.joined(after).size == start + count


@pytest.mark.parametrize(("start", "count"), [(1, 2), (3, 4), (16, 32), (40, 16)])
def test_a_range_that_would_straddle_a_subtree_does_not_join(start: int, count: int) -> None:
    before, after = CompactRange(), CompactRange()
    before.extend(LEAVES[:start])
    after.extend(LEAVES[start : start + count])
    assert not before.joins(after)
    with pytest.raises(ValueError, match="cannot follow"):
        before.joined(after)
