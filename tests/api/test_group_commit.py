"""The group committer: concurrent appends share transactions, each gets its own receipt or its own error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger.audit import verify_store
from ledger.catalogue import Event, validate_event
from ledger.errors import EventConflict, StoreUnavailable
from ledger.store import Ledger, Receipt
from ledger.store.group import GroupCommitter
from tests.factories import shown
from tests.ledgers import env_settings


class SlowLedger:
    """A real ledger whose commits take a while, so that appends pile up behind them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.batches: list[int] = []

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        time.sleep(0.01)
        self.batches.append(len(events))
        return self.ledger.append_batch(events)


class GatedLedger:
    """A real ledger whose commits wait for ``gate``, so that the writer holds a batch meanwhile."""

    def __init__(self, ledger: Ledger, gate: threading.Event) -> None:
        self.ledger = ledger
        self.gate = gate

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        self.gate.wait(5)
        return self.ledger.append_batch(events)


@pytest.mark.parametrize("max_wait", [0.0, 0.002])
def test_concurrent_appends_share_transactions_and_each_gets_its_own_receipt(store_url: str, max_wait: float) -> None:
    # With no wait at all, the appends that queue behind one commit share the next.
    with Ledger(env_settings(store_url)) as ledger:
        slow = SlowLedger(ledger)
        committer = GroupCommitter(slow, max_batch=64, max_wait=max_wait)
        events = [validate_event(shown(f"out-{i}")) for i in range(80)]
        with ThreadPoolExecutor(16) as pool:
            receipts = list(pool.map(committer.append, events))
        committer.close()
        assert [r.event_id for r in receipts] == [e.event_id for e in events]
        assert sorted(r.seq for r in receipts) == list(range(1, 81))
        assert len(slow.batches) < 80 and max(slow.batches) > 1
        assert committer.stats().events == 80 and verify_store(ledger).intact


def test_one_emitters_conflict_never_fails_anothers_event(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        recorded = shown()
        ledger.submit([recorded])
        committer = GroupCommitter(ledger, max_batch=10, max_wait=0.2)  # long enough to gather all three
        conflicting = validate_event(shown(output_id="other", event_id=recorded["event_id"]))
        futures = [committer.submit(e) for e in (validate_event(shown("a")), conflicting, validate_event(shown("b")))]
        with pytest.raises(EventConflict, match="seq 1"):
            futures[1].result(5)
        assert [futures[0].result(5).seq, futures[2].result(5).seq] == [2, 3]
        assert committer.stats().conflict_fallbacks == 1
        committer.close()


def test_a_store_failure_reaches_every_waiter_of_the_batch() -> None:
    class DownLedger:
        def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
            raise StoreUnavailable("database unreachable: ConnectionRefusedError")

    committer = GroupCommitter(DownLedger(), max_wait=0.05)
    futures = [committer.submit(validate_event(shown(f"o-{i}"))) for i in range(5)]
    for future in futures:
        with pytest.raises(StoreUnavailable):
            future.result(5)
    assert committer.stats().failed_batches >= 1
    committer.close()


def test_close_finishes_every_queued_append_then_refuses_new_ones(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        gate = threading.Event()
        committer = GroupCommitter(GatedLedger(ledger, gate), max_batch=8)
        futures = [committer.submit(validate_event(shown(f"q-{i}"))) for i in range(30)]
        threading.Timer(0.1, gate.set).start()
        committer.close()
        assert sorted(f.result(0).seq for f in futures) == list(range(1, 31))
        with pytest.raises(StoreUnavailable, match="shutting down"):
            committer.submit(validate_event(shown("late")))


def test_coroutines_awaiting_appends_get_their_own_receipts_and_errors_in_their_loop(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        recorded = shown()
        ledger.submit([recorded])
        committer = GroupCommitter(SlowLedger(ledger), max_batch=64)
        conflicting = validate_event(shown(output_id="other", event_id=recorded["event_id"]))
        events = [validate_event(shown(f"c-{i}")) for i in range(20)]

        async def main() -> list[Receipt | BaseException]:
            waits = [committer.submit_async(e) for e in [*events[:10], conflicting, *events[10:]]]
            return await asyncio.gather(*waits, return_exceptions=True)

        outcomes = asyncio.run(main())
        committer.close()
        assert isinstance(outcomes.pop(10), EventConflict)
        assert [o.event_id for o in outcomes] == [e.event_id for e in events]  # type: ignore[union-attr]
        assert sorted(o.seq for o in outcomes) == list(range(2, 22))  # type: ignore[union-attr]
        assert verify_store(ledger).intact


def test_a_waiter_that_gave_up_does_not_stop_the_others(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        gate = threading.Event()
        committer = GroupCommitter(GatedLedger(ledger, gate), max_batch=64)

        async def main() -> Receipt:
            first = committer.submit_async(validate_event(shown("held")))  # the writer takes it and waits
            await asyncio.sleep(0.05)
            abandoned = committer.submit_async(validate_event(shown("abandoned")))
            kept = committer.submit_async(validate_event(shown("kept")))
            abandoned.cancel()  # as a request's timeout does
            gate.set()
            await first
            return await kept

        kept = asyncio.run(main())
        committer.close()
        assert kept.seq == 2 and ledger.head_seq() == 2  # the abandoned append was never written
