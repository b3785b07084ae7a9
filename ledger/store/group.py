"""Group commit: many single-event appends, one transaction.

Every append serializes on the chain head (one writer at a time), so one commit
per request caps throughput at the database's commit rate. The group committer
is a single writer thread that takes the pending single-event appends from a
queue, up to ``max_batch`` of them or whatever arrives within ``max_wait``
seconds of the first, and records them with one ``append_batch`` transaction.
Each submitter's future resolves with its own receipt only after that commit.

The default ``max_wait`` is 0: the writer commits as soon as it is free, and
every append that arrived while it was committing goes into its next
transaction. Under load the groups grow by themselves, request parsing overlaps
the commit, and a lone append never waits for company that is not coming
(measured in docs/performance.md, API section: at 16 concurrent clients this
outran a 2 ms window, whose groups were twice as large but whose commits
waited for the last request of each round).

Failures stay with their owners:

1. EventConflict in a coalesced batch (one emitter reused an event_id with
   other content): the batch wrote nothing, so its events are appended again one
   by one; only the conflicting submitter gets the EventConflict.
2. StoreUnavailable (the database is down): every submitter of the batch gets
   it; nothing was written, and a retry with the same event_id is safe.
3. Anything else: every submitter of the batch gets that exception; the writer
   thread carries on.

``close()`` refuses new submissions, finishes every queued append, then stops.

Waiters: ``submit`` returns a ``concurrent.futures.Future`` for threads;
``submit_async`` an asyncio future of the caller's event loop, resolved there
(one ``call_soon_threadsafe`` per loop and transaction), for the API's request
path, which would otherwise pay for a thread-safe future and its asyncio
wrapper on every append.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.catalogue import Event
from ledger.errors import EventConflict, StoreUnavailable
from ledger.store.records import Receipt


class Appender(Protocol):
    """What the committer needs of the ledger."""

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]: ...


@dataclass(frozen=True, slots=True)
class _Pending:
    event: Event
    future: Future[Receipt] | asyncio.Future[Receipt]
    loop: asyncio.AbstractEventLoop | None = None  # set for an asyncio future: where it is resolved

    def start(self) -> bool:
        """Claim the waiter for a transaction; False if it was cancelled (nobody waits any more)."""
        if self.loop is None:
            return self.future.set_running_or_notify_cancel()  # type: ignore[union-attr]
        return not self.future.cancelled()


_Outcome = tuple[_Pending, "Receipt | BaseException"]


@dataclass
class GroupStats:
    """What the committer has done since it started."""

    batches: int = 0
    events: int = 0
    largest_batch: int = 0
    conflict_fallbacks: int = 0
    failed_batches: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> how many batches had it

    def record(self, size: int) -> None:
        """Count one committed batch of ``size`` events."""
        self.batches += 1
        self.events += size
        self.largest_batch = max(self.largest_batch, size)
        self.sizes[size] = self.sizes.get(size, 0) + 1

    def to_json(self) -> dict[str, Any]:
        """The stats as plain JSON (sizes keyed by their decimal string)."""
        return {
            "batches": self.batches,
            "events": self.events,
            "largest_batch": self.largest_batch,
            "mean_batch": round(self.events / self.batches, 2) if self.batches else 0.0,
            "conflict_fallbacks": self.conflict_fallbacks,
            "failed_batches": self.failed_batches,
            "sizes": {str(k): v for k, v in sorted(self.sizes.items())},
        }


_STOP = None


class GroupCommitter:
    """A single writer thread that coalesces single-event appends into shared transactions."""

    def __init__(self, ledger: Appender, *, max_batch: int = 256, max_wait: float = 0.0) -> None:
        if max_batch < 1 or max_wait < 0:
            raise ValueError("max_batch must be at least 1 and max_wait not negative")
        self._ledger = ledger
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._stats = GroupStats()
        self._thread = threading.Thread(target=self._run, name="ledger-group-commit", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> Future[Receipt]:
        """Queue one validated event; the future resolves after its commit (or with its error)."""
        future: Future[Receipt] = Future()
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the ledger is shutting down")
            self._queue.put(_Pending(event, future))
        return future

    def submit_async(self, event: Event) -> asyncio.Future[Receipt]:
        """Queue one validated event from a coroutine; the asyncio future resolves in the caller's loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the ledger is shutting down")
            self._queue.put(_Pending(event, future, loop))
        return future

    def append(self, event: Event, *, timeout: float | None = None) -> Receipt:
        """Submit and wait: the blocking form of ``submit``."""
        return self.submit(event).result(timeout)

    def stats(self) -> GroupStats:
        """A copy of the counters."""
        with self._lock:
            s = self._stats
            return GroupStats(
                s.batches, s.events, s.largest_batch, s.conflict_fallbacks, s.failed_batches, dict(s.sizes)
            )

    def close(self, timeout: float | None = 60.0) -> None:
        """Refuse new appends, finish the queued ones, stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    # --- the writer thread -------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stopping = self._gather(first)
            self._commit([p for p in batch if p.start()])

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """``first`` and what else is pending, up to max_batch or max_wait; True if a stop was seen."""
        batch = [first]
        deadline = time.monotonic() + self._max_wait
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        try:
            receipts = self._ledger.append_batch([p.event for p in batch])
        except EventConflict as exc:
            if len(batch) == 1:
                self._fail(batch, exc)
            else:
                self._one_by_one(batch)
            return
        except Exception as exc:  # StoreUnavailable or a bug: handed to every waiter, never swallowed
            self._fail(batch, exc)
            return
        with self._lock:
            self._stats.record(len(batch))
        _settle(list(zip(batch, receipts, strict=True)))

    def _one_by_one(self, batch: list[_Pending]) -> None:
        with self._lock:
            self._stats.conflict_fallbacks += 1
        for pending in batch:
            try:
                receipt = self._ledger.append_batch([pending.event])[0]
            except Exception as exc:  # this submitter's own error (its conflict, or the store)
                _settle([(pending, exc)])
                continue
            with self._lock:
                self._stats.record(1)
            _settle([(pending, receipt)])

    def _fail(self, batch: list[_Pending], exc: Exception) -> None:
        if not isinstance(exc, EventConflict):
            with self._lock:
                self._stats.failed_batches += 1
        outcomes: list[_Outcome] = []
        for pending in batch:
            # A fresh StoreUnavailable per waiter: each request raises its own.
            own = StoreUnavailable(str(exc)) if isinstance(exc, StoreUnavailable) else exc
            if own is not exc:
                own.__cause__ = exc.__cause__
            outcomes.append((pending, own))
        _settle(outcomes)


def _settle(outcomes: list[_Outcome]) -> None:
    """Resolve each waiter with its receipt or exception: thread futures here, asyncio ones in their loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for pending, outcome in outcomes:
        if pending.loop is not None:
            by_loop.setdefault(pending.loop, []).append((pending, outcome))
        else:
            _resolve(pending, outcome)
    for loop, mine in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_in_loop, mine)
        except RuntimeError:  # the loop is closed: its waiters are gone with it
            continue


def _settle_in_loop(outcomes: list[_Outcome]) -> None:
    for pending, outcome in outcomes:
        if not pending.future.done():  # else cancelled meanwhile (its request timed out)
            _resolve(pending, outcome)


def _resolve(pending: _Pending, outcome: Receipt | BaseException) -> None:
    if isinstance(outcome, BaseException):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)
