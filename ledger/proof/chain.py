"""The hash chain: how one stored entry is framed and linked to the one before.

An *entry* is the event's canonical bytes framed with its position and the
time the ledger recorded it::

    entry(seq, recorded_us, body) = u64be(seq) || i64be(recorded_us) || body

and the chain links entries in ``seq`` order::

    hash(1) = SHA-256(0x02 || GENESIS || entry(1))      GENESIS = 32 zero bytes
    hash(n) = SHA-256(0x02 || hash(n-1) || entry(n))

The prefix byte 0x02 keeps a chain link from ever passing for an RFC 6962 leaf
(0x00) or node (0x01); the same entry bytes are the Merkle tree's leaves.

Each formula is written here once (the leaf's in ledger.proof.merkle):
``entry_bytes`` and ``link_hash`` check their input and are what a caller
building entries uses; ``row_hashes`` gives a row's chain hash, Merkle leaf
and retry digest in one call, unchecked, for the verifier (the reference
``check_row`` and the fast loop of ledger.verify_chunks alike) and the append
planner.
"""

from __future__ import annotations

import hashlib
import struct

from ledger.proof.merkle import leaf_hash

LINK_PREFIX = b"\x02"
GENESIS = bytes(32)
HEADER = struct.Struct(">Qq")  # seq, recorded_us
_pack = HEADER.pack
_sha256 = hashlib.sha256


def entry_bytes(*, seq: int, recorded_us: int, body: bytes) -> bytes:
    """Frame an event's canonical ``body`` with its ``seq`` and recording time."""
    if seq < 1:
        raise ValueError("seq starts at 1")
    return _entry(seq, recorded_us, body)


def link_hash(*, prev: bytes, entry: bytes) -> bytes:
    """The chain hash of ``entry`` given the hash of the entry before it."""
    if len(prev) != 32:
        raise ValueError("prev must be a 32-byte SHA-256 hash")
    return _link(prev, entry)


def row_hashes(*, seq: int, recorded_us: int, prev: bytes, body: bytes) -> tuple[bytes, bytes, bytes]:
    """What a stored row holds besides its bytes, in one call: ``(hash, leaf_hash, digest)`` of its entry.

    The chain hash (``link_hash``), the Merkle leaf (ledger.proof.merkle's
    ``leaf_hash``) and the retry digest (``content_digest``). Nothing is
    checked: a verifier hashes what a row holds, even a seq or a prev_hash that
    ``entry_bytes`` or ``link_hash`` would refuse, and reports the mismatch.
    """
    entry = _entry(seq, recorded_us, body)
    return _link(prev, entry), leaf_hash(entry), content_digest(body)


def _entry(seq: int, recorded_us: int, body: bytes) -> bytes:
    return _pack(seq, recorded_us) + body


def _link(prev: bytes, entry: bytes) -> bytes:
    return _sha256(LINK_PREFIX + prev + entry).digest()


def content_digest(body: bytes) -> bytes:
    """The digest used to tell a retried event from a conflicting one."""
    return _sha256(body).digest()
