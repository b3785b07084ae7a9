"""The Merkle tree of RFC 9162 (RFC 6962's, SHA-256): hashes, proof checks, proofs.

Hashes (RFC 9162 §2.1.1); the prefix bytes keep a leaf from passing for a node::

    EMPTY_ROOT         = SHA-256()
    leaf_hash(d)       = SHA-256(0x00 || d)
    node_hash(l, r)    = SHA-256(0x01 || l || r)
    MTH(D[0:n])        = node_hash(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of 2 < n

Verifying (``verify_inclusion``, ``verify_consistency``) computes a root from
the proof first and only then compares it, as transparency-dev/merkle's
``proof/verify.go`` does. Input that cannot be a proof raises ``MalformedProof``
naming the defect; a proof that computes another root raises ``RootMismatch``.

Generating reads *perfect nodes*: node ``(level, index)`` is the root of the
complete subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``;
level 0 holds the leaf hashes. A perfect node never changes once its leaves
exist, so a store inserts them once (``nodes_for_append``) and never updates
them. Every root or proof is then assembled from O(log n) perfect nodes read in
one batch: ``root_node_keys``, ``inclusion_node_keys`` and
``consistency_node_keys`` plan the read; ``root``, ``inclusion_proof`` and
``consistency_proof`` do it. Generation refuses impossible requests (an index
past the tree, a shrinking tree) with ``ValueError``, like ``ledger.proof.chain``,
and a store that lacks a planned node with ``IntegrityError``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ledger.errors import IntegrityError, MalformedProof, RootMismatch

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""A perfect node's ``(level, index)``."""

Node = tuple[int, int, bytes]
"""A perfect node's ``(level, index, hash)``, as a store inserts it."""

_Range = tuple[int, int]  # leaves [begin, end) of an RFC 9162 subtree


# -- Hashes ------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(*, left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_of_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1: the root over all of ``leaf_hashes``.

    The reference the rest of this module is tested against; O(n) hashes.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = _split(len(leaf_hashes))
    return node_hash(left=root_of_leaves(leaf_hashes[:k]), right=root_of_leaves(leaf_hashes[k:]))


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (for n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _trailing_zeros(n: int) -> int:
    """How many times 2 divides ``n`` (for n > 0)."""
    return (n & -n).bit_length() - 1


# -- Verifying ---------------------------------------------------------------


def verify_inclusion(*, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the ``size``-leaf tree with ``root``.

    Raises MalformedProof for input that cannot be such a proof and RootMismatch
    when the proof computes a different root.
    """
    # 1. Refuse what cannot be a proof (root_from_inclusion_proof checks the rest).
    _check_hash("root", root)
    # 2. Compute the root the proof leads to.
    calculated = root_from_inclusion_proof(index=index, size=size, leaf_hash=leaf_hash, proof=proof)
    # 3. Compare it with the root given.
    _compare(expected=root, calculated=calculated)


def root_from_inclusion_proof(*, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` yields for ``leaf_hash`` at ``index`` in a ``size``-leaf tree.

    Raises MalformedProof if ``index`` is not in [0, size), a hash is not 32
    bytes or the proof does not have exactly the hashes (index, size) needs.
    """
    if not 0 <= index < size:
        raise MalformedProof(f"leaf index {index} is outside a tree of size {size}")
    _check_hash("leaf hash", leaf_hash)
    inner, border = _decompose(index, size)
    _check_proof(proof, expected=inner + border, what=f"inclusion proof for {index} in {size}")
    seed = _chain_inner(leaf_hash, proof[:inner], index=index)
    return _chain_border(seed, proof[inner:])


def verify_consistency(*, size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the ``size1``-leaf tree with ``root1`` is a prefix of the ``size2``-leaf one.

    Raises MalformedProof for input that cannot be such a proof (size1 of 0
    included: every tree extends the empty one, so there is nothing to prove)
    and RootMismatch when the proof computes a different root1 or root2. Equal
    sizes need an empty proof and byte-identical roots; nothing is computed then.
    """
    # 1. Refuse what cannot be a proof; equal sizes need no computing.
    _check_sizes(size1=size1, size2=size2, proof=proof)
    if size1 == size2:  # as in transparency-dev/merkle, whose vectors accept any equal bytes here
        _compare(expected=root2, calculated=root1)
        return
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    # 2. Compute both roots the proof leads to.
    calculated1, calculated2 = _roots_from_consistency_proof(size1=size1, size2=size2, root1=root1, proof=proof)
    # 3. Compare each with the root given.
    _compare(expected=root1, calculated=calculated1)
    _compare(expected=root2, calculated=calculated2)


def _check_sizes(*, size1: int, size2: int, proof: Sequence[bytes]) -> None:
    if size1 > size2:
        raise MalformedProof(f"size1 {size1} is greater than size2 {size2}: a log cannot shrink")
    if size1 < 1:
        raise MalformedProof(f"size1 is {size1}: consistency with an empty tree proves nothing")
    if size1 == size2 and proof:
        raise MalformedProof(f"sizes are equal ({size1}) but the proof has {len(proof)} hashes")


def _roots_from_consistency_proof(
    *, size1: int, size2: int, root1: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The (root1, root2) that ``proof`` yields, for 0 < size1 < size2.

    The proof is the tail of leaf size1-1's inclusion proof in size2, above the
    largest perfect subtree that ends at size1; that subtree's hash comes first
    unless it is the whole first tree (size1 a power of two), whose root is given.
    """
    inner, border = _decompose(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    inner -= shift
    seeded = size1 == 1 << shift
    _check_proof(
        proof,
        expected=inner + border + (0 if seeded else 1),
        what=f"consistency proof from {size1} to {size2}",
    )
    seed, path = (root1, proof) if seeded else (proof[0], proof[1:])
    mask = (size1 - 1) >> shift
    calculated1 = _chain_border(_chain_inner_right(seed, path[:inner], index=mask), path[inner:])
    calculated2 = _chain_border(_chain_inner(seed, path[:inner], index=mask), path[inner:])
    return calculated1, calculated2


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split leaf ``index``'s proof in ``size`` where its path leaves the right border.

    Returns (inner, border): hashes below that point, where the leaf's path and
    leaf size-1's diverge, and the left siblings above it on the border.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _chain_inner(seed: bytes, hashes: Sequence[bytes], *, index: int) -> bytes:
    """Hash ``seed`` (node ``index`` of its level) up with its siblings, lowest first."""
    for level, sibling in enumerate(hashes):
        if (index >> level) & 1:
            seed = node_hash(left=sibling, right=seed)
        else:
            seed = node_hash(left=seed, right=sibling)
    return seed


def _chain_inner_right(seed: bytes, hashes: Sequence[bytes], *, index: int) -> bytes:
    """Like ``_chain_inner`` with only the left siblings: the subtree as it was then."""
    for level, sibling in enumerate(hashes):
        if (index >> level) & 1:
            seed = node_hash(left=sibling, right=seed)
    return seed


def _chain_border(seed: bytes, hashes: Sequence[bytes]) -> bytes:
    """Hash ``seed`` up the right border, where every sibling is on the left."""
    for sibling in hashes:
        seed = node_hash(left=sibling, right=seed)
    return seed


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise MalformedProof(f"{name} is {len(value)} bytes, expected {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes], *, expected: int, what: str) -> None:
    if len(proof) != expected:
        raise MalformedProof(f"{what} has {len(proof)} hashes, expected {expected}")
    for position, value in enumerate(proof):
        _check_hash(f"proof hash {position}", value)


def _compare(*, expected: bytes, calculated: bytes) -> None:
    if not hmac.compare_digest(expected, calculated):
        raise RootMismatch(expected=expected.hex(), calculated=calculated.hex())


# -- Generating: planning which perfect nodes to read ------------------------


class NodeReader(Protocol):
    """Where perfect nodes are stored: a database table, or ``MemoryNodes``."""

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The hashes of the nodes at ``keys`` (level, index), read in one batch.

        Nodes it does not hold are left out; the caller checks for them.
        """
        ...


def root_node_keys(size: int) -> list[NodeKey]:
    """The perfect nodes the root of the ``size``-leaf tree is folded from (none for 0)."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return _perfect_keys((0, size))


def inclusion_node_keys(*, index: int, size: int) -> list[NodeKey]:
    """The perfect nodes an inclusion proof for leaf ``index`` in ``size`` is built from."""
    return _keys_of(_inclusion_ranges(index=index, size=size))


def consistency_node_keys(*, size1: int, size2: int) -> list[NodeKey]:
    """The perfect nodes a consistency proof from ``size1`` to ``size2`` is built from."""
    return _keys_of(_consistency_ranges(size1=size1, size2=size2))


def _inclusion_ranges(*, index: int, size: int) -> list[_Range]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]): the subtrees it hashes, lowest first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[_Range] = []
    begin, end = 0, size
    while end - begin > 1:
        middle = begin + _split(end - begin)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
    return ranges[::-1]


def _consistency_ranges(*, size1: int, size2: int) -> list[_Range]:
    """RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]): the subtrees it hashes, lowest first.

    SUBPROOF's flag b is ``begin == 0``: the first tree's own root needs no hash.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    ranges: list[_Range] = []
    begin, end = 0, size2
    while size1 < end:
        middle = begin + _split(end - begin)
        if size1 <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
    if begin > 0:
        ranges.append((begin, end))
    return ranges[::-1]


def _perfect_keys(leaves: _Range) -> list[NodeKey]:
    """Leaves [begin, end) as perfect nodes, each the largest aligned one that fits."""
    begin, end = leaves
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, _trailing_zeros(begin))
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def _keys_of(ranges: Sequence[_Range]) -> list[NodeKey]:
    return [key for leaves in ranges for key in _perfect_keys(leaves)]


# -- Generating: assembling roots and proofs ---------------------------------


def root(size: int, reader: NodeReader) -> bytes:
    """The root of the tree of the first ``size`` leaves, from one batch read."""
    if size == 0:
        return EMPTY_ROOT
    return _subtree_hashes([(0, size)], reader, keys=root_node_keys(size))[0]


def inclusion_proof(*, index: int, size: int, reader: NodeReader) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the ``size``-leaf tree."""
    ranges = _inclusion_ranges(index=index, size=size)
    return _subtree_hashes(ranges, reader, keys=_keys_of(ranges))


def consistency_proof(*, size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """The RFC 9162 consistency proof from the ``size1``-leaf tree to the ``size2``-leaf one."""
    ranges = _consistency_ranges(size1=size1, size2=size2)
    return _subtree_hashes(ranges, reader, keys=_keys_of(ranges))


def _subtree_hashes(ranges: Sequence[_Range], reader: NodeReader, *, keys: Sequence[NodeKey]) -> list[bytes]:
    """MTH of each range, from the perfect nodes at ``keys`` read in one batch."""
    nodes = _read(reader, keys)
    return [_fold_right([nodes[key] for key in _perfect_keys(leaves)]) for leaves in ranges]


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """The MTH of an RFC subtree from its perfect nodes, largest (leftmost) first."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left=left, right=result)
    return result


def _read(reader: NodeReader, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
    """Read ``keys`` in one batch; a node that is missing or not 32 bytes is an error."""
    if not keys:
        return {}
    return _checked(reader.get_nodes(keys), keys)


def _checked(nodes: Mapping[NodeKey, bytes], keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
    """``nodes``, once every one of ``keys`` is there with 32 bytes (else IntegrityError)."""
    for level, index in keys:
        found = nodes.get((level, index))
        if found is None:
            raise IntegrityError(f"node store lacks perfect node (level {level}, index {index})")
        if len(found) != HASH_SIZE:
            raise IntegrityError(f"node store holds {len(found)} bytes for node (level {level}, index {index})")
    return nodes


# -- Storing -----------------------------------------------------------------


def nodes_for_append(*, start_index: int, leaf_hashes: Sequence[bytes], reader: NodeReader) -> list[Node]:
    """Every perfect node that appending ``leaf_hashes`` at ``start_index`` completes.

    Level-0 nodes (the leaves) included, lowest level first. The earlier left
    siblings it hashes with are read from ``reader`` in one batch.
    """
    _check_leaves(start_index=start_index, leaf_hashes=leaf_hashes)
    end = start_index + len(leaf_hashes)
    earlier = _read(reader, _append_node_keys(start_index=start_index, end=end))
    new: list[Node] = []
    level, first, row = 0, start_index, list(leaf_hashes)
    while row:
        new.extend((level, first + offset, hash_) for offset, hash_ in enumerate(row))
        if first % 2:  # the first new node is a right child: bring its left sibling
            row.insert(0, earlier[(level, first - 1)])
            first -= 1
        row = [node_hash(left=row[i], right=row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level, first = level + 1, first // 2
    return new


def _append_node_keys(*, start_index: int, end: int) -> list[NodeKey]:
    """The earlier nodes on the old right border whose parent the new leaves complete."""
    return [
        (level, (start_index >> level) - 1)
        for level in range(start_index.bit_length())
        if (start_index >> level) & 1 and end >> level > start_index >> level
    ]


def _check_leaves(*, start_index: int, leaf_hashes: Sequence[bytes]) -> None:
    if start_index < 0:
        raise ValueError(f"start index {start_index} is negative")
    for offset, value in enumerate(leaf_hashes):
        if len(value) != HASH_SIZE:
            raise ValueError(f"leaf hash {start_index + offset} is {len(value)} bytes")


Edge = tuple[tuple[int, bytes], ...]
"""A tree's right edge as a value: its perfect subtrees' ``(level, hash)``, one per set bit of its size, highest first.

The frozen form of a ``CompactRange`` (``CompactRange.edge``), which a writer
keeps between appends.
"""


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect nodes on the right edge of the ``size``-leaf tree, one per set bit of ``size``, highest first.

    They are all that appending to the tree, or folding its root, needs from the past.
    """
    return [(level, (size >> level) - 1) for level in reversed(range(size.bit_length())) if size >> level & 1]


class CompactRange:
    """The right edge of an RFC 6962 tree as leaves arrive: one perfect subtree per set bit of the size.

    The one compact range of the ledger: the append planner extends it and
    stores the nodes it completes (``extend_with_nodes``), the verifier folds
    recomputed leaves into it (``extend``, ``joined``), and the checkpoint
    signer resumes it from stored nodes (``from_frontier``).
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []  # the perfect subtrees, largest (leftmost) first

    @classmethod
    def from_frontier(cls, size: int, nodes: Mapping[NodeKey, bytes]) -> CompactRange:
        """The right edge of a tree of ``size`` leaves, from its perfect nodes at ``frontier_keys(size)``.

        A node that is missing or not 32 bytes is an IntegrityError.
        """
        keys = frontier_keys(size)
        _checked(nodes, keys)
        edge = cls()
        edge._hashes, edge._size = [nodes[key] for key in keys], size
        return edge

    @classmethod
    def from_edge(cls, edge: Edge, *, size: int) -> CompactRange:
        """The range an ``Edge`` froze; ValueError unless it holds one subtree per set bit of ``size``."""
        if [level for level, _ in edge] != [level for level, _ in frontier_keys(size)]:
            raise ValueError(f"the edge does not hold one subtree per set bit of size {size}")
        tree = cls()
        tree._hashes, tree._size = [node for _, node in edge], size
        return tree

    @property
    def edge(self) -> Edge:
        """The range as a value: ``(level, hash)`` of each perfect subtree, highest first."""
        return tuple((level, node) for (level, _), node in zip(frontier_keys(self._size), self._hashes, strict=True))

    @property
    def size(self) -> int:
        """How many leaves the range holds."""
        return self._size

    def push(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.extend((leaf,))

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes, in order.

        ``_add`` for leaves, written out: the verifier folds every leaf of the log here.
        """
        hashes, size = self._hashes, self._size
        for leaf in leaves:
            node, height = leaf, 0
            while size >> height & 1:  # a subtree of this height ends here: they merge
                node = node_hash(left=hashes.pop(), right=node)
                height += 1
            hashes.append(node)
            size += 1
        self._size = size

    def extend_with_nodes(self, leaf_hashes: Sequence[bytes]) -> list[Node]:
        """Append leaf hashes (each checked to be 32 bytes); return the perfect nodes above them it completes.

        Those are the nodes a store inserts besides the leaves (levels 1 and up),
        the same ones as ``nodes_for_append``: the range holds every left
        sibling they need, so nothing is read.
        """
        _check_leaves(start_index=self._size, leaf_hashes=leaf_hashes)
        new: list[Node] = []
        for leaf in leaf_hashes:
            self._add(0, leaf, new)
        return new

    def joins(self, after: CompactRange) -> bool:
        """Whether ``after``, a range folded on its own, can follow this one as whole subtrees.

        It can when this range's size is a multiple of ``after``'s largest subtree:
        every subtree of ``after`` then sits where RFC 6962 puts a perfect node.
        """
        return after._size == 0 or self._size % (1 << (after._size.bit_length() - 1)) == 0

    def joined(self, after: CompactRange) -> CompactRange:
        """A new range: this one followed by ``after`` (only where ``joins`` says it can be)."""
        if not self.joins(after):
            raise ValueError(f"a range of {after._size} leaves cannot follow one of {self._size} as whole subtrees")
        edge = CompactRange()
        edge._hashes, edge._size = list(self._hashes), self._size
        for (level, _), node in zip(frontier_keys(after._size), after._hashes, strict=True):
            edge._add(level, node)
        return edge

    def _add(self, level: int, node: bytes, new: list[Node] | None = None) -> None:
        """Append a perfect subtree of 2**level leaves, at a size that is a multiple of 2**level.

        Each subtree it completes (a merge with its left sibling) goes to ``new`` as ``(level, index, hash)``.
        """
        hashes, size, height = self._hashes, self._size, level
        while size >> height & 1:  # a subtree of this height ends here: they merge
            node = node_hash(left=hashes.pop(), right=node)
            height += 1
            if new is not None:
                new.append((height, size >> height, node))
        hashes.append(node)
        self._size = size + (1 << level)

    def root(self) -> bytes:
        """The root of the tree of every leaf pushed so far."""
        if not self._hashes:
            return EMPTY_ROOT
        return _fold_right(self._hashes)


def edge_from_nodes(size: int, nodes: Mapping[NodeKey, bytes]) -> Edge:
    """The right edge of the ``size``-leaf tree, from its perfect nodes (IntegrityError if one is missing)."""
    return CompactRange.from_frontier(size, nodes).edge


def extend_edge(edge: Edge, *, size: int, leaf_hashes: Sequence[bytes]) -> tuple[list[Node], Edge]:
    """Append ``leaf_hashes`` to the ``size``-leaf tree whose right edge is ``edge``.

    Returns the perfect nodes above the leaves that the append completes (the
    same ones as ``nodes_for_append``, levels 1 and up) and the new right edge.
    Nothing is read: the edge holds every left sibling the new leaves need.
    """
    tree = CompactRange.from_edge(edge, size=size)
    new = tree.extend_with_nodes(leaf_hashes)
    return new, tree.edge


class MemoryNodes:
    """Perfect nodes in a dict: the NodeReader of tests and offline tools."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self.add(nodes)

    def add(self, nodes: Iterable[Node]) -> None:
        """Store ``nodes``; storing one again is a no-op, changing one an IntegrityError."""
        for level, index, hash_ in nodes:
            held = self._nodes.setdefault((level, index), hash_)
            if held != hash_:
                raise IntegrityError(f"perfect node (level {level}, index {index}) would change")

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The stored hashes among ``keys``."""
        return {key: self._nodes[key] for key in keys if key in self._nodes}

    def __len__(self) -> int:
        """How many perfect nodes are stored."""
        return len(self._nodes)
