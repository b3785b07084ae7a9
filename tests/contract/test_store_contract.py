"""One contract, every store: the same tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest

from ledger.audit import verify_store
from ledger.errors import EventConflict, InvalidEvent
from ledger.proof import merkle
from ledger.store import Ledger
from tests.factories import many_shown, shown
from tests.ledgers import env_settings


@pytest.fixture
def ledger(store_url: str):
    with Ledger(env_settings(store_url)) as opened:
        yield opened


def test_appended_events_read_back_by_seq_with_their_exact_bytes(ledger: Ledger) -> None:
    receipts = ledger.submit(many_shown(5))
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
    records = ledger.read(after_seq=0, limit=10)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert [r.event_id for r in records] == [r.event_id for r in receipts]
    assert records[2].type == "output.shown"
    assert records[0].prev_hash == bytes(32)
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:], strict=False))
    assert ledger.read(after_seq=3, limit=1)[0].seq == 4


def test_retry_of_the_same_event_returns_the_original_receipt_and_writes_nothing(ledger: Ledger) -> None:
    event = shown()
    first = ledger.submit([event])[0]
    again = ledger.submit([dict(event)])[0]
    assert first.created and not again.created
    assert (again.seq, again.hash, again.recorded_us) == (first.seq, first.hash, first.recorded_us)
    assert ledger.head_seq() == 1


def test_retry_with_equivalent_spelling_is_the_same_event(ledger: Ledger) -> None:
    event = shown()
    ledger.submit([event])
    respelled = dict(event, occurred_at="2026-03-01T09:15:00Z")  # same instant, other offset
    assert not ledger.submit([respelled])[0].created


def test_same_event_id_with_other_content_is_a_conflict(ledger: Ledger) -> None:
    event = shown()
    ledger.submit([event])
    changed = shown(event_id=event["event_id"], clinician_id="dr-bob")
    with pytest.raises(EventConflict, match="already recorded at seq 1"):
        ledger.submit([changed])
    assert ledger.head_seq() == 1


def test_batch_with_one_invalid_event_writes_nothing(ledger: Ledger) -> None:
    batch = many_shown(3)
    del batch[2]["actor"]
    with pytest.raises(InvalidEvent, match="event 2: actor"):
        ledger.submit(batch)
    assert ledger.head_seq() == 0


def test_batch_with_one_conflicting_event_writes_nothing(ledger: Ledger) -> None:
    recorded = shown()
    ledger.submit([recorded])
    batch = [*many_shown(3), shown(event_id=recorded["event_id"], source="other-system")]
    with pytest.raises(EventConflict):
        ledger.submit(batch)
    assert ledger.head_seq() == 1


def test_batch_mixing_new_and_retried_events_appends_only_the_new(ledger: Ledger) -> None:
    old = many_shown(2, prefix="old")
    ledger.submit(old)
    receipts = ledger.submit([old[0], *many_shown(2, prefix="new"), old[1]])
    assert [(r.seq, r.created) for r in receipts] == [(1, False), (3, True), (4, True), (2, False)]


def test_get_by_event_id(ledger: Ledger) -> None:
    event = shown()
    receipt = ledger.submit([event])[0]
    record = ledger.get(event["event_id"])
    assert record is not None and record.seq == receipt.seq and record.hash == receipt.hash
    assert ledger.get(uuid.uuid4()) is None


def test_notification_log_is_numbered_by_seq(ledger: Ledger) -> None:
    ledger.submit(many_shown(3))
    notifications = ledger.app.notification_log.select(start=2, limit=5)
    assert [n.id for n in notifications] == [2, 3]
    assert notifications[0].topic == "ledger:output.shown"


@pytest.mark.slow
def test_concurrent_writers_make_one_dense_chain(store_url: str) -> None:
    writers, per_writer = 4, 1000
    errors: list[BaseException] = []
    receipts: list[list[int]] = [[] for _ in range(writers)]
    sent: list[list[str]] = [[] for _ in range(writers)]

    def write(index: int) -> None:
        try:
            with Ledger(env_settings(store_url)) as own:
                events = many_shown(per_writer, prefix=f"w{index}")
                sent[index] = [e["event_id"] for e in events]
                for start in range(0, per_writer, 10):  # mix of small batches and singles
                    chunk = events[start : start + 10]
                    if start % 20:
                        receipts[index] += [r.seq for r in ledger_submit_each(own, chunk)]
                    else:
                        receipts[index] += [r.seq for r in own.submit(chunk)]
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    Ledger(env_settings(store_url)).close()  # create the tables once, before the race
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    all_seqs = sorted(seq for seqs in receipts for seq in seqs)
    assert all_seqs == list(range(1, writers * per_writer + 1))
    with Ledger(env_settings(store_url)) as ledger:
        report = verify_store(ledger)
        assert report.intact, report.findings[:5]
        assert report.events == writers * per_writer
        stored = {r.event_id for r in ledger.records()}
    assert stored == {eid for ids in sent for eid in ids}


def test_writers_whose_head_another_moved_chain_onto_the_real_head(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as first, Ledger(env_settings(store_url)) as second:
        for turn in range(4):  # each writer's cached head is stale at every turn
            first.submit(many_shown(3, prefix=f"a{turn}"))
            singles = many_shown(2, prefix=f"b{turn}")
            for event in singles:
                second.submit([event])
        retried = first.submit([singles[-1]])[0]  # the other writer's last event, through a stale writer
        assert not retried.created and retried.seq == 20
        with pytest.raises(EventConflict, match="seq 20"):
            first.submit([shown(event_id=singles[-1]["event_id"], clinician_id="dr-other")])
        report = verify_store(first)
        assert report.intact, report.findings[:5]
        assert [r.seq for r in first.records()] == list(range(1, 21))
        leaves = [merkle.leaf_hash(r.entry) for r in first.records()]
        assert merkle.root(20, second) == merkle.root_of_leaves(leaves)


def ledger_submit_each(ledger: Ledger, events: list[dict[str, object]]):
    return [ledger.submit([event])[0] for event in events]


def test_stored_merkle_nodes_give_the_rfc6962_root_and_valid_proofs(ledger: Ledger) -> None:
    for size in (1, 2, 5, 1, 13, 3):  # uneven batches cross every subtree boundary
        ledger.submit(many_shown(size, prefix=f"m{size}-{ledger.head_seq()}"))
    records = list(ledger.records())
    leaves = [merkle.leaf_hash(r.entry) for r in records]
    n = len(leaves)
    assert merkle.root(n, ledger) == merkle.root_of_leaves(leaves)
    for index in (0, 7, n - 1):
        proof = merkle.inclusion_proof(index=index, size=n, reader=ledger)
        merkle.verify_inclusion(index=index, size=n, leaf_hash=leaves[index], proof=proof, root=merkle.root(n, ledger))
    for old in (1, 8, n - 1):
        proof = merkle.consistency_proof(size1=old, size2=n, reader=ledger)
        merkle.verify_consistency(
            size1=old, size2=n, root1=merkle.root_of_leaves(leaves[:old]), root2=merkle.root(n, ledger), proof=proof
        )
