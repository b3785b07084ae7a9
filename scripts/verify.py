"""`ledger verify`: recompute every hash and link from the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from ledger.audit import verify_store
from ledger.proof.verify import Report, check_witnesses
from scripts.common import Exit, add_database_option, counted, open_ledger, say
from scripts.files import add_policy_option, policy_file
from scripts.timestamps import add_tsa_option, published_tokens, say_stamps, tsa_roots_for
from scripts.trust import (
    add_trust_options,
    claims_for,
    cosigned_claims,
    keyring_for,
    recorded_keyring,
    refuse_foreign_folder,
)


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="verify the ledger's integrity (exit 0 intact, 1 broken, 2 usage or unparsable input, 3 could not run)",
        description=(
            "Recompute every event's hash, every chain link and the Merkle root from the database, read-only, "
            "and check every checkpoint (stored, published, and your own) against it."
        ),
    )
    add_database_option(parser)
    add_trust_options(parser)
    add_tsa_option(parser)
    add_policy_option(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--output", type=Path, help="write the JSON report here instead of stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Verify, print the summary to stderr and the report where asked."""
    progress = _progress if sys.stderr.isatty() else None
    policy = policy_file(args.witness_policy) if args.witness_policy else None
    claims = claims_for(args)  # the auditor's files first: one that cannot be used stops the run before it starts
    trusted = keyring_for(args)
    tsa_roots = tsa_roots_for(args)
    if policy is not None:
        claims += cosigned_claims(args)
    with open_ledger(args, create_tables=False) as ledger:
        say(f"verifying {ledger.url.display}")
        refuse_foreign_folder(args, ledger)
        keyring = trusted if trusted is not None else recorded_keyring(ledger)
        origin = args.origin or ledger.settings.paths.origin
        tokens = published_tokens(ledger.settings.paths.checkpoint_dir)
        report = verify_store(
            ledger, claims=claims, keyring=keyring, origin=origin, progress=progress, tokens=tokens, tsa_roots=tsa_roots
        )
    if policy is not None:  # step 13
        check_witnesses(claims, policy, report)
    if progress:
        sys.stderr.write("\n")
    _summarize(report)
    if args.format == "json" or args.output:
        _write_json(report, args.output)
    return Exit.OK if report.intact else Exit.INTEGRITY


def _progress(count: int) -> None:
    sys.stderr.write(f"\r  {count:,} events checked")
    sys.stderr.flush()


def _summarize(report: Report) -> None:
    for finding in report.findings:
        say(f"  FAIL {finding}")
    if report.findings_total > len(report.findings):
        say(f"  ... and {counted(report.findings_total - len(report.findings), 'more finding')}")
    verdict = "INTACT" if report.intact else f"BROKEN ({counted(report.findings_total, 'finding')})"
    say(f"{verdict}: {counted(report.events, 'event')}, head seq {report.head_seq} hash {report.head_hash.hex()}")
    say(f"  Merkle root {report.root.hex()}; {counted(report.checkpoints_checked, 'checkpoint')} checked")
    say_stamps(report.stamps)
    for note in report.notes:
        if "time-stamp" in note or note.startswith("witnesses: "):
            say(f"  {note}")
    if report.checkpoints_checked == 0:
        say("  no checkpoint was checked: the chain alone cannot show that the tail was not cut off "
            "(keep a checkpoint and pass it with --trusted-checkpoint)")  # fmt: skip


def _write_json(report: Report, output: Path | None) -> None:
    data = orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
