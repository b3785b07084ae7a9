"""The hash chain: how one stored entry is framed and linked to the one before.

An *entry* is the event's canonical bytes framed with its position and the
time the ledger recorded it::

    entry(seq, recorded_us, body) = u64be(seq) || i64be(recorded_us) || body

and the chain links entries in ``seq`` order::

    hash(1) = SHA-256(0x02 || GENESIS || entry(1))      GENESIS = 32 zero bytes
    hash(n) = SHA-256(0x02 || hash(n-1) || entry(n))

The prefix byte 0x02 keeps a chain link from ever passing for an RFC 6962 leaf
(0x00) or node (0x01); the same entry bytes are the Merkle tree's leaves.
"""

from __future__ import annotations

import hashlib
import struct

LINK_PREFIX = b"\x02"
GENESIS = bytes(32)
HEADER = struct.Struct(">Qq")  # seq, recorded_us


def entry_bytes(*, seq: int, recorded_us: int, body: bytes) -> bytes:
    """Frame an event's canonical ``body`` with its ``seq`` and recording time."""
    if seq < 1:
        raise ValueError("seq starts at 1")
    return HEADER.pack(seq, recorded_us) + body


def link_hash(*, prev: bytes, entry: bytes) -> bytes:
    """The chain hash of ``entry`` given the hash of the entry before it."""
    if len(prev) != 32:
        raise ValueError("prev must be a 32-byte SHA-256 hash")
    return hashlib.sha256(LINK_PREFIX + prev + entry).digest()


def content_digest(body: bytes) -> bytes:
    """The digest used to tell a retried event from a conflicting one."""
    return hashlib.sha256(body).digest()
