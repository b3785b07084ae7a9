"""`ledger verify-bundle FILE`: check an evidence bundle offline, and say what it proves.

It says VERIFIED only under keys the auditor holds (``--trusted-keys``). The
bundle's own keys show only that the bundle agrees with itself (whoever made
the bundle could have made the key too), so checking under them is asked for
by name (``--self-consistency-only``) and the first line of the report says so.

Exit codes: 0 verified (or, with --self-consistency-only, self-consistent);
1 the bundle is well formed and the cryptography or the recomputation says no;
2 usage, or a file that is not a bundle (empty, truncated, not JSON, a field
missing or malformed): it proves nothing either way; 3 a file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from ledger.errors import InputError
from ledger.proof.bundle import BundleReport, parse_bundle, verify_bundle
from ledger.proof.timestamp import VerifierUnavailable
from ledger.proof.verify import quorum_failure
from scripts.common import Exit, counted, say
from scripts.files import add_policy_option, keyring_file, policy_file
from scripts.timestamps import add_tsa_option, tsa_roots_for

PROVES = (
    "PROVES: each event listed above is, byte for byte, entry seq N of the log whose head (size {size}) "
    "was signed by {keys}.\n"
    "DOES NOT PROVE: that no other relevant event exists, beyond the keys proven complete (COMPLETE lines); "
    "that the events are true (only that they were recorded, when, and in what order); who holds the signing key."
)
SELF_ONLY = (
    "SELF-CONSISTENCY ONLY: checked against the keys the bundle itself carries, not keys you trust; this cannot "
    "show who signed it (pass --trusted-keys to verify)"
)
SHOWS_ONLY = (
    "SHOWS ONLY: the events, their proofs and the checkpoint (size {size}) agree with one another and with the key "
    "the bundle carries. Whoever can make a bundle can make one that agrees with itself: this is no evidence of "
    "who signed it."
)
KEYS_REQUIRED = (
    "ledger verify-bundle: --trusted-keys FILE is required: a bundle's own keys show only that it agrees with "
    "itself, not who signed it (pass --self-consistency-only to check just that)"
)


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="verify an evidence bundle offline (exit 0 verified, 1 failed, 2 usage or not a bundle, 3 unreadable)",
        description=(
            "Check every event's hashes and inclusion proof against the bundle's signed checkpoint, under the "
            "verifier keys you trust. Human text goes to stderr; --format json writes the report to stdout "
            "(or --output)."
        ),
    )
    parser.add_argument("file", type=Path)
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--trusted-keys", type=Path, metavar="FILE", help="verifier keys you hold, one per line")
    keys.add_argument(
        "--self-consistency-only",
        action="store_true",
        help="no keys of your own: check the bundle against the keys it carries, and say only that it is "
        "self-consistent, never VERIFIED (exit 0 self-consistent, 1 not)",
    )
    add_tsa_option(parser)
    add_policy_option(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--output", type=Path, help="write the JSON report here instead of stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Parse, verify, explain."""
    if args.trusted_keys is None and not args.self_consistency_only:
        say(KEYS_REQUIRED)
        return Exit.USAGE
    trusted = keyring_file(args.trusted_keys) if args.trusted_keys else None
    tsa_roots = tsa_roots_for(args)
    policy = policy_file(args.witness_policy) if args.witness_policy else None
    if trusted is None:
        say(SELF_ONLY)
    try:
        bundle = parse_bundle(args.file.read_bytes())
    except VerifierUnavailable as exc:
        say(f"ledger: could not run: {exc}")
        return Exit.COULD_NOT_RUN
    except InputError as exc:
        raise InputError(f"{args.file} is not a well-formed bundle: {exc}") from exc
    report = verify_bundle(bundle, trusted=trusted, tsa_roots=tsa_roots)
    if policy is not None:  # the witnesses' quorum on the bundle's checkpoint (docs/auditing.md, step 13)
        failure, described = quorum_failure(bundle.checkpoint, policy, source="bundle")
        say(f"  witnesses: {described}")
        if failure is not None:
            report.failures.append(f"{failure.kind}: {failure.detail}")
    _explain(report)
    _explain_time(report, timed=bool(bundle.timestamps), trusting=tsa_roots is not None)
    if args.format == "json" or args.output:
        _write_json({"file": str(args.file), "incident_id": bundle.incident_id, **report.to_json()}, args.output)
    return Exit.OK if report.ok else Exit.INTEGRITY


def _explain(report: BundleReport) -> None:
    for seq, event_type in report.verified:
        bound = report.bound(seq)
        time = "" if bound is None else f"; in the log no later than {bound.time_text} ({bound.tsa})"
        say(f"  ok   seq {seq}: {event_type}{time}")
    for failure in report.failures:
        say(f"  FAIL {failure}")
    if not report.ok or report.checkpoint is None:
        say(f"FAILED: {counted(len(report.failures), 'problem')}")
        return
    if report.keys_from_bundle:
        say(f"SELF-CONSISTENT (not verified: no trusted keys): {counted(len(report.verified), 'event')}")
        say(SHOWS_ONLY.format(size=report.checkpoint.size))
        _explain_completeness(report)
        return
    say(f"VERIFIED: {counted(len(report.verified), 'event')}")
    say(PROVES.format(size=report.checkpoint.size, keys="a key you trust"))
    _explain_completeness(report)


def _explain_completeness(report: BundleReport) -> None:
    for key, events, size in report.complete:
        say(f"COMPLETE: {key}: these {counted(events, 'event')} are all that name it among the first {size} entries")
    if not report.complete:
        say("NOT PROVEN COMPLETE: the bundle carries no completeness index proof")


def _explain_time(report: BundleReport, *, timed: bool, trusting: bool) -> None:
    """Step 7 in words: what the time-stamps bound, or why nothing is bounded."""
    if not report.ok:
        return
    if timed and not trusting:
        say("TIME NOT CHECKED: the bundle carries time-stamp tokens; pass --trusted-tsa CERT.pem to learn their times")
    elif trusting and not report.stamps:
        say("NO TRUSTED TIME: the bundle carries no token from an authority you trust; the recorded times are "
            "the operator's word")  # fmt: skip
    elif report.stamps:
        bounded = sum(1 for seq, _ in report.verified if report.bound(seq) is not None)
        say(f"TRUSTED TIME: {bounded} of {counted(len(report.verified), 'event')} were in the log no later than "
            "the time shown, by an authority you trust: none was added to the log after that time")  # fmt: skip


def _write_json(report: dict[str, Any], output: Path | None) -> None:
    data = orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
