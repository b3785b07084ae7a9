"""`python -m scripts.bench index`: what the completeness index costs (issue 20).

Three figures, each on SQLite and (unless --postgres-url '') PostgreSQL:

1. Append throughput with the index kept beside it, against without: the same
   batches of 100 realistic ``output.shown`` events, alternating rounds; "with"
   adds the index's catch-up over those events (``ledger.index.catch_up``, what
   each checkpoint runs), so it is the append path plus its share of the index.
   Beside the wall-clock ratio, the same ratio of this process's CPU time
   (``time.process_time``): on a shared machine it moves less with the load,
   and on SQLite it holds all the work (on PostgreSQL the server's is not in it).
   Issue 20's target (at most 15% slower) is judged where emitters append, as
   issue 6's sealing cost is: `ledger bench`'s row "HTTP append with the
   completeness index kept" (scripts/benchmark.py).
2. Index proof generation (``IndexStore.prove``) at the committed size of a
   log of --index-size events: p50 and p95 over 300 keys that exist.
3. The index's full recomputation (``ledger verify`` step 11) in events/s,
   beside steps 1-10 on the same log.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from ledger.audit import index_claims
from ledger.index import IndexStore, catch_up
from ledger.proof.verify import Report, check_index
from ledger.store import Ledger
from scripts.benchkit import machine, percentile, rate
from scripts.common import ledger_settings
from scripts.loadgen import sample_events

load: Any = None
run_batches: Any = None
stores: Any = None
timed: Any = None


def bench_index(args: argparse.Namespace, kit: Any) -> None:
    """Print the three tables; ``kit`` is scripts.bench (its stores, load, run_batches, timed), passed in
    so that the harness and this section do not import each other."""
    global load, run_batches, stores, timed  # noqa: PLW0603
    load, run_batches, stores, timed = kit.load, kit.run_batches, kit.stores, kit.timed
    print(f"## Completeness index ({machine()}; medians of {args.rounds} alternating rounds)\n")
    print("| store | events per round | append ev/s | append + index ev/s | with / without | same, client CPU |")
    print("|---|---|---|---|---|---|")
    with stores(args.postgres_url) as found:
        for store in found:
            print(_append_row(store.name, store.ledger_url, args.events, args.rounds))
    print("\n| store | log size | index catch-up ev/s | proof p50 ms | proof p95 ms | verify 1-10 ev/s "
          "| index recomputation ev/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    with stores(args.postgres_url) as found:
        for store in found:
            print(_size_row(store.name, store.ledger_url, args.index_size))


def _append_row(name: str, url: str, count: int, rounds: int) -> str:
    without: list[float] = []
    beside: list[float] = []
    cpu: list[float] = []  # CPU seconds of the append alone / of append and catch-up, per round
    with Ledger(ledger_settings(url)) as ledger:
        store = IndexStore(ledger)
        catch_up(store, head=ledger.head_seq())
        for _ in range(rounds):
            started = time.process_time()
            without.append(run_batches(ledger.submit, sample_events(count), 100))
            alone = time.process_time() - started
            catch_up(store, head=ledger.head_seq())  # the round before is indexed: the next measures its own
            events = sample_events(count)
            started = time.process_time()
            seconds = count / run_batches(ledger.submit, events, 100)
            seconds += timed(lambda: catch_up(store, head=ledger.head_seq()))
            cpu.append(alone / (time.process_time() - started))
            beside.append(rate(count, seconds))
    ratio = statistics.median(b / w for b, w in zip(beside, without, strict=True))
    med = statistics.median
    return f"| {name} | {count:,} | {med(without):,.0f} | {med(beside):,.0f} | {ratio:.2f} | {med(cpu):.2f} |"


def _size_row(name: str, url: str, size: int) -> str:
    with Ledger(ledger_settings(url)) as ledger:
        load(ledger, size - ledger.head_seq())
        store = IndexStore(ledger)
        head = ledger.head_seq()
        catch_up_rate = rate(head, timed(lambda: catch_up(store, head=head)))
        proof_ms = _proof_times(store, head)
        claims = index_claims(ledger)
        verify_rate = rate(head, timed(lambda: _verify_1_to_10(ledger)))
        recompute_rate = rate(head, timed(lambda: check_index(((r.seq, r.body) for r in ledger.records()), claims,
                                                              Report())))  # fmt: skip
    return (f"| {name} | {head:,} | {catch_up_rate:,.0f} | {statistics.median(proof_ms):.2f} "
            f"| {percentile(proof_ms, 0.95):.2f} | {verify_rate:,.0f} | {recompute_rate:,.0f} |")  # fmt: skip


def _proof_times(store: IndexStore, size: int, samples: int = 300) -> list[float]:
    keys = [f"output:out-{random.randrange(size)}" for _ in range(samples)]  # noqa: S311 (sampling, not secrets)
    times = []
    for key in keys:
        start = time.perf_counter()
        store.prove(key, tree_size=size)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _verify_1_to_10(ledger: Any) -> None:
    from ledger.audit import _verify_log

    _verify_log(ledger, claims=(), keyring=None, origin=None, progress=None)
