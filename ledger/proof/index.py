"""The completeness index: for each key a legal question starts from, the seqs of every event that names it.

Which keys an event names (``index_keys``; docs/auditing.md states the same rules):
``incident:<data.incident_id>``, ``output:<data.output_id>``, ``output:<each of
data.output_ids>``, ``tool:<data.tool_id>``, ``clinician:<data.clinician_id>``,
for string values only, and ``subject:<token>`` for the subject token of the field
that holds a sealed event's ciphertext (ledger.proof.sealed): for a patient, the
lookup token of ``patient:<id>``, under which every event naming the patient is
sealed. Every entry of the log is read: the index of the first N entries is a
function of those N entries' bytes alone.

The map, for the first N entries (a bucketed Merkle map, every hash domain-separated):

  key_hash    = SHA-256(0x10 || UTF-8 key)
  seqs_hash   = a chain over the key's seqs in order: h0 = 32 zero bytes,
                h_i = SHA-256(0x11 || h_(i-1) || u64be(seq_i))
  leaf        = key_hash || u64be(count) || seqs_hash                  (72 bytes)
  bucket      = the first 12 bits of key_hash (4096 buckets)
  bucket_hash = SHA-256(0x12 || the bucket's leaves, sorted by key_hash)
  node        = SHA-256(0x13 || left || right): a perfect tree of depth 12 over the buckets
  root        = that tree's root

A proof for a key (``IndexProof``) carries every leaf of the key's bucket and the
12 sibling hashes up to the root. It shows the key's full list of seqs (its leaf),
or, when no leaf of the bucket has the key's hash, that no event names the key:
a proof of absence is the same proof with an empty list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ledger.errors import IntegrityError, MalformedProof
from ledger.proof.sealed import CIPHERTEXT_FIELD

DEPTH: Final = 12
BUCKETS: Final = 1 << DEPTH
LEAF_SIZE: Final = 72
_ZERO: Final = bytes(32)
_MAX_U64: Final = 2**64 - 1
_SCALAR_KEYS: Final = (("incident_id", "incident:"), ("output_id", "output:"), ("tool_id", "tool:"),
                       ("clinician_id", "clinician:"))  # fmt: skip


def index_keys(data: Mapping[str, Any]) -> list[str]:
    """The keys an event's ``data`` names, sorted, each once."""
    return sorted(key_set(data))


def key_set(data: Mapping[str, Any]) -> set[str]:
    """The keys an event's ``data`` names (``index_keys`` unsorted: what a catch-up needs, once per entry).

    Written out rather than composed: the catch-up runs it on every entry of the log, and
    ``sealed_subject`` called on every value cost as much as the rest of a catch-up's reading.
    """
    keys = set()
    for name, prefix in _SCALAR_KEYS:
        value = data.get(name)
        if isinstance(value, str):
            keys.add(prefix + value)
    outputs = data.get("output_ids")
    if isinstance(outputs, list):
        keys.update(["output:" + o for o in outputs if isinstance(o, str)])
    for value in data.values():
        if isinstance(value, dict) and len(value) == 3 and value.keys() == CIPHERTEXT_FIELD:
            subject = value["subject"]
            if isinstance(subject, str):
                keys.add("subject:" + subject)
    return keys


def key_hash(key: str) -> bytes:
    """Where a key lives in the map: SHA-256(0x10 || key)."""
    return hashlib.sha256(b"\x10" + key.encode()).digest()


def next_seqs_hash(previous: bytes, seq: int) -> bytes:
    """The seqs chain one seq further: SHA-256(0x11 || previous || u64be(seq))."""
    return hashlib.sha256(b"\x11" + previous + seq.to_bytes(8, "big")).digest()


def seqs_hash(seqs: Iterable[int]) -> bytes:
    """The chain over a whole list of seqs (32 zero bytes for none)."""
    digest = _ZERO
    for seq in seqs:
        digest = next_seqs_hash(digest, seq)
    return digest


def bucket_of(hashed_key: bytes) -> int:
    """The bucket of a key hash: its first 12 bits."""
    return int.from_bytes(hashed_key[:2], "big") >> (16 - DEPTH)


@dataclass(frozen=True, slots=True)
class IndexLeaf:
    """One key's entry in the map: its hash, how many events name it, the chain over their seqs."""

    key_hash: bytes
    count: int
    seqs_hash: bytes

    def to_bytes(self) -> bytes:
        """key_hash || u64be(count) || seqs_hash."""
        return self.key_hash + self.count.to_bytes(8, "big") + self.seqs_hash

    @classmethod
    def from_bytes(cls, raw: bytes) -> IndexLeaf:
        """A leaf from its 72 bytes (MalformedProof otherwise)."""
        if len(raw) != LEAF_SIZE:
            raise MalformedProof(f"an index leaf is {LEAF_SIZE} bytes, not {len(raw)}")
        return cls(raw[:32], int.from_bytes(raw[32:40], "big"), raw[40:])


def bucket_hash(leaves: Sequence[IndexLeaf]) -> bytes:
    """SHA-256(0x12 || leaves sorted by key_hash)."""
    ordered = sorted(leaves, key=lambda leaf: leaf.key_hash)
    return hashlib.sha256(b"\x12" + b"".join(leaf.to_bytes() for leaf in ordered)).digest()


EMPTY_BUCKET: Final = bucket_hash(())


def node_hash(*, left: bytes, right: bytes) -> bytes:
    """SHA-256(0x13 || left || right)."""
    return hashlib.sha256(b"\x13" + left + right).digest()


def tree_levels(buckets: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree over the 4096 bucket hashes, the buckets first and the root last."""
    if len(buckets) != BUCKETS:
        raise ValueError(f"the index has {BUCKETS} buckets, not {len(buckets)}")
    levels = [list(buckets)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(left=below[i], right=below[i + 1]) for i in range(0, len(below), 2)])
    return levels


def path_of(levels: Sequence[Sequence[bytes]], bucket: int) -> list[bytes]:
    """The 12 sibling hashes from a bucket up to the root."""
    return [levels[depth][(bucket >> depth) ^ 1] for depth in range(DEPTH)]


def root_from_path(*, bucket: int, bucket_digest: bytes, path: Sequence[bytes]) -> bytes:
    """The root a bucket hash and its 12 siblings lead to."""
    if len(path) != DEPTH or not 0 <= bucket < BUCKETS:
        raise MalformedProof(f"an index path has {DEPTH} hashes and a bucket below {BUCKETS}")
    digest = bucket_digest
    for depth, sibling in enumerate(path):
        if (bucket >> depth) & 1:
            digest = node_hash(left=sibling, right=digest)
        else:
            digest = node_hash(left=digest, right=sibling)
    return digest


class IndexBuilder:
    """The index recomputed in memory, one entry at a time, in seq order (``ledger verify``, tests, vectors)."""

    def __init__(self) -> None:
        self.leaves: dict[bytes, IndexLeaf] = {}
        self._buckets: list[dict[bytes, IndexLeaf]] = [{} for _ in range(BUCKETS)]
        self._hashes = [EMPTY_BUCKET] * BUCKETS
        self._dirty: set[int] = set()
        self.size = 0

    def add(self, seq: int, keys: Iterable[str]) -> None:
        """Entry ``seq`` (the next one) names ``keys``."""
        if seq != self.size + 1:
            raise ValueError(f"the index is at size {self.size}: entry {seq} is not the next")
        self.size = seq
        for key in keys:
            hashed = key_hash(key)
            old = self.leaves.get(hashed)
            count, chain = (0, _ZERO) if old is None else (old.count, old.seqs_hash)
            leaf = IndexLeaf(hashed, count + 1, next_seqs_hash(chain, seq))
            self.leaves[hashed] = leaf
            bucket = bucket_of(hashed)
            self._buckets[bucket][hashed] = leaf
            self._dirty.add(bucket)

    def levels(self) -> list[list[bytes]]:
        """The tree as of the entries added so far."""
        for bucket in self._dirty:
            self._hashes[bucket] = bucket_hash(list(self._buckets[bucket].values()))
        self._dirty.clear()
        return tree_levels(self._hashes)

    def root(self) -> bytes:
        """The index root as of the entries added so far."""
        return self.levels()[-1][0]

    def prove(self, key: str, seqs: Sequence[int]) -> IndexProof:
        """A proof for ``key`` (whose seqs the caller kept) as of the entries added so far."""
        hashed = key_hash(key)
        bucket = bucket_of(hashed)
        leaves = sorted(self._buckets[bucket].values(), key=lambda leaf: leaf.key_hash)
        return IndexProof(key, self.size, list(seqs), bucket, leaves, path_of(self.levels(), bucket))


@dataclass(frozen=True)
class IndexProof:
    """What shows that ``seqs`` are all the entries naming ``key`` among the first ``tree_size``."""

    key: str
    tree_size: int
    seqs: list[int]
    bucket: int
    leaves: list[IndexLeaf]
    path: list[bytes]

    def to_json(self) -> dict[str, Any]:
        """The proof as bundles and the API carry it."""
        return {
            "key": self.key,
            "tree_size": self.tree_size,
            "seqs": list(self.seqs),
            "bucket": self.bucket,
            "leaves": [leaf.to_bytes().hex() for leaf in self.leaves],
            "path": [p.hex() for p in self.path],
        }


def verify_index_proof(proof: IndexProof, *, root: bytes) -> list[int]:
    """The key's seqs if the proof leads to ``root`` (an empty list proves absence); IntegrityError if not.

    Compute, then compare: the bucket hash from the leaves, the root from the path.
    The leaves must be sorted and distinct and all in the bucket of the key, and
    the key's own leaf (if any) must commit to exactly ``seqs``.
    """
    hashed = key_hash(proof.key)
    if proof.bucket != bucket_of(hashed):
        raise IntegrityError(f"index proof for {proof.key}: bucket {proof.bucket} is not the key's")
    hashes = [leaf.key_hash for leaf in proof.leaves]
    if hashes != sorted(set(hashes)) or any(bucket_of(h) != proof.bucket for h in hashes):
        raise IntegrityError(f"index proof for {proof.key}: the bucket's leaves are not sorted, distinct and its own")
    _check_seqs(proof)
    computed = root_from_path(bucket=proof.bucket, bucket_digest=bucket_hash(proof.leaves), path=proof.path)
    if computed != root:
        raise IntegrityError(f"index proof for {proof.key}: leads to {computed.hex()}, not the committed root")
    own = next((leaf for leaf in proof.leaves if leaf.key_hash == hashed), None)
    expected = IndexLeaf(hashed, len(proof.seqs), seqs_hash(proof.seqs)) if proof.seqs else None
    if own != expected:
        raise IntegrityError(f"index proof for {proof.key}: its {len(proof.seqs)} seqs are not the committed list")
    return list(proof.seqs)


def _check_seqs(proof: IndexProof) -> None:
    if proof.seqs != sorted(set(proof.seqs)) or any(not 1 <= s <= proof.tree_size for s in proof.seqs):
        raise IntegrityError(f"index proof for {proof.key}: seqs must rise within 1..{proof.tree_size}")


def parse_index_proof(raw: Any, where: str) -> IndexProof:
    """An index proof from its JSON form; MalformedProof naming the field at fault."""
    fields = {"key", "tree_size", "seqs", "bucket", "leaves", "path"}
    if not isinstance(raw, dict) or set(raw) != fields:
        raise MalformedProof(f"{where}: fields must be {sorted(fields)}")
    if not isinstance(raw["key"], str) or raw["key"] == "":
        raise MalformedProof(f"{where}.key: not a string")
    for name in ("tree_size", "bucket"):
        if not _is_u64(raw[name]):
            raise MalformedProof(f"{where}.{name}: not an integer in 0..2^64-1")
    seqs, leaves, path = raw["seqs"], raw["leaves"], raw["path"]
    if not isinstance(seqs, list) or not all(_is_u64(s) for s in seqs):
        raise MalformedProof(f"{where}.seqs: not a list of integers")
    if not isinstance(leaves, list) or not isinstance(path, list):
        raise MalformedProof(f"{where}: leaves and path must be lists")
    return IndexProof(
        key=raw["key"],
        tree_size=raw["tree_size"],
        seqs=seqs,
        bucket=raw["bucket"],
        leaves=[IndexLeaf.from_bytes(_hex(v, f"{where}.leaves[{i}]", LEAF_SIZE)) for i, v in enumerate(leaves)],
        path=[_hex(v, f"{where}.path[{i}]", 32) for i, v in enumerate(path)],
    )


def _is_u64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_U64


def _hex(value: Any, where: str, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size:
        raise MalformedProof(f"{where}: not {size} bytes of hex")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise MalformedProof(f"{where}: not hex") from exc
    if raw.hex() != value:
        raise MalformedProof(f"{where}: not lowercase hex")
    return raw


@dataclass(frozen=True)
class IndexClaim:
    """A root someone says the index had at ``tree_size``: an ``index.committed`` event, or a stored commit."""

    source: str  # "log" (the event at seq ``at``) or "database" (the index's own table)
    at: int
    tree_size: int
    root: bytes


def recompute_roots(entries: Iterable[tuple[int, bytes]], sizes: Iterable[int]) -> dict[int, bytes]:
    """The index root at each of ``sizes``, recomputed from ``(seq, event bytes)`` in seq order.

    Sizes beyond the last entry are absent from the answer.
    """
    wanted = set(sizes)
    last = max(wanted, default=0)
    builder, roots = IndexBuilder(), {}
    if 0 in wanted:
        roots[0] = builder.root()
    for seq, body in entries:
        if seq > last:
            break
        builder.add(seq, _keys_of(body))
        if seq in wanted:
            roots[seq] = builder.root()
    return roots


def _keys_of(body: bytes) -> list[str]:
    data = orjson.loads(body).get("data")
    return index_keys(data) if isinstance(data, dict) else []
