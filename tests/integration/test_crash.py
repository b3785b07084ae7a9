"""A writer killed (SIGKILL) in the middle of appending loses no acknowledged event and leaves no partial batch.

Principle 2: nothing is ever lost or silently changed. The writer is a separate
process appending sealed batches (a first-seen patient's key in most of them)
as fast as it can; it is killed at a random moment, three times, on each store.
After each kill: the chain verifies; every acknowledged event is at the seq its
receipt gave, with its sealed fields opening; the log ends on a batch boundary
(the batch in flight either committed whole or not at all); and that batch,
sent again as an emitter retrying would, is recorded exactly once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger.audit import verify_store
from ledger.store import Ledger
from tests.integration.crash_writer import BATCH, batch
from tests.ledgers import env_settings

ROOT = Path(__file__).resolve().parents[2]
KILLS = 3


def _run_until_killed(url: str, first: int, *, acks: int) -> dict[int, int]:
    """Start a writer at batch ``first``, kill it at random after ``acks`` acknowledgements; its acks (batch -> seq)."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_writer", url, str(first)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = []
        while len(lines) < acks:
            line = writer.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the writer died by itself: {writer.stderr.read()[-2000:]}"  # type: ignore[union-attr]
            lines.append(line)
        time.sleep(random.uniform(0, 0.05))  # somewhere inside a later append
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        # Printed before it died: only whole lines are acknowledgements. A line the kill cut short (no
        # newline) is not one, and its batch counts as in flight (resent below: it lands once either way).
        lines += writer.stdout.read().split("\n")[:-1]  # type: ignore[union-attr]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL
    return {int(number): int(seq) for number, seq in (line.split() for line in lines)}


def test_a_killed_writer_loses_no_acknowledged_event_and_its_batch_in_flight_lands_once(store_url: str) -> None:
    Ledger(env_settings(store_url)).close()  # the tables exist before the first writer starts
    acked: dict[int, int] = {}
    first = 0
    for _ in range(KILLS):
        acked |= _run_until_killed(store_url, first, acks=5)
        in_flight = max(acked) + 1
        assert sorted(acked) == list(range(in_flight))
        with Ledger(env_settings(store_url)) as ledger:
            assert verify_store(ledger).intact
            for number, seq in acked.items():
                records = [ledger.get(e["event_id"]) for e in batch(number)]
                assert [r.seq if r else None for r in records] == list(range(seq, seq + BATCH)), number
            head = ledger.head_seq()
            assert head % BATCH == 0 and head in (in_flight * BATCH, (in_flight + 1) * BATCH)
            landed = head == (in_flight + 1) * BATCH  # committed, but the writer died before its ack

            receipts = ledger.submit(batch(in_flight))  # the emitter's retry

            assert [r.seq for r in receipts] == list(range(in_flight * BATCH + 1, (in_flight + 1) * BATCH + 1))
            assert [r.created for r in receipts] == [not landed] * BATCH
            assert ledger.head_seq() == (in_flight + 1) * BATCH
            for event in batch(in_flight) + batch(in_flight - 1):
                opened = ledger.open(ledger.get(event["event_id"])).envelope["data"]  # type: ignore[arg-type]
                assert opened["patient_ref"] == event["data"]["patient_ref"]
            acked[in_flight] = receipts[0].seq
        first = in_flight + 1
    with Ledger(env_settings(store_url)) as ledger:
        assert verify_store(ledger).intact and ledger.head_seq() == first * BATCH
