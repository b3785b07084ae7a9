"""Signing checkpoints: the head of the log, published outside the database.

The procedure, in order:

  1. Take the log's size n (the last seq) and the RFC 6962 root of its first n
     entries, from the stored subtree hashes.
  2. Find the last checkpoint this ledger signed: the larger of the one in the
     database and the one in the published folder (an attacker with database
     access cannot reach the folder, so a database that forgot a checkpoint
     still cannot make the ledger sign a rewrite).
  3. Refuse unless the new tree extends it (C2SP tlog-checkpoint: a log must
     never sign a checkpoint inconsistent with one it signed before):
     a. the stored subtrees on the right edge of its tree must fold to *its* root;
     b. every entry since then is recomputed from its stored bytes: its chain
        link and hash must hold, and its leaf is pushed onto that right edge;
     c. the root so computed must equal the root from the stored subtrees, and a
        consistency proof built from the stored subtrees must verify.
  4. Sign the C2SP checkpoint (origin, size, root) with the active Ed25519 key,
     keep it in the database and write it, once, to the published folder.
  5. With time-stamping authorities configured (``tsas``), ask each that has
     not yet stamped this checkpoint for an RFC 3161 token over it, and keep it
     beside the checkpoint (ledger.timestamping; one that fails loses nothing).
  6. With a witness policy (c2sp.org/tlog-policy), ``witness_checkpoint`` asks
     the policy's witnesses to cosign it (ledger.witnessing) and, once their
     verified cosignatures meet the quorum, publishes the note with their
     lines after the ledger's signature (``<size>.cosigned``, write-once).

The work is O(log n + entries since the last checkpoint); the first checkpoint
recomputes the whole log once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ledger import ownership
from ledger.errors import InconsistentCheckpoint, IntegrityError, MalformedProof
from ledger.index import commit_index
from ledger.proof import merkle
from ledger.proof.chain import link_hash
from ledger.proof.checkpoint import Checkpoint, CheckpointDirectory, parse_checkpoint_body, sign_checkpoint
from ledger.proof.cosignature import Policy, QuorumResult, check_quorum
from ledger.proof.keys import SigningKey
from ledger.proof.merkle import CompactRange, frontier_keys
from ledger.proof.note import parse_note
from ledger.store import Ledger
from ledger.store.records import StoredCheckpoint
from ledger.timestamping import stamp
from ledger.witnessing import Answer, ask_witnesses, cosigned


@dataclass(frozen=True)
class Signed:
    """A checkpoint the ledger signed (or had already signed at this size)."""

    checkpoint: Checkpoint
    note: str
    new: bool


def body_of(note: str) -> Checkpoint:
    """The checkpoint inside a signed note, without checking its signatures."""
    return parse_checkpoint_body(parse_note(note).text)


def last_signed(ledger: Ledger, folder: CheckpointDirectory | None) -> str | None:
    """The signed note of the largest checkpoint known, in the database or the folder."""
    stored = ledger.latest_checkpoint()
    candidates = [stored.note] if stored is not None else []
    published = folder.latest() if folder is not None else None
    if published is not None:
        candidates.append(published)
    return max(candidates, key=lambda note: body_of(note).size, default=None)


def make_checkpoint(
    ledger: Ledger,
    key: SigningKey,
    *,
    origin: str,
    folder: CheckpointDirectory | None,
    index: bool = False,
    tsas: Sequence[str] = (),
) -> Signed | None:
    """Sign the current head (steps 1-4); None for an empty log.

    With ``index``, the completeness index is first committed to the log
    (``ledger.index.commit_index``) when the log holds anything new, so the
    checkpoint covers its ``index.committed`` event.

    With ``tsas`` (URLs of RFC 3161 time-stamping authorities), step 5 asks
    each that has not stamped this checkpoint yet, also when it was already
    signed (a retry after an authority failed); ledger.timestamping.

    With a folder, the whole procedure holds the folder's signing lock, so
    concurrent signers (server workers, the command line) take turns; a folder
    that belongs to another ledger is refused (ForeignCheckpointFolder), and one
    that names no ledger is claimed by this one (ledger.ownership).
    """
    if folder is None:
        if index:
            commit_index(ledger)
        signed = _sign_head(ledger, key, origin=origin, folder=None)
        if signed is not None:
            stamp(ledger, size=signed.checkpoint.size, note=signed.note, urls=tsas, folder=None)  # step 5
        return signed
    with folder.signing_lock():
        ownership.check_belongs(folder.path, ledger)
        if index:
            commit_index(ledger)
        signed = _sign_head(ledger, key, origin=origin, folder=folder)
        if signed is not None:
            ownership.claim(folder.path, ledger)
            stamp(ledger, size=signed.checkpoint.size, note=signed.note, urls=tsas, folder=folder)  # step 5
        return signed


def _sign_head(ledger: Ledger, key: SigningKey, *, origin: str, folder: CheckpointDirectory | None) -> Signed | None:
    size = ledger.head_seq()  # step 1
    if size == 0:
        return None
    root = merkle.root(size, ledger)
    previous_note = last_signed(ledger, folder)  # step 2
    previous = body_of(previous_note) if previous_note is not None else None
    if previous is not None and previous_note is not None and previous.size == size:
        if previous.root_hash != root:
            raise InconsistentCheckpoint(f"refusing to sign: the log at size {size} no longer has the signed root")
        return Signed(previous, previous_note, new=False)
    _check_extension(ledger, previous, size=size, root=root)  # step 3
    checkpoint = Checkpoint(origin, size, root)
    note = sign_checkpoint(checkpoint, key)  # step 4
    ledger.store_checkpoint(StoredCheckpoint(size, root, note, time.time_ns() // 1000))
    if folder is not None:
        folder.write(note)
    return Signed(checkpoint, note, new=True)


def _check_extension(ledger: Ledger, previous: Checkpoint | None, *, size: int, root: bytes) -> None:
    start = 0 if previous is None else previous.size
    if start > size:
        raise InconsistentCheckpoint(
            f"refusing to sign: the log has {size} entries but checkpoint {start} was signed before"
        )
    edge = CompactRange()
    if previous is not None:  # 3a
        frontier = ledger.get_nodes(frontier_keys(start))
        edge = CompactRange.from_frontier(start, frontier)
        if edge.root() != previous.root_hash:
            raise InconsistentCheckpoint(
                f"refusing to sign: the stored tree no longer matches the checkpoint at size {start}"
            )
    prev_hash = None
    for record in ledger.records(after_seq=start):  # 3b
        if record.seq > size:
            break
        if (prev_hash is not None and record.prev_hash != prev_hash) or link_hash(
            prev=record.prev_hash, entry=record.entry
        ) != record.hash:
            raise IntegrityError(f"refusing to sign: the entry at seq {record.seq} does not match its chain hash")
        edge.push(merkle.leaf_hash(record.entry))
        prev_hash = record.hash
    if edge.root() != root:  # 3c
        raise InconsistentCheckpoint(f"refusing to sign: the stored subtrees do not match the entries up to {size}")
    if previous is not None:
        proof = merkle.consistency_proof(size1=start, size2=size, reader=ledger)
        try:
            merkle.verify_consistency(size1=start, size2=size, root1=previous.root_hash, root2=root, proof=proof)
        except (IntegrityError, MalformedProof) as exc:
            raise InconsistentCheckpoint(
                f"refusing to sign: the log at size {size} is not an extension of the checkpoint at size {start}"
            ) from exc


@dataclass(frozen=True)
class Witnessed:
    """Step 6's outcome: the note with the cosignatures gathered, each witness's answer, and the quorum."""

    note: str
    answers: tuple[Answer, ...]
    quorum: QuorumResult
    published: bool


def witness_checkpoint(ledger: Ledger, signed: Signed, policy: Policy, *, folder: CheckpointDirectory) -> Witnessed:
    """Step 6: have the policy's witnesses cosign ``signed``; publish the cosigned note once the quorum is met.

    A checkpoint whose cosigned note is already published is not sent again.
    Each witness is first asked from the size of the checkpoint published
    before this one (the one it should hold); ledger.witnessing retries from
    the size it says it holds.
    """
    size = signed.checkpoint.size
    published = folder.read_cosigned(size)
    if published is not None:
        return Witnessed(published, (), check_quorum(published, policy), published=True)
    old = max((s for s in folder.sizes() if s < size), default=0)
    answers = ask_witnesses(signed.note, policy, old=old, proof_from=lambda n: _proof(ledger, n, size))
    note = cosigned(signed.note, answers)
    result = check_quorum(note, policy)
    if result.met and answers:
        folder.write_cosigned(note)
    return Witnessed(note, tuple(answers), result, published=result.met and bool(answers))


def _proof(ledger: Ledger, old: int, size: int) -> list[bytes]:
    """The consistency proof from ``old`` to ``size`` (none from 0, or to the same size)."""
    return [] if old in (0, size) else merkle.consistency_proof(size1=old, size2=size, reader=ledger)
