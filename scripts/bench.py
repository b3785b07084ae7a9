"""The benchmark harness: one run, every figure in docs/performance.md, ratios measured side by side.

    python -m scripts.bench append   [--events N] [--postgres-url URL]
    python -m scripts.bench verify   [--events N] ...
    python -m scripts.bench organisations [--organisation-counts 1 4 16]

Not a test: machines here are shared and noisy, so figures are written in the
docs and compared as ratios measured in the same run, never asserted.
Each section prints a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from eventsourcing.application import Application

from ledger import pgcopy, verify_chunks
from ledger.catalogue import canonical_bytes, validate_event
from ledger.proof import merkle
from ledger.proof.chain import link_hash, row_hashes
from ledger.proof.merkle import CompactRange
from ledger.store import Ledger
from ledger.store.app import Fact
from scripts.benchkit import _SIDES, PlainRecorded, UnsealedLedger, _privacy_row, _Side, machine, percentile, rate
from scripts.common import ledger_settings
from scripts.loadgen import generated_events, sample_events

PG_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def facts_of(events: Sequence[dict[str, Any]]) -> list[Fact]:
    """Validated, canonical facts (validation timed separately)."""
    out = []
    for raw in events:
        event = validate_event(raw)
        out.append(Fact(uuid.UUID(event.event_id), 1, event.type, canonical_bytes(event)))
    return out


@dataclass
class Store:
    """Fresh ledger locations and a fresh location for the plain baseline."""

    name: str
    ledger_urls: list[str]
    plain_env: dict[str, str]

    @property
    def ledger_url(self) -> str:
        """The first ledger's URL."""
        return self.ledger_urls[0]


@contextmanager
def stores(postgres_url: str | None, *, ledgers: int = 1) -> Iterator[list[Store]]:
    """Fresh SQLite files and fresh PostgreSQL schemas (``ledgers`` of them each), removed afterwards."""
    with TemporaryDirectory() as tmp:
        found = [
            Store(
                "SQLite",
                [f"sqlite:///{tmp}/ledger{i or ''}.sqlite3" for i in range(ledgers)],
                {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/plain.sqlite3"},
            )
        ]
        schemas: list[str] = []
        if postgres_url:
            for _ in range(ledgers + 1):
                schemas.append(f"bench_{uuid.uuid4().hex[:10]}")
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
            parts = psycopg.conninfo.conninfo_to_dict(postgres_url)
            found.append(
                Store(
                    "PostgreSQL",
                    [f"{postgres_url}?schema={schema}" for schema in schemas[:-1]],
                    {
                        "PERSISTENCE_MODULE": "eventsourcing.postgres",
                        "POSTGRES_DBNAME": str(parts.get("dbname", "test")),
                        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
                        "POSTGRES_PORT": str(parts.get("port", 5432)),
                        "POSTGRES_USER": str(parts.get("user", "postgres")),
                        "POSTGRES_PASSWORD": str(parts.get("password", "")),
                        "POSTGRES_SCHEMA": schemas[-1],
                    },
                )
            )
        try:
            yield found
        finally:
            if schemas and postgres_url:
                with psycopg.connect(postgres_url, autocommit=True) as conn:
                    for schema in schemas:
                        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def timed(action: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run_batches(append: Callable[[Sequence[Any]], Any], items: Sequence[Any], size: int) -> float:
    """Events per second appending ``items`` in batches of ``size``."""

    def go() -> None:
        for start in range(0, len(items), size):
            append(items[start : start + size])

    return rate(len(items), timed(go))


class PlainApp(Application[uuid.UUID]):
    """eventsourcing as it comes: default mapper, JSON transcoder and recorder, no chain."""

    name = "Plain"


def bench_append(args: argparse.Namespace) -> None:
    """Append throughput: the ledger (chain + Merkle nodes) beside plain eventsourcing.

    Rounds alternate plain and ledger on the same machine state; the table gives
    medians over the rounds, and the ratio is the median of per-round ratios.
    """
    print(f"## Append throughput ({machine()}; medians of {args.rounds} alternating rounds)\n")
    print("| store | events/txn | events per round | plain eventsourcing ev/s | ledger ev/s | ledger / plain "
          "| ledger incl. validation ev/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    with stores(args.postgres_url) as found:
        for store in found:
            for size in (1, 100):
                count = args.single_events if size == 1 else args.events
                print(_append_row(store, size, count, args.rounds))
    events = sample_events(args.events)
    validation = rate(len(events), timed(lambda: facts_of(events)))
    print(f"\nValidation and canonicalization alone (catalogue + canonical bytes): {validation:,.0f} events/s.\n")


def _append_row(store: Store, size: int, count: int, rounds: int) -> str:
    plain_rates: list[float] = []
    ledger_rates: list[float] = []
    full_rates: list[float] = []
    plain = PlainApp(env=store.plain_env)

    def save_plain(items: Sequence[Any]) -> None:
        plain.save(*items)

    with Ledger(ledger_settings(store.ledger_url)) as ledger:
        for _ in range(rounds):
            baseline = [PlainRecorded.of(f) for f in facts_of(sample_events(count))]
            plain_rates.append(run_batches(save_plain, baseline, size))
            ledger_rates.append(run_batches(ledger.append_facts, facts_of(sample_events(count)), size))
            full_rates.append(run_batches(ledger.submit, sample_events(count), size))
    plain.close()
    ratio = statistics.median(lr / pr for lr, pr in zip(ledger_rates, plain_rates, strict=True))
    med = statistics.median
    return (f"| {store.name} | {size} | {count:,} | {med(plain_rates):,.0f} | {med(ledger_rates):,.0f} "
            f"| {ratio:.2f} | {med(full_rates):,.0f} |")  # fmt: skip


def fast_facts(count: int, *, start: int = 0) -> list[Fact]:
    """Canonical output.shown facts built from a template (the catalogue's bytes, without validating each)."""
    template = facts_of(sample_events(1))[0].body.decode()
    output = template[template.index('"output_id":"') + 13 :].split('"', 1)[0]
    facts = []
    for i in range(start, start + count):
        event_id = uuid.uuid4()
        body = template.replace(output, f"out-{i}").replace(template.split('"event_id":"')[1][:36], str(event_id))
        facts.append(Fact(event_id, 1, "output.shown", body.encode()))
    return facts


def load(ledger: Ledger, count: int, *, batch: int = 1000) -> float:
    """Append ``count`` template facts; events per second."""
    seconds = 0.0
    for start in range(0, count, 50_000):
        facts = fast_facts(min(50_000, count - start), start=start)
        seconds += len(facts) / run_batches(ledger.append_facts, facts, batch)
    return rate(count, seconds)


def bench_verify(args: argparse.Namespace) -> None:
    """`ledger verify` throughput and peak memory, proof generation, beside bare SHA-256 chaining."""
    url = f"{args.postgres_url}?schema=bench_verify" if args.postgres_url else None
    if url is None:
        print("verify section needs PostgreSQL")
        return
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_verify CASCADE")
        conn.execute("CREATE SCHEMA bench_verify")
    print(f"## Verification and proofs on PostgreSQL ({machine()}; {verify_chunks.PROCESSES} verifying processes)\n")
    print("| events | load ev/s (batches of 1000) | verify ev/s | verify peak RSS MB, all processes | bare SHA-256 "
          "chain ev/s | inclusion proof p50 / p95 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    loaded, costs = 0, []
    with Ledger(ledger_settings(url)) as ledger:
        for target in args.verify_sizes:
            load_rate = load(ledger, target - loaded)
            loaded = target
            verify_rate, peak = _verify_in_subprocess(url, target)
            chain_rate = _bare_chain_rate(ledger, min(target, 200_000))
            p50, p95 = _proof_times(ledger, target)
            print(f"| {target:,} | {load_rate:,.0f} | {verify_rate:,.0f} | {peak} | {chain_rate:,.0f} "
                  f"| {p50:.2f} / {p95:.2f} |")  # fmt: skip
            costs.append(_verify_costs(ledger, target))
    print("\nWhere the CPU goes, per event, in microseconds of CPU time (one process each, same run):\n")
    print("| events | COPY alone: client | COPY alone: PostgreSQL backend | hashing alone (3 SHA-256 + Merkle fold) "
          "| every step, one process |")  # fmt: skip
    print("|---|---|---|---|---|")
    for row in costs:
        print(row)
    print()
    if not args.keep:
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA bench_verify CASCADE")


def _verify_in_subprocess(url: str, expected: int) -> tuple[float, str]:
    """Run `ledger verify` as an auditor would: its own rate, and the peak memory of its processes."""
    code = (
        # Peak RSS from VmHWM: ru_maxrss would include the parent's pages at fork time. The
        # workers' peak is RUSAGE_CHILDREN's ru_maxrss, which does include them (spawn forks,
        # then execs): an upper bound.
        "import resource, sys, time\n"
        "from ledger.store import Ledger\nfrom ledger import verify_chunks\nfrom ledger.audit import verify_store\n"
        f"L = Ledger({url!r}, create_tables=False)\n"
        "t = time.perf_counter(); r = verify_store(L); s = time.perf_counter() - t\n"
        f"assert r.intact and r.events == {expected}, r.findings[:3]\n"
        "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')][0].split()[1]\n"
        "child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(r.events / s, int(hwm) / 1024, child / 1024, verify_chunks.PROCESSES - 1)\n"
    )
    command = [sys.executable, "-c", code]  # our own code, our own interpreter
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    verify_rate, own, child, workers = out.split()
    total = float(own) + int(workers) * float(child)
    return float(verify_rate), f"{total:,.0f} ({float(own):,.0f} + {workers} x {float(child):,.0f})"


def _verify_costs(ledger: Ledger, count: int) -> str:
    """CPU per event: COPY alone (client and server), the hashing alone, and every step in one process."""
    source = ledger.copy_source()
    if source is None:
        return f"| {count:,} | - | - | - | - |"
    with psycopg.connect(**source.params, options="-c enable_sort=off") as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        backend = row[0] if row else 0
        server, client = _backend_cpu(backend), time.process_time()
        rows = sum(1 for _ in pgcopy.copy_rows(conn, source, lo=None, hi=None))
        client, server = time.process_time() - client, _backend_cpu(backend) - server
    hashing = _hashing_seconds(ledger, min(count, 200_000))
    processes, verify_chunks.PROCESSES = verify_chunks.PROCESSES, 1
    try:
        start = time.process_time()
        verify_chunks.verify_chunks(source, unchained=ledger.unchained_events)
        alone = time.process_time() - start
    finally:
        verify_chunks.PROCESSES = processes
    return (f"| {count:,} | {client / rows * 1e6:.2f} | {server / rows * 1e6:.2f} | {hashing * 1e6:.2f} "
            f"| {alone / count * 1e6:.2f} |")  # fmt: skip


def _backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend on this host has used (its /proc stat), NaN if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hashing_seconds(ledger: Ledger, count: int) -> float:
    """CPU seconds per entry for the verifier's hashes of the stored bytes, in memory: link, leaf, digest, fold."""
    entries = [(r.seq, r.recorded_us, r.prev_hash, r.body) for r in ledger.read(after_seq=0, limit=count)]
    start = time.process_time()
    leaves = []
    for seq, recorded_us, prev, body in entries:
        leaves.append(row_hashes(seq=seq, recorded_us=recorded_us, prev=prev, body=body)[1])
    CompactRange().extend(leaves)
    return (time.process_time() - start) / len(entries)


def _bare_chain_rate(ledger: Ledger, count: int) -> float:
    """SHA-256 chaining of the same stored bytes, in memory: the floor any verifier pays."""
    bodies = [r.entry for r in ledger.read(after_seq=0, limit=count)]
    prev = bytes(32)

    def chain() -> None:
        nonlocal prev
        for entry in bodies:
            prev = link_hash(prev=prev, entry=entry)

    return rate(len(bodies), timed(chain))


def _proof_times(ledger: Ledger, size: int, samples: int = 500) -> tuple[float, float]:
    """Server-side time to build an inclusion proof from stored subtrees, milliseconds."""
    times = []
    for index in random.sample(range(size), min(samples, size)):
        start = time.perf_counter()
        merkle.inclusion_proof(index=index, size=size, reader=ledger)
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 0.5), percentile(times, 0.95)


_ORDERS = list(itertools.permutations(range(len(_SIDES))))


def bench_privacy(args: argparse.Namespace) -> None:
    """The cost of per-subject encryption on append throughput (batches of 100), sides alternating batch by batch.

    Three sides: one sealing, two not (the second is an A/A control: the same
    procedure between two identical sides, so the run shows its own noise
    floor). Each side writes a ledger of its own, as a server writes its ledger,
    and the sides move to the next of three ledgers each round, so no ledger's
    file or schema favours a side. In each round every side appends
    ``--events / 2`` events in batches of 100, and the sides take turns batch by
    batch, in an order that cycles through all six permutations: all three see
    the same moments of the machine and, batch for batch, the same database
    size. Each round names new patients (one event in ten is a patient's
    first), so the sealed side makes and stores first-seen subjects' keys as
    live traffic would. The round's input (the three sides' events, made
    before its clock starts) is frozen out of the garbage collector: otherwise
    every full collection walks it, 30-50 ms that land on whichever side's batch
    triggers one (5-15% of a round, by chance), though no server holds its
    future input in memory. The cost of a round is 1 - sealed / unsealed events per
    second (the A/A row: 1 - unsealed again / unsealed); the table gives the
    median over rounds, every round's figure, and the client's CPU per event
    (``time.process_time``).
    """
    print(f"## Encryption cost on appends ({machine()}; output.generated, 3 sealed fields, medians of "
          f"{args.rounds} rounds, the sides alternating batch by batch)\n")  # fmt: skip
    print("| store | events/txn | without sealing ev/s | with sealing ev/s | cost (median of rounds) "
          "| cost, round by round | CPU µs/event without / with |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    with stores(args.postgres_url, ledgers=len(_SIDES)) as found:
        for store in found:
            rounds = _privacy_rounds(store, events=args.events // 2, rounds=args.rounds)
            plain = [r[0] for r in rounds]
            print(_privacy_row(store.name, plain=plain, sealed=[r[2] for r in rounds]))
            print(_privacy_row(f"{store.name}, A/A control", plain=plain, sealed=[r[1] for r in rounds]))
    print()
    from scripts.bench_api import bench_privacy_api  # the server's client libraries, only when asked

    bench_privacy_api(args)


def _privacy_rounds(store: Store, *, events: int, rounds: int) -> list[list[_Side]]:
    """Each round's totals per side (in _SIDES order); the sides move to the next ledger each round."""
    with contextlib.ExitStack() as stack:
        opened = [ledger_settings(url) for url in store.ledger_urls]
        handles = [{seal: stack.enter_context((Ledger if seal else UnsealedLedger)(settings)) for seal in (False, True)}
                   for settings in opened]  # fmt: skip
        for handle in handles:
            _ = handle[True].keys  # open the key vault outside the timings
        found = []
        for round_ in range(rounds):
            ledgers = [handles[(round_ + index) % len(handles)][name == "sealed"] for index, name in enumerate(_SIDES)]
            sides = [generated_events(events, patients=f"r{round_:02d}{index}-") for index in range(len(_SIDES))]
            batches = [[side[i : i + 100] for i in range(0, events, 100)] for side in sides]
            totals = [_Side() for _ in _SIDES]
            gc.collect()
            gc.freeze()  # the round's input, held by the harness, is not walked by the collections the sides cause
            for number in range(len(batches[0])):
                for index in _ORDERS[number % len(_ORDERS)]:
                    batch = batches[index][number]
                    cpu, wall = time.process_time(), time.perf_counter()
                    ledgers[index].submit(batch)
                    totals[index].wall += time.perf_counter() - wall
                    totals[index].cpu += time.process_time() - cpu
                    totals[index].events += len(batch)
            gc.unfreeze()
            found.append(totals)
    return found


def bench_projections(args: argparse.Namespace) -> None:
    """Query times, rebuild speed and projection lag on PostgreSQL (scripts.bench_projections does the work)."""
    from scripts import bench_projections as pb

    if not args.postgres_url:
        print("projections section needs PostgreSQL")
        return
    print(f"## Projections on PostgreSQL ({machine()})\n")
    print("| events in the log | rebuild ev/s | timeline p50 / p95 ms | accountability p50 / p95 ms "
          "| lag at 1,000 ev/s p50 / p95 s |")  # fmt: skip
    print("|---|---|---|---|---|")
    schema = "bench_projections"
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{args.postgres_url}?schema={schema}"
    with Ledger(ledger_settings(url)) as ledger:
        loaded = pb.load_synthetic(ledger, events=args.projection_events)
        rebuild = pb.measure_rebuild(ledger)
        queries = pb.measure_queries(ledger)
    lag = pb.measure_lag(url, rate=1000.0, seconds=args.lag_seconds)
    timeline, report = queries["timeline"], queries["accountability"]
    cells = [
        f"{loaded:,}",
        f"{rebuild['events_per_second']:,.0f}",
        f"{timeline['p50']:.1f} / {timeline['p95']:.1f}",
        f"{report['p50']:.1f} / {report['p95']:.1f}",
        f"{lag['lag_p50_s']:.3f} / {lag['lag_p95_s']:.3f} (at {lag['rate']:,.0f} ev/s)",
    ]
    print("| " + " | ".join(cells) + " |\n")
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _bench_api(args: argparse.Namespace) -> None:
    from scripts.bench_api import bench_api  # imports the server's client libraries only when asked

    bench_api(args)


def _bench_pages(args: argparse.Namespace) -> None:
    from scripts.bench_pages import bench_pages  # Playwright, where installed, only when asked

    bench_pages(args)


def _bench_fhir(args: argparse.Namespace) -> None:
    from scripts.bench_fhir import bench_fhir  # the server's client libraries, only when asked

    bench_fhir(args)


def _bench_index(args: argparse.Namespace) -> None:
    from scripts.bench_index import bench_index

    bench_index(args, sys.modules[__name__])


def organisations_rate(urls: Sequence[str], *, events: int, batch: int, writers: int) -> float:
    """Aggregate events per second of ``writers`` threads appending at once, writer i to ledger i mod len(urls).

    ``events`` in all, in transactions of ``batch``. One ledger serializes its
    appends (one advisory lock a ledger: ledger.store.postgres), so writers of one
    ledger queue; writers of separate organisation ledgers do not.
    """
    ledgers = [Ledger(ledger_settings(url)) for url in urls]
    share = events // writers
    work = [(ledgers[i % len(ledgers)], fast_facts(share, start=i * share)) for i in range(writers)]

    def write(item: tuple[Ledger, list[Fact]]) -> None:
        ledger, facts = item
        for start in range(0, len(facts), batch):
            ledger.append_facts(facts[start : start + batch])

    try:
        for ledger in ledgers:  # each ledger's tables and first connection, outside the timing
            ledger.head_seq()
        with ThreadPoolExecutor(writers) as pool:
            wall = timed(lambda: list(pool.map(write, work)))
    finally:
        for ledger in ledgers:
            ledger.close()
    return rate(share * writers, wall)


def bench_organisations(args: argparse.Namespace) -> None:
    """What limits one ledger (its serialized append) beside many organisation ledgers on one machine."""
    counts = sorted(set(args.organisation_counts))
    print(f"\n## Organisation ledgers ({machine()})\n")
    print("| store | ledgers | writers | events a transaction | events/s, all ledgers | events/s a ledger |")
    print("|---|---|---|---|---|---|")
    with stores(args.postgres_url, ledgers=max(counts)) as found:
        for store, count, batch in itertools.product(found, counts, (1, 100)):
            writers = max(count, args.organisation_writers) if batch == 1 else count
            events = args.organisation_events * (1 if batch == 1 else 10)
            total = organisations_rate(store.ledger_urls[:count], events=events, batch=batch, writers=writers)
            print(f"| {store.name} | {count} | {writers} | {batch} | {total:,.0f} | {total / count:,.0f} |")


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "append": bench_append,
    "verify": bench_verify,
    "api": _bench_api,
    "privacy": bench_privacy,
    "projections": bench_projections,
    "fhir": _bench_fhir,
    "pages": _bench_pages,
    "index": _bench_index,
    "organisations": bench_organisations,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named sections (all by default)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("sections", nargs="*", choices=[*SECTIONS, []], default=list(SECTIONS))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single-events", type=int, default=2_000, help="events for the one-per-transaction cells")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verify-sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the verify section's schema")
    parser.add_argument("--api-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--projection-events", type=int, default=1_000_000)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--page-samples", type=int, default=100, help="incident pages timed in the pages section")
    parser.add_argument("--api-events", type=int, default=10_000)
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument("--index-size", type=int, default=1_000_000, help="log size for the index's proof timings")
    parser.add_argument("--organisation-counts", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--organisation-writers", type=int, default=4, help="writer threads for one-event transactions")
    parser.add_argument("--organisation-events", type=int, default=2_000, help="one-event transactions a cell")
    parser.add_argument("--postgres-url", default=PG_URL, help="'' to skip PostgreSQL")
    args = parser.parse_args(argv)
    for name in args.sections or SECTIONS:
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
