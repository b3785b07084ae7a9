"""The Merkle tree: hashes, generated proofs, their verification, the node store.

Generated proofs are checked three ways: by ``ledger.proof.merkle``'s verifiers, by
the reference MTH (``root_of_leaves``), and by an independent verifier below
written straight from RFC 9162 §2.1.3.2 and §2.1.4.2 (the fn/sn procedure).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import IntegrityError, MalformedProof, RootMismatch
from ledger.proof.merkle import (
    EMPTY_ROOT,
    MemoryNodes,
    NodeKey,
    consistency_node_keys,
    consistency_proof,
    edge_from_nodes,
    extend_edge,
    inclusion_node_keys,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_for_append,
    root,
    root_from_inclusion_proof,
    root_node_keys,
    root_of_leaves,
    verify_consistency,
    verify_inclusion,
)

KNOWN_ANSWERS = Path(__file__).resolve().parents[1] / "testdata" / "merkle" / "rfc6962-known-answers.json"
SIZES = range(1, 65)
BIG = 4096


# -- An independent verifier: RFC 9162 §2.1.3.2 and §2.1.4.2, step by step ----


def _rfc_hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_verify_inclusion(leaf_index: int, tree_size: int, hash_: bytes, path: list[bytes], root_hash: bytes) -> bool:
    if leaf_index >= tree_size:  # 1.
        return False
    fn, sn = leaf_index, tree_size - 1  # 2.
    r = hash_  # 3.
    for p in path:  # 4.
        if sn == 0:  # 4a.
            return False
        if fn & 1 or fn == sn:  # 4b.
            r = _rfc_hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _rfc_hash_children(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c.
    return sn == 0 and r == root_hash  # 5.


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]) -> bool:
    if not path:  # 1.
        return False
    if first & (first - 1) == 0:  # 2. first is an exact power of 2
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1  # 3.
    while fn & 1:  # 4.
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5.
    for c in path[1:]:  # 6.
        if sn == 0:  # 6a.
            return False
        if fn & 1 or fn == sn:  # 6b.
            fr, sr = _rfc_hash_children(c, fr), _rfc_hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _rfc_hash_children(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c.
    return fr == first_hash and sr == second_hash and sn == 0  # 7.


# -- Fixtures ----------------------------------------------------------------


@cache
def leaves(count: int) -> tuple[bytes, ...]:
    return tuple(leaf_hash(f"event {i}".encode()) for i in range(count))


@cache
def store(size: int) -> MemoryNodes:
    """A store of exactly ``size`` leaves, appended in batches of 1, 2, 3, 5, 8, ..."""
    nodes, start, batch = MemoryNodes(), 0, (1, 2)
    while start < size:
        chunk = leaves(size)[start : start + batch[0]]
        nodes.add(nodes_for_append(start_index=start, leaf_hashes=chunk, reader=nodes))
        start, batch = start + len(chunk), (batch[1], batch[0] + batch[1])
    return nodes


@cache
def reference_root(size: int) -> bytes:
    return root_of_leaves(leaves(size))


def all_indexes() -> list[tuple[int, int]]:
    return [(index, size) for size in SIZES for index in range(size)]


def all_size_pairs() -> list[tuple[int, int]]:
    return [(size1, size2) for size2 in SIZES for size1 in range(1, size2 + 1)]


def perfect_keys(size: int) -> set[NodeKey]:
    """Every (level, index) of a complete subtree within the first ``size`` leaves."""
    return {(level, index) for level in range(size.bit_length()) for index in range(size >> level)}


def flip(value: bytes, position: int) -> bytes:
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


def rejects(verify: Callable[[], None]) -> bool:
    try:
        verify()
    except (MalformedProof, RootMismatch):
        return True
    return False


class CountingReader:
    """A NodeReader that records each batch it is asked for."""

    def __init__(self, inner: MemoryNodes) -> None:
        self.inner = inner
        self.batches: list[Sequence[NodeKey]] = []

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.batches.append(list(keys))
        return self.inner.get_nodes(keys)


# -- Hashes ------------------------------------------------------------------


def test_hashes_match_the_rfc6962_known_answers() -> None:
    known = json.loads(KNOWN_ANSWERS.read_text(encoding="utf-8"))
    inputs = [bytes.fromhex(item) for item in known["leaf_inputs"]]
    hashes = [leaf_hash(item) for item in inputs]
    for node in known["perfect_nodes"]:
        level, index = node["level"], node["index"]
        assert root_of_leaves(hashes[index << level : (index + 1) << level]).hex() == node["hash"]
    for size, expected in enumerate(known["roots_by_size"]):
        assert root_of_leaves(hashes[:size]).hex() == expected


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of_leaves([]) == EMPTY_ROOT
    assert root(0, MemoryNodes()) == EMPTY_ROOT


def test_leaf_and_node_hashes_of_the_same_bytes_differ() -> None:
    left, right = leaves(2)
    assert leaf_hash(left + right) != node_hash(left=left, right=right)


def test_node_presented_as_a_leaf_does_not_verify() -> None:
    # Without the 0x00/0x01 prefixes, "a leaf whose data is h(0)||h(1), at index 0
    # of a 2-leaf tree" would have the same root as the real 4-leaf tree.
    h = leaves(4)
    real_root = reference_root(4)
    forged = leaf_hash(h[0] + h[1])
    with pytest.raises(RootMismatch):
        verify_inclusion(index=0, size=2, leaf_hash=forged, proof=[node_hash(left=h[2], right=h[3])], root=real_root)


# -- Generation agrees with the reference and with both verifiers -------------


@pytest.mark.parametrize("size", range(0, 65))
def test_root_from_stored_nodes_matches_the_reference_mth(size: int) -> None:
    assert root(size, store(size)) == reference_root(size)


@pytest.mark.parametrize("size", SIZES)
def test_every_generated_inclusion_proof_verifies(size: int) -> None:
    for index in range(size):
        proof = inclusion_proof(index=index, size=size, reader=store(size))
        leaf = leaves(size)[index]
        assert root_from_inclusion_proof(index=index, size=size, leaf_hash=leaf, proof=proof) == reference_root(size)
        verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=proof, root=reference_root(size))
        assert rfc_verify_inclusion(index, size, leaf, proof, reference_root(size))


@pytest.mark.parametrize("size2", SIZES)
def test_every_generated_consistency_proof_verifies(size2: int) -> None:
    for size1 in range(1, size2 + 1):
        proof = consistency_proof(size1=size1, size2=size2, reader=store(size2))
        root1, root2 = reference_root(size1), reference_root(size2)
        verify_consistency(size1=size1, size2=size2, root1=root1, root2=root2, proof=proof)
        assert size1 == size2 or rfc_verify_consistency(size1, size2, root1, root2, proof)


def test_proofs_in_the_rfc9162_example_tree_are_the_documented_subtrees() -> None:
    # RFC 9162 §2.1.5: seven leaves a..f, j; g=(a,b) h=(c,d) i=(e,f) k=(g,h) l=(i,j).
    h = leaves(7)
    a, b, c, d, e, f, j = h
    g, hh, i = node_hash(left=a, right=b), node_hash(left=c, right=d), node_hash(left=e, right=f)
    k, l_ = node_hash(left=g, right=hh), node_hash(left=i, right=j)
    nodes = store(7)
    assert inclusion_proof(index=0, size=7, reader=nodes) == [b, hh, l_]
    assert inclusion_proof(index=3, size=7, reader=nodes) == [c, g, l_]
    assert inclusion_proof(index=4, size=7, reader=nodes) == [f, j, k]
    assert inclusion_proof(index=6, size=7, reader=nodes) == [i, k]
    assert consistency_proof(size1=3, size2=7, reader=nodes) == [c, d, g, l_]
    assert consistency_proof(size1=4, size2=7, reader=nodes) == [l_]
    assert consistency_proof(size1=6, size2=7, reader=nodes) == [i, j, k]


# -- Tampering is rejected -----------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_flipped_byte_in_inclusion_proof_is_rejected(size: int) -> None:
    for index in range(size):
        proof = inclusion_proof(index=index, size=size, reader=store(size))
        for position in range(len(proof)):
            tampered = [*proof]
            tampered[position] = flip(proof[position], (index + 7 * position) % 32)
            with pytest.raises(RootMismatch):
                verify_inclusion(
                    index=index,
                    size=size,
                    leaf_hash=leaves(size)[index],
                    proof=tampered,
                    root=reference_root(size),
                )


@pytest.mark.parametrize("size2", SIZES)
def test_flipped_byte_in_consistency_proof_is_rejected(size2: int) -> None:
    for size1 in range(1, size2):
        proof = consistency_proof(size1=size1, size2=size2, reader=store(size2))
        for position in range(len(proof)):
            tampered = [*proof]
            tampered[position] = flip(proof[position], (size1 + 7 * position) % 32)
            with pytest.raises(RootMismatch):
                verify_consistency(
                    size1=size1,
                    size2=size2,
                    root1=reference_root(size1),
                    root2=reference_root(size2),
                    proof=tampered,
                )


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 64])
def test_flipped_byte_in_leaf_hash_or_root_is_rejected(size: int) -> None:
    index = size // 2
    leaf, good_root = leaves(size)[index], reference_root(size)
    proof = inclusion_proof(index=index, size=size, reader=store(size))
    for position in range(32):
        with pytest.raises(RootMismatch):
            verify_inclusion(index=index, size=size, leaf_hash=flip(leaf, position), proof=proof, root=good_root)
        with pytest.raises(RootMismatch):
            verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=proof, root=flip(good_root, position))


@pytest.mark.parametrize("size1, size2", [(1, 2), (2, 5), (3, 7), (4, 7), (6, 7), (8, 64), (63, 64)])
def test_flipped_byte_in_either_consistency_root_is_rejected(size1: int, size2: int) -> None:
    proof = consistency_proof(size1=size1, size2=size2, reader=store(size2))
    root1, root2 = reference_root(size1), reference_root(size2)
    for position in range(32):
        with pytest.raises(RootMismatch):
            verify_consistency(size1=size1, size2=size2, root1=flip(root1, position), root2=root2, proof=proof)
        with pytest.raises(RootMismatch):
            verify_consistency(size1=size1, size2=size2, root1=root1, root2=flip(root2, position), proof=proof)


def test_proof_for_another_index_is_rejected() -> None:
    proof = inclusion_proof(index=2, size=8, reader=store(8))
    with pytest.raises(RootMismatch):
        verify_inclusion(index=3, size=8, leaf_hash=leaves(8)[2], proof=proof, root=reference_root(8))


def test_root_mismatch_names_the_expected_and_the_calculated_root() -> None:
    proof = inclusion_proof(index=1, size=4, reader=store(4))
    wrong = reference_root(3)
    with pytest.raises(RootMismatch) as caught:
        verify_inclusion(index=1, size=4, leaf_hash=leaves(4)[1], proof=proof, root=wrong)
    assert caught.value.expected == wrong.hex()
    assert caught.value.calculated == reference_root(4).hex()


# -- Malformed input is refused with the defect named ------------------------


@pytest.mark.parametrize("index, size", [(8, 8), (-1, 8), (0, 0), (2**64 - 1, 1)])
def test_inclusion_index_outside_the_tree_is_malformed(index: int, size: int) -> None:
    with pytest.raises(MalformedProof, match=f"leaf index {index} is outside a tree of size {size}"):
        verify_inclusion(index=index, size=size, leaf_hash=leaves(1)[0], proof=[], root=EMPTY_ROOT)


def test_inclusion_proof_of_the_wrong_length_is_malformed() -> None:
    proof = inclusion_proof(index=5, size=8, reader=store(8))
    with pytest.raises(MalformedProof, match="inclusion proof for 5 in 8 has 2 hashes, expected 3"):
        verify_inclusion(index=5, size=8, leaf_hash=leaves(8)[5], proof=proof[:2], root=reference_root(8))
    with pytest.raises(MalformedProof, match="has 4 hashes, expected 3"):
        verify_inclusion(index=5, size=8, leaf_hash=leaves(8)[5], proof=[*proof, proof[0]], root=reference_root(8))


@pytest.mark.parametrize(
    "leaf, proof_end, root_end, message",
    [
        (b"x" * 31, b"", b"", "leaf hash is 31 bytes, expected 32"),
        (b"", b"", b"\x00", "root is 33 bytes, expected 32"),
        (b"", b"\x00\x00", b"", "proof hash 1 is 34 bytes, expected 32"),
    ],
)
def test_hash_that_is_not_32_bytes_is_malformed(leaf: bytes, proof_end: bytes, root_end: bytes, message: str) -> None:
    proof = inclusion_proof(index=0, size=4, reader=store(4))
    with pytest.raises(MalformedProof, match=message):
        verify_inclusion(
            index=0,
            size=4,
            leaf_hash=leaf or leaves(4)[0],
            proof=[proof[0], proof[1] + proof_end],
            root=reference_root(4) + root_end,
        )


def test_consistency_where_size1_exceeds_size2_is_malformed() -> None:
    with pytest.raises(MalformedProof, match="size1 5 is greater than size2 4"):
        verify_consistency(size1=5, size2=4, root1=reference_root(5), root2=reference_root(4), proof=[])


@pytest.mark.parametrize("size2", [0, 1, 8])
def test_consistency_from_an_empty_tree_is_malformed(size2: int) -> None:
    with pytest.raises(MalformedProof, match="size1 is 0"):
        verify_consistency(size1=0, size2=size2, root1=EMPTY_ROOT, root2=reference_root(size2), proof=[])


def test_nonempty_proof_between_equal_sizes_is_malformed() -> None:
    with pytest.raises(MalformedProof, match=r"sizes are equal \(4\) but the proof has 1 hashes"):
        verify_consistency(size1=4, size2=4, root1=reference_root(4), root2=reference_root(4), proof=[EMPTY_ROOT])


def test_equal_sizes_with_different_roots_mismatch() -> None:
    with pytest.raises(RootMismatch):
        verify_consistency(size1=4, size2=4, root1=reference_root(4), root2=reference_root(3), proof=[])


def test_empty_proof_between_different_sizes_is_malformed() -> None:
    with pytest.raises(MalformedProof, match="consistency proof from 3 to 7 has 0 hashes, expected 4"):
        verify_consistency(size1=3, size2=7, root1=reference_root(3), root2=reference_root(7), proof=[])


@pytest.mark.parametrize("field", ["root1", "root2"])
def test_consistency_root_that_is_not_32_bytes_is_malformed(field: str) -> None:
    roots = {"root1": reference_root(3), "root2": reference_root(7)}
    roots[field] = roots[field][:16]
    with pytest.raises(MalformedProof, match=f"{field} is 16 bytes, expected 32"):
        verify_consistency(size1=3, size2=7, proof=consistency_proof(size1=3, size2=7, reader=store(7)), **roots)


# -- Differential: ledger.proof.merkle against the RFC 9162 procedure -------------------


@cache
def big_store() -> MemoryNodes:
    return store(BIG)


def tamper(proof: list[bytes], how: int) -> list[bytes]:
    """One of several changes; 0, or a change the proof is too short for, leaves it as it is."""
    if how == 1 and proof:
        return proof[:-1]
    if how == 2:
        return [*proof, EMPTY_ROOT]
    if how == 3 and len(proof) > 1:
        return [proof[1], proof[0], *proof[2:]]
    if how == 4 and proof:
        return [*proof[:-1], flip(proof[-1], 0)]
    return proof


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=BIG),
    data=st.data(),
    how=st.integers(min_value=0, max_value=4),
    shift=st.integers(min_value=-2, max_value=2),
)
def test_inclusion_verifier_agrees_with_the_rfc9162_procedure(
    size: int, data: st.DataObject, how: int, shift: int
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    genuine = inclusion_proof(index=index, size=size, reader=big_store())
    proof = tamper(genuine, how)
    claimed = min(max(index + shift, 0), BIG - 1)  # the proof may be for another index
    leaf, root_ = leaves(BIG)[claimed], reference_root(size)
    ours = not rejects(lambda: verify_inclusion(index=claimed, size=size, leaf_hash=leaf, proof=proof, root=root_))
    assert ours == rfc_verify_inclusion(claimed, size, leaf, proof, root_)
    assert ours == (proof == genuine and claimed == index)


@settings(max_examples=150, deadline=None)
@given(
    size2=st.integers(min_value=2, max_value=BIG),
    data=st.data(),
    how=st.integers(min_value=0, max_value=4),
    shift=st.integers(min_value=-2, max_value=2),
)
def test_consistency_verifier_agrees_with_the_rfc9162_procedure(
    size2: int, data: st.DataObject, how: int, shift: int
) -> None:
    size1 = data.draw(st.integers(min_value=1, max_value=size2 - 1))
    genuine = consistency_proof(size1=size1, size2=size2, reader=big_store())
    proof = tamper(genuine, how)
    claimed = min(max(size1 + shift, 1), size2 - 1)  # the proof may be for another size1
    root1, root2 = reference_root(claimed), reference_root(size2)
    ours = not rejects(lambda: verify_consistency(size1=claimed, size2=size2, root1=root1, root2=root2, proof=proof))
    assert ours == rfc_verify_consistency(claimed, size2, root1, root2, proof)
    assert ours == (proof == genuine and claimed == size1)


# -- The node store ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12))
def test_appending_in_any_batches_stores_every_perfect_node_once(batches: list[int]) -> None:
    size = sum(batches)
    nodes, start, seen = MemoryNodes(), 0, set[NodeKey]()
    for count in batches:
        new = nodes_for_append(start_index=start, leaf_hashes=leaves(size)[start : start + count], reader=nodes)
        keys = {(level, index) for level, index, _ in new}
        assert len(keys) == len(new) and not keys & seen
        seen |= keys
        nodes.add(new)
        start += count
    assert seen == perfect_keys(size)
    for level, index in perfect_keys(size):
        expected = root_of_leaves(leaves(size)[index << level : (index + 1) << level])
        assert nodes.get_nodes([(level, index)])[(level, index)] == expected


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=12))
def test_extending_the_right_edge_completes_the_same_nodes_as_reading_them(batches: list[int]) -> None:
    size = sum(batches)
    nodes, start, edge = MemoryNodes(), 0, edge_from_nodes(0, {})
    for count in batches:
        chunk = leaves(size)[start : start + count]
        expected = nodes_for_append(start_index=start, leaf_hashes=chunk, reader=nodes)
        new, edge = extend_edge(edge, size=start, leaf_hashes=chunk)
        assert sorted(new) == sorted(node for node in expected if node[0] > 0)
        nodes.add(expected)
        start += count
        assert edge == edge_from_nodes(start, nodes.get_nodes(list(perfect_keys(start))))
    assert _fold_edge(edge) == reference_root(size)


def _fold_edge(edge: tuple[tuple[int, bytes], ...]) -> bytes:
    if not edge:
        return EMPTY_ROOT
    result = edge[-1][1]
    for _, left in reversed(edge[:-1]):
        result = node_hash(left=left, right=result)
    return result


def test_an_edge_that_does_not_match_the_size_is_refused() -> None:
    edge = edge_from_nodes(3, store(3).get_nodes([(1, 0), (0, 2)]))
    assert [level for level, _ in edge] == [1, 0]
    with pytest.raises(ValueError, match="one subtree per set bit of size 4"):
        extend_edge(edge, size=4, leaf_hashes=leaves(5)[4:])
    with pytest.raises(IntegrityError, match=r"lacks perfect node \(level 1, index 0\)"):
        edge_from_nodes(3, store(3).get_nodes([(0, 2)]))
    with pytest.raises(IntegrityError, match=r"holds 5 bytes for node \(level 0, index 2\)"):
        edge_from_nodes(3, {(1, 0): bytes(32), (0, 2): b"short"})


@pytest.mark.parametrize(
    "end, earlier",
    [(12, [(0, 10), (1, 4)]), (16, [(0, 10), (1, 4), (3, 0)]), (13, [(0, 10), (1, 4)])],
)
def test_appending_reads_the_earlier_border_nodes_it_completes_in_one_batch(end: int, earlier: list[NodeKey]) -> None:
    # 11 leaves = perfect nodes (3, 0), (1, 4), (0, 10): the old right border.
    reader = CountingReader(store(11))
    new = nodes_for_append(start_index=11, leaf_hashes=leaves(end)[11:end], reader=reader)
    assert reader.batches == [earlier]
    completed = {(level, index): h for level, index, h in new}
    assert completed.keys() == perfect_keys(end) - perfect_keys(11)
    assert completed == store(end).get_nodes(list(completed))


def test_appending_nothing_stores_nothing() -> None:
    assert nodes_for_append(start_index=5, leaf_hashes=[], reader=store(5)) == []


@pytest.mark.parametrize("size", [1, 2, 3, 1000, BIG - 1, BIG])
def test_roots_and_proofs_read_a_logarithmic_number_of_nodes_in_one_batch(size: int) -> None:
    limit = 2 * size.bit_length() + 1
    calls: list[Callable[[CountingReader], object]] = [
        lambda reader: root(size, reader),
        lambda reader: inclusion_proof(index=size // 3, size=size, reader=reader),
        lambda reader: inclusion_proof(index=size - 1, size=size, reader=reader),
        lambda reader: consistency_proof(size1=max(size // 3, 1), size2=size, reader=reader),
    ]
    for call in calls:
        reader = CountingReader(big_store())
        call(reader)
        assert len(reader.batches) <= 1
        assert all(len(batch) <= limit for batch in reader.batches)


def test_planning_lists_exactly_the_perfect_nodes_to_read() -> None:
    assert root_node_keys(13) == [(3, 0), (2, 2), (0, 12)]
    assert root_node_keys(0) == []
    assert inclusion_node_keys(index=5, size=8) == [(0, 4), (1, 3), (2, 0)]
    assert inclusion_node_keys(index=0, size=7) == [(0, 1), (1, 1), (1, 2), (0, 6)]
    assert consistency_node_keys(size1=3, size2=7) == [(0, 2), (0, 3), (1, 0), (1, 2), (0, 6)]
    assert consistency_node_keys(size1=4, size2=4) == []


def test_missing_node_in_the_store_is_an_integrity_error() -> None:
    every = nodes_for_append(start_index=0, leaf_hashes=leaves(8), reader=MemoryNodes())
    holed = MemoryNodes(node for node in every if node[:2] != (0, 3))
    with pytest.raises(IntegrityError, match=r"lacks perfect node \(level 0, index 3\)"):
        inclusion_proof(index=2, size=8, reader=holed)


def test_stored_node_that_is_not_32_bytes_is_an_integrity_error() -> None:
    short = MemoryNodes([(0, 0, b"short")])
    with pytest.raises(IntegrityError, match=r"holds 5 bytes for node \(level 0, index 0\)"):
        root(1, short)


def test_memory_store_refuses_to_change_a_perfect_node() -> None:
    nodes = MemoryNodes([(0, 0, leaves(1)[0])])
    nodes.add([(0, 0, leaves(1)[0])])  # the same node again is fine
    with pytest.raises(IntegrityError, match=r"\(level 0, index 0\) would change"):
        nodes.add([(0, 0, EMPTY_ROOT)])


@pytest.mark.parametrize(
    "request_, message",
    [
        (
            lambda: inclusion_proof(index=8, size=8, reader=store(8)),
            "leaf index 8 is outside a tree of size 8",
        ),
        (lambda: consistency_proof(size1=0, size2=8, reader=store(8)), "from size 0 to size 8"),
        (lambda: consistency_proof(size1=9, size2=8, reader=store(8)), "from size 9 to size 8"),
        (lambda: root(-1, store(8)), "tree size -1 is negative"),
        (lambda: nodes_for_append(start_index=-1, leaf_hashes=[], reader=store(8)), "start index -1"),
        (
            lambda: nodes_for_append(start_index=8, leaf_hashes=[b"x"], reader=store(8)),
            "leaf hash 8 is 1 bytes",
        ),
    ],
)
def test_generation_refuses_impossible_requests(request_: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request_()
