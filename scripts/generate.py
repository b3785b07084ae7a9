"""`ledger generate --events N [--seed S]`: the demo hospital at any volume, appended with the library.

The events are those of scripts/demo_hospital/volume.py: deterministic for a
seed (the same seed appends the same events; a second run appends nothing),
in batches through ``Ledger.submit`` (validated, sealed, chained), no HTTP.
The benchmarks use it to fill a ledger.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any, Final

from scripts.common import Exit, add_database_option, counted, open_ledger, say

BATCH: Final = 5000
MAX_EVENTS: Final = 100_000_000
PROGRESS_EVERY: Final = 100_000


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="append N events of the demo hospital's shape (deterministic for a seed)",
        description="Fill a ledger with the demo hospital at any volume, for benchmarks and load tests.",
    )
    parser.add_argument("--events", type=_count, required=True, metavar="N", help="how many events to append")
    parser.add_argument("--seed", type=int, default=1, help="the seed (default 1): the same seed, the same events")
    add_database_option(parser)
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number") from None
    if not 1 <= value <= MAX_EVENTS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_EVENTS:,}")
    return value


def batches(seed: int, count: int, *, size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """The generated events in lists of at most ``size``."""
    from scripts.demo_hospital import volume

    batch: list[dict[str, Any]] = []
    for event in volume.events(seed, count):
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(args: argparse.Namespace) -> int:
    """Append the events in batches, saying the rate as it goes."""
    started = time.perf_counter()
    done = created = 0
    with open_ledger(args) as ledger:
        say(f"generate: {args.events:,} events, seed {args.seed}, into {ledger.url.display}")
        for batch in batches(args.seed, args.events):
            created += sum(r.created for r in ledger.submit(batch))
            before, done = done, done + len(batch)
            if done // PROGRESS_EVERY > before // PROGRESS_EVERY:
                say(f"  {done:,} events, {done / (time.perf_counter() - started):,.0f} events/s")
        head = ledger.head_seq()
    seconds = time.perf_counter() - started
    say(
        f"generate: {counted(created, 'event')} appended, {done - created:,} already recorded, "
        f"in {seconds:.1f} s ({done / seconds:,.0f} events/s); head seq {head}"
    )
    return Exit.OK
