"""`ledger verify-bundle FILE`: check an evidence bundle offline, and say what it proves."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ledger.bundle import BundleReport, parse_bundle, verify_bundle
from ledger.errors import InputError
from scripts.common import Exit, counted, say
from scripts.files import keyring_file

PROVES = (
    "PROVES: each event listed above is, byte for byte, entry seq N of the log whose head (size {size}) "
    "was signed by {keys}.\n"
    "DOES NOT PROVE: that no other relevant event exists (inclusion, not completeness); that the events are "
    "true (only that they were recorded, when, and in what order); who holds the signing key."
)


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="verify an evidence bundle offline (exit 0 verified, 1 failed, 2 usage or not a bundle, 3 unreadable)",
        description="Check every event's hashes and inclusion proof against the bundle's signed checkpoint.",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--trusted-keys", type=Path, metavar="FILE", help="verifier keys you hold, one per line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Parse, verify, explain."""
    trusted = keyring_file(args.trusted_keys) if args.trusted_keys else None
    try:
        bundle = parse_bundle(args.file.read_bytes())
    except InputError as exc:  # not a bundle: it proves nothing either way
        raise InputError(f"{args.file} is not a well-formed bundle: {exc}") from exc
    report = verify_bundle(bundle, trusted=trusted)
    _explain(report)
    return Exit.OK if report.ok else Exit.INTEGRITY


def _explain(report: BundleReport) -> None:
    for seq, event_type in report.verified:
        say(f"  ok   seq {seq}: {event_type}")
    for failure in report.failures:
        say(f"  FAIL {failure}")
    if report.keys_from_bundle:
        say("note: the keys came from the bundle itself; pass --trusted-keys with keys you obtained independently")
    if not report.ok or report.checkpoint is None:
        say(f"FAILED: {counted(len(report.failures), 'problem')}")
        return
    say(f"VERIFIED: {len(report.verified)} events")
    say(PROVES.format(size=report.checkpoint.size, keys="the trusted key"))
