"""The benchmark harness: one run, every figure in docs/performance.md, ratios measured side by side.

    python -m scripts.bench append   [--events N] [--postgres-url URL]
    python -m scripts.bench verify   [--events N] ...

Not a test: machines here are shared and noisy, so figures are written in the
docs and compared as ratios measured in the same run, never asserted.
Each section prints a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from eventsourcing.application import Application

from ledger.catalogue import canonical_bytes, validate_event
from ledger.store import Ledger
from ledger.store.app import Fact
from scripts.benchkit import PlainRecorded

PG_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def sample_events(count: int) -> list[dict[str, Any]]:
    """Realistic output.shown envelopes (about 400 bytes canonical)."""
    return [
        {
            "event_id": str(uuid.uuid4()),
            "type": "output.shown",
            "occurred_at": "2026-04-08T02:15:00+02:00",
            "source": "epic-prod",
            "actor": {"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"},
            "data": {
                "output_id": f"out-{i}",
                "clinician_id": f"clin-{i % 300}",
                "surface": "ed_tracking_board",
                "shown_at": "2026-04-08T02:14:58.004+02:00",
            },
        }
        for i in range(count)
    ]


def facts_of(events: Sequence[dict[str, Any]]) -> list[Fact]:
    """Validated, canonical facts (validation timed separately)."""
    out = []
    for raw in events:
        event = validate_event(raw)
        out.append(Fact(uuid.UUID(event.event_id), 1, event.type, canonical_bytes(event)))
    return out


@dataclass
class Store:
    """A fresh ledger location and a fresh location for the plain baseline."""

    name: str
    ledger_url: str
    plain_env: dict[str, str]


@contextmanager
def stores(postgres_url: str | None) -> Iterator[list[Store]]:
    """Fresh SQLite files and fresh PostgreSQL schemas, removed afterwards."""
    with TemporaryDirectory() as tmp:
        found = [
            Store(
                "SQLite",
                f"sqlite:///{tmp}/ledger.sqlite3",
                {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/plain.sqlite3"},
            )
        ]
        schemas: list[str] = []
        if postgres_url:
            for _ in range(2):
                schemas.append(f"bench_{uuid.uuid4().hex[:10]}")
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
            parts = psycopg.conninfo.conninfo_to_dict(postgres_url)
            found.append(
                Store(
                    "PostgreSQL",
                    f"{postgres_url}?schema={schemas[0]}",
                    {
                        "PERSISTENCE_MODULE": "eventsourcing.postgres",
                        "POSTGRES_DBNAME": str(parts.get("dbname", "test")),
                        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
                        "POSTGRES_PORT": str(parts.get("port", 5432)),
                        "POSTGRES_USER": str(parts.get("user", "postgres")),
                        "POSTGRES_PASSWORD": str(parts.get("password", "")),
                        "POSTGRES_SCHEMA": schemas[1],
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


def rate(count: int, seconds: float) -> float:
    """Events per second."""
    return count / seconds if seconds > 0 else float("inf")


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

    with Ledger(store.ledger_url) as ledger:
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


def machine() -> str:
    """What the figures were measured on."""
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {"append": bench_append}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named sections (all by default)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("sections", nargs="*", choices=[*SECTIONS, []], default=list(SECTIONS))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single-events", type=int, default=2_000, help="events for the one-per-transaction cells")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=PG_URL, help="'' to skip PostgreSQL")
    args = parser.parse_args(argv)
    for name in args.sections or SECTIONS:
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
