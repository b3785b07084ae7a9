"""Verification on PostgreSQL: the steps of ledger.proof.verify over chunks of seqs, in parallel processes.

The log is cut into chunks of CHUNK_SEQS consecutive seqs (the first and the
last chunk open-ended, so every row falls in exactly one). Every chunk is read
with its own COPY inside the one snapshot the coordinator exported
(ledger.pgcopy), by the coordinator itself or by a worker process, PROCESSES
at a time in all, and the results are merged in seq order:

* Steps 2-6, per row, as ``ledger.proof.verify.check_row``. A chunk first reads the
  entry just before its range (the largest seq below it) and starts its cursor
  there, so links, seq positions and times across chunk boundaries are checked
  like any others. A row passes on the fast path below only when every check
  holds; any other row goes to ``check_row`` itself, so the findings are the
  reference's, in its order, with their seq.
* Step 8: a chunk folds its recomputed leaves on their own, as if they began at
  leaf ``lo - 1`` (every seq before it present once), and keeps the fold at each
  checkpoint size inside it. Where that start is right and the chunk's subtrees
  fall on RFC 6962's perfect nodes (``CompactRange.joins``), the coordinator
  joins the folds to its own; otherwise it folds the chunk's leaves one by one,
  which the chunk also returns (32 bytes an entry). Either way every root,
  at every checkpoint size, is the one ``verify_rows`` computes.
* Steps 7, 9 and 10, once, in the coordinator (``ledger.proof.verify.finish``).

Memory stays flat: a chunk's leaves at a time per process, at most two
results per process waiting to be merged, findings capped per chunk as in the report.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ledger import pgcopy
from ledger.errors import StoreUnavailable
from ledger.proof.chain import GENESIS, row_hashes
from ledger.proof.keys import Keyring
from ledger.proof.merkle import HASH_SIZE, CompactRange
from ledger.proof.verify import (
    MAX_FINDINGS,
    Claim,
    Cursor,
    Finding,
    Report,
    check_row,
    finish,
    parse_claims,
)

CHUNK_SEQS = 1 << 16  # seqs per chunk: 2 MB of leaves, a second or so of work
MAX_CHUNKS = 4096  # chunks widen beyond this (a forged huge seq must not plan millions of empty ones)
PROCESSES = os.cpu_count() or 1  # processes verifying at once, the coordinator among them


@dataclass(frozen=True)
class Chunk:
    """The rows with lo <= seq < hi; None leaves that side open."""

    lo: int | None
    hi: int | None


@dataclass
class ChunkResult:
    """What one chunk found, and the leaves it recomputed, folded and as they are."""

    start: int  # the leaf index the chunk's first entry has if every seq before it is there once
    findings: list[Finding] = field(default_factory=list)  # the first MAX_FINDINGS
    findings_total: int = 0
    leaves: bytes = b""  # the recomputed leaf hash of every row, in order
    tree: CompactRange = field(default_factory=CompactRange)  # the leaves folded on their own
    parts: dict[int, CompactRange] = field(default_factory=dict)  # checkpoint size -> the fold up to it
    head: tuple[int, bytes] = (0, GENESIS)  # seq and hash of the last entry read, or of the one before

    def add(self, findings: list[Finding]) -> None:
        """Count findings; keep the first MAX_FINDINGS."""
        self.findings_total += len(findings)
        self.findings.extend(findings[: MAX_FINDINGS - len(self.findings)])


def plan_chunks(max_seq: int | None, width: int) -> list[Chunk]:
    """Chunks of ``width`` seqs from seq 1 up to ``max_seq``; one open chunk for a small log."""
    if max_seq is None or max_seq <= width:
        return [Chunk(None, None)]
    width = max(width, -(-max_seq // MAX_CHUNKS))
    bounds: list[int | None] = list(range(1 + width, max_seq + 1, width))
    return [Chunk(lo, hi) for lo, hi in zip([None, *bounds], [*bounds, None], strict=True)]


def verify_chunks(
    source: pgcopy.CopySource,
    *,
    unchained: Callable[[], Iterable[str]],
    claims: Sequence[Claim] = (),
    keyring: Keyring | None = None,
    origin: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Run every step of ledger.proof.verify over the log at ``source``, chunk by chunk, in parallel."""
    report = Report()
    parsed = parse_claims(claims, report)
    merged = _Merged(report, wanted={c.size for _, c in parsed})
    with pgcopy.exported_snapshot(source) as (snapshot, conn):
        for result in _results(plan_chunks(snapshot.max_seq, CHUNK_SEQS), snapshot, conn, merged.wanted):
            merged.add(result)
            if progress is not None:
                progress(report.events)
    report.root = merged.tree.root()
    finish(report, parsed, merged.roots, unchained=unchained, keyring=keyring, origin=origin)
    return report


class _Merged:
    """Chunk results folded into the report in seq order: findings, head, tree, checkpoint roots."""

    def __init__(self, report: Report, *, wanted: set[int]) -> None:
        self.report = report
        self.tree = CompactRange()
        self.roots: dict[int, bytes] = {}
        self.wanted = tuple(sorted(wanted))

    def add(self, result: ChunkResult) -> None:
        """Merge the next chunk's result."""
        report = self.report
        for finding in result.findings:
            report.add(finding)
        report.findings_total += result.findings_total - len(result.findings)
        folds = (result.tree, *result.parts.values())
        if result.start == report.events and all(self.tree.joins(fold) for fold in folds):
            for size, part in result.parts.items():  # step 8, at every checkpoint size within the chunk
                self.roots[size] = self.tree.joined(part).root()
            self.tree = self.tree.joined(result.tree)
        else:  # rows missing or repeated before the chunk: its leaves sit elsewhere in the tree
            leaves = [result.leaves[i : i + HASH_SIZE] for i in range(0, len(result.leaves), HASH_SIZE)]
            for size in _fold(self.tree, leaves, start=report.events, wanted=self.wanted):
                self.roots[size] = self.tree.root()
        report.events += len(result.leaves) // HASH_SIZE
        report.head_seq, report.head_hash = result.head


def _fold(tree: CompactRange, leaves: Sequence[bytes], *, start: int, wanted: Sequence[int]) -> Iterator[int]:
    """Push ``leaves`` (the first is leaf ``start``) onto ``tree``, pausing at each wanted size among them."""
    done = 0
    for size in wanted:
        if start < size <= start + len(leaves):
            tree.extend(leaves[done : size - start])
            done = size - start
            yield size
    tree.extend(leaves[done:])


def _results(
    chunks: list[Chunk], snapshot: pgcopy.Snapshot, conn: psycopg.Connection[Any], wanted: tuple[int, ...]
) -> Iterator[ChunkResult]:
    """Every chunk's result, in order: worker processes take chunks while the coordinator does too."""
    helpers = min(PROCESSES, len(chunks)) - 1
    if helpers < 1:
        yield from (verify_chunk(conn, snapshot.source, chunk, wanted) for chunk in chunks)
        return
    window = 2 * (helpers + 1)  # results held at most: memory stays flat if one chunk is slow
    todo = deque(chunks)
    waiting: deque[Future[ChunkResult] | ChunkResult] = deque()
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited connections or threads
    pool = ProcessPoolExecutor(helpers, mp_context=context, initializer=_start_worker, initargs=(snapshot,))
    try:
        while todo or waiting:
            while todo and len(waiting) < window and _busy(waiting) < helpers:
                waiting.append(pool.submit(_work, todo.popleft(), wanted))
            if todo and len(waiting) < window and not _ready(waiting[0]):
                waiting.append(verify_chunk(conn, snapshot.source, todo.popleft(), wanted))  # our share, meanwhile
                continue
            first = waiting.popleft()
            yield first if isinstance(first, ChunkResult) else first.result()
    except BrokenProcessPool as exc:
        raise StoreUnavailable("a verification worker process stopped before finishing its chunk") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _busy(waiting: Iterable[Future[ChunkResult] | ChunkResult]) -> int:
    return sum(1 for item in waiting if isinstance(item, Future) and not item.done())


def _ready(item: Future[ChunkResult] | ChunkResult) -> bool:
    return isinstance(item, ChunkResult) or item.done()


# -- One chunk ----------------------------------------------------------------


def verify_chunk(
    conn: psycopg.Connection[Any], source: pgcopy.CopySource, chunk: Chunk, wanted: Sequence[int] = ()
) -> ChunkResult:
    """Steps 2-6 for the rows of ``chunk``, from the entry before it; their leaves, and folds at ``wanted`` sizes."""
    result, leaves = ChunkResult(start=0 if chunk.lo is None else chunk.lo - 1), _Leaves()
    cursor = Cursor(tree=leaves)
    before = None if chunk.lo is None else pgcopy.seq_before(conn, source, chunk.lo)
    # Closed on the way out, whatever happens: a COPY left suspended mid-stream would keep the
    # connection's lock, and the snapshot's rollback on an error would then wait for it forever.
    with closing(pgcopy.copy_rows(conn, source, lo=chunk.lo if before is None else before, hi=chunk.hi)) as rows:
        first = None if before is None else _start_after(rows, before, cursor)
        if first is not None:
            result.add(check_row(pgcopy.parse_row(first), cursor))
        _check_rows(rows, cursor, result, leaves)
    for size in _fold(result.tree, leaves, start=result.start, wanted=wanted):  # step 8, in this process
        result.parts[size] = CompactRange().joined(result.tree)  # a copy
    result.leaves = b"".join(leaves)
    result.head = (cursor.seq, cursor.hash)
    return result


class _Leaves(list[bytes]):
    """A chunk's recomputed leaves, in order (the LeafSink of ledger.proof.verify.check_row)."""

    def push(self, leaf: bytes) -> None:
        self.append(leaf)


def _start_after(rows: Iterator[Any], before: int, cursor: Cursor) -> Any | None:
    """Move the cursor onto the entry at seq ``before`` (the chunk before checks it); return the next row."""
    for data in rows:
        seq, _, recorded_us, _, hash_, *_ = pgcopy.parse_row(data)
        if seq != before:
            return data
        cursor.seq, cursor.hash, cursor.recorded_us = seq, bytes(hash_), recorded_us
    return None


def _check_rows(rows: Iterator[Any], cursor: Cursor, result: ChunkResult, leaves: _Leaves) -> None:
    """The hot loop: a row that passes every check here is clean; any other goes to check_row."""
    unpack, hashes, fixed = pgcopy.LAYOUT.unpack_from, row_hashes, pgcopy.LAYOUT.size
    lengths = pgcopy.LENGTHS
    last_seq, last_hash, last_us = cursor.seq, cursor.hash, cursor.recorded_us
    for data in rows:
        try:
            count, n1, seq, n2, us, n3, prev, n4, stored, n5, digest, n6, leaf_stored, n7, no_topic, n8 = unpack(data)
            clean = (
                (count, n1, n2, n3, n4, n5, n6, n7) == lengths
                and n8 == len(data) - fixed  # state: present, and the rest of the row
                and not no_topic  # step 2
                and seq == last_seq + 1  # step 3
                and prev == last_hash  # step 4
                and us >= last_us  # step 6, time
            )
        except struct.error:  # shorter than LAYOUT: a NULL or a short hash
            clean = False
        if clean:
            body = data[fixed:]
            link, leaf, body_digest = hashes(seq=seq, recorded_us=us, prev=prev, body=body)  # as check_row does
            if (
                link == stored  # step 5
                and leaf == leaf_stored  # step 6, leaf
                and body_digest == digest  # step 6, retry digest
            ):
                leaves.append(leaf)
                last_seq, last_hash, last_us = seq, stored, us
                continue
        cursor.seq, cursor.hash, cursor.recorded_us = last_seq, last_hash, last_us
        result.add(check_row(pgcopy.parse_row(data), cursor))
        last_seq, last_hash, last_us = cursor.seq, cursor.hash, cursor.recorded_us
    cursor.seq, cursor.hash, cursor.recorded_us = last_seq, last_hash, last_us


# -- Worker processes ---------------------------------------------------------

_worker: tuple[psycopg.Connection[Any], pgcopy.CopySource] | None = None


def _start_worker(snapshot: pgcopy.Snapshot) -> None:
    """In a new worker process: its own connection, in the coordinator's snapshot."""
    global _worker  # noqa: PLW0603 (one connection per worker process, for all its chunks)
    conn = pgcopy.open_snapshot(snapshot)
    atexit.register(conn.close)
    _worker = (conn, snapshot.source)


def _work(chunk: Chunk, wanted: tuple[int, ...]) -> ChunkResult:
    if _worker is None:
        raise StoreUnavailable("the verification worker has no connection")
    return verify_chunk(*_worker, chunk, wanted)
