"""`ledger demo`: record the demo hospital's story into the ledger, then verify it."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.audit import verify_store
from scripts import scenario
from scripts.common import Exit, add_database_option, open_ledger, say


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(name, help="record the demo hospital's story and verify the ledger")
    add_database_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Append the story (idempotently) and verify the whole ledger."""
    events = scenario.story()
    with open_ledger(args) as ledger:
        receipts = ledger.submit(events)
        created = sum(r.created for r in receipts)
        say(f"demo: {created} events appended, {len(receipts) - created} already recorded, to {ledger.url.display}")
        report = verify_store(ledger)
    state = "INTACT" if report.intact else f"BROKEN ({report.findings_total} findings)"
    say(f"verify: {state}: {report.events} events, head seq {report.head_seq}")
    return Exit.OK if report.intact else Exit.INTEGRITY
