"""Failover without loss: the primary killed under load, its synchronous standby promoted, nothing acknowledged lost.

The primary and its standby are the test's own (tests/pgcluster.py: initdb,
pg_basebackup -R, ``synchronous_standby_names = '*'``, ``synchronous_commit =
remote_apply``; never the machine's server). Several emitters append single
events through the library, each sending an event again, with the same
event_id, until it is answered, as a real emitter must. A checkpoint is signed
on the primary under load; then the primary is killed (``pg_ctl stop -m
immediate``, a crash) and the standby promoted, and the emitters carry on
against it. At the end, on the new primary:

  - every acknowledged event is there, at the seq and chain hash of its receipt;
  - every event sent is there exactly once (retries of unanswered appends landed
    once), and the seqs are dense;
  - ``verify_store`` finds the chain, the tree and the stored checkpoints intact;
  - a checkpoint signed after the failover is consistent with the one signed
    before it (an RFC 6962 consistency proof from the new primary's tree), and
    both verify under the ledger's key.

The figures (events acknowledged and found, unanswered and retried, time to
promote, the standby's lag under load) are printed for docs/scaling.md, never
asserted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledger.audit import verify_store
from ledger.checkpointing import Signed, make_checkpoint
from ledger.errors import StoreUnavailable
from ledger.proof import merkle
from ledger.proof.checkpoint import CheckpointDirectory, open_checkpoint
from ledger.signing import KeyFolder
from ledger.store import Ledger
from ledger.store.records import Receipt
from tests.factories import shown
from tests.ledgers import env_settings
from tests.pgcluster import PgCluster, throwaway_pair

pytestmark = pytest.mark.slow

EMITTERS = 4
EVENTS_EACH = 40
ACKS_BEFORE_CHECKPOINT = 30
ACKS_BEFORE_KILL = 80
DEADLINE_S = 45  # the whole load, failover included; the test fails rather than run past it
ORIGIN = "failover.test.example/ledger"
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@dataclass
class Emitters:
    """What the emitters sent and were told, and the ledger they append to (replaced at the failover)."""

    ledger: Ledger
    acked: dict[str, Receipt] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)
    unanswered: int = 0  # attempts that got no answer (the primary died under them)
    retried_found: int = 0  # events whose retry was answered with the receipt of an earlier, unanswered attempt
    problems: list[str] = field(default_factory=list)
    promoted: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, worker: int) -> None:
        """Append this worker's events one by one, retrying each until it is answered."""
        deadline = time.monotonic() + DEADLINE_S
        for index in range(EVENTS_EACH):
            event = shown(f"out-{worker}-{index}", event_id=str(uuid.uuid4()))
            with self.lock:
                self.sent.add(event["event_id"])
            if not self._until_answered(event, deadline):
                return

    def _until_answered(self, event: dict[str, object], deadline: float) -> bool:
        retried = False
        while time.monotonic() < deadline:
            ledger = self.ledger
            try:
                receipt = ledger.submit([event])[0]
            except StoreUnavailable:
                with self.lock:
                    self.unanswered += 1
                retried = True
                self.promoted.wait(0.2)  # the operator is promoting the standby
                continue
            with self.lock:
                self.acked[receipt.event_id] = receipt
                self.retried_found += retried and not receipt.created
            return True
        self.problems.append("an event was never answered before the deadline")
        return False

    def wait_for(self, acks: int) -> None:
        """Block until ``acks`` events are acknowledged (or fail at the deadline)."""
        deadline = time.monotonic() + DEADLINE_S
        while len(self.acked) < acks:
            assert time.monotonic() < deadline, f"only {len(self.acked)} acknowledgements"
            time.sleep(0.01)


@pytest.fixture
def pair() -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary and its synchronous (remote_apply) standby, for this test alone: the primary is killed."""
    with throwaway_pair("remote_apply") as clusters:
        yield clusters


def _sign(ledger: Ledger, keys: KeyFolder, folder: CheckpointDirectory) -> Signed:
    signed = make_checkpoint(ledger, keys.active_key(), origin=ORIGIN, folder=folder)
    assert signed is not None
    return signed


def test_a_killed_primary_loses_no_acknowledged_event_and_the_promoted_standby_continues_the_chain(
    pair: tuple[PgCluster, PgCluster], tmp_path: Path
) -> None:
    """Kill the primary under load from several emitters and promote its synchronous standby: every acknowledged
    event is found at its receipt's seq and hash, every retry landed once, the log verifies, and checkpoints
    signed before and after the failover are consistent."""
    primary, standby = pair
    primary.sql('CREATE SCHEMA "ledger"')
    (tmp_path / "checkpoints").mkdir()
    keys, folder = KeyFolder(tmp_path / "keys"), CheckpointDirectory(tmp_path / "checkpoints")
    old = Ledger(env_settings(f"{primary.url()}?schema=ledger"))
    keys.activate_new("failover.test", ledger=old, actor=OPERATOR, reason=None)
    load = Emitters(old)
    threads = [threading.Thread(target=load.run, args=(n,)) for n in range(EMITTERS)]
    for thread in threads:
        thread.start()
    load.wait_for(ACKS_BEFORE_CHECKPOINT)
    before = _sign(old, keys, folder)
    with Ledger(env_settings(f"{standby.url()}?schema=ledger"), create_tables=False) as replica:
        lags = []
        while len(load.acked) < ACKS_BEFORE_KILL:
            lags.append(replica.replica_lag_s() or 0.0)
            time.sleep(0.01)
    acked_before_kill = len(load.acked)
    # An append that committed on the primary (and, synchronously, on the standby) whose answer never came back:
    # the emitter cannot tell it from a lost one, and sends it again after the failover.
    lost_answer = shown("out-lost-answer", event_id=str(uuid.uuid4()))
    landed = old.submit([lost_answer])[0]

    killed = time.monotonic()
    primary.stop("immediate")
    standby.promote()
    load.ledger = Ledger(env_settings(f"{standby.url()}?schema=ledger"))
    load.promoted.set()
    promoted_s = time.monotonic() - killed
    for thread in threads:
        thread.join(DEADLINE_S)
    old.close()
    new = load.ledger
    try:
        again = new.submit([lost_answer])[0]
        assert (again.seq, again.hash, again.created) == (landed.seq, landed.hash, False)
        assert not load.problems
        assert set(load.acked) == load.sent  # every event was answered in the end
        records = {r.event_id: r for r in new.records()}
        # 1. No acknowledged event lost: each at its receipt's seq and chain hash.
        for event_id, receipt in load.acked.items():
            assert event_id in records, f"acknowledged event at seq {receipt.seq} lost"
            assert (records[event_id].seq, records[event_id].hash) == (receipt.seq, receipt.hash)
        # 2. Retries landed once: one record per event sent (and the signing key's), seqs dense.
        emitted = [r for r in records.values() if r.event_id in load.sent]
        assert len(emitted) == len(load.sent)
        assert lost_answer["event_id"] in records
        assert sorted(r.seq for r in records.values()) == list(range(1, new.head_seq() + 1))
        # 3. Chain, tree and stored checkpoints intact; 4. before and after the failover, consistent.
        after = _sign(new, keys, folder)
        keyring = keys.keyring()
        report = verify_store(new, keyring=keyring, origin=ORIGIN)
        assert report.intact, report.findings
        assert report.checkpoints_checked >= 2
        first = open_checkpoint(before.note, keyring, origin=ORIGIN)
        second = open_checkpoint(after.note, keyring, origin=ORIGIN)
        assert first.size < second.size
        proof = merkle.consistency_proof(size1=first.size, size2=second.size, reader=new)
        merkle.verify_consistency(
            size1=first.size, size2=second.size, root1=first.root_hash, root2=second.root_hash, proof=proof
        )
    finally:
        new.close()
    print(
        f"\nfailover: {EMITTERS} emitters, {len(load.sent)} events sent, {acked_before_kill} acknowledged before "
        f"the kill, {len(load.acked)} acknowledged and {len(load.acked)} found; {load.unanswered} unanswered "
        f"attempts, {load.retried_found} retries answered with an earlier attempt's receipt; kill to promoted "
        f"{promoted_s:.2f} s; standby lag under load max {max(lags, default=0):.4f} s over {len(lags)} samples; "
        f"checkpoints {first.size} -> {second.size} consistent"
    )
