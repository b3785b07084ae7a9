"""`ledger demo`: record the demo hospital's story into the ledger (with the library), then verify it."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.audit import verify_store
from scripts.common import Exit, add_database_option, open_ledger, say
from scripts.demo_hospital import DEFAULT_SEED, load


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(name, help="record the demo hospital's story and verify the ledger")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"the story's seed (default {DEFAULT_SEED})")
    add_database_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Append the story (idempotently) and verify the whole ledger."""
    with open_ledger(args) as ledger:
        say(load.describe(load.through_library(ledger, seed=args.seed)) + f", to {ledger.url.display}")
        report = verify_store(ledger)
    state = "INTACT" if report.intact else f"BROKEN ({report.findings_total} findings)"
    say(f"verify: {state}: {report.events} events, head seq {report.head_seq}")
    return Exit.OK if report.intact else Exit.INTEGRITY
