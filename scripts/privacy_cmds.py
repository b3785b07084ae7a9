"""`ledger erase`, `ledger legal-hold`, `ledger retention`, `ledger master-key`: the privacy duties."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.catalogue import RESERVED_SOURCE
from ledger.erasure import HoldIndex, erase, master_key_use, retention_due, rotate_master_key, subject_token
from ledger.privacy import LocalMasterKey
from ledger.store.records import time_from_us
from scripts.common import Exit, add_database_option, counted, number_in, open_ledger, say

MAX_YEARS = 1000.0
"""The longest retention period --years takes: any longer is a typo, and no date arithmetic can hold ``inf``."""


def _actor(args: argparse.Namespace) -> dict[str, str]:
    return {"id": args.operator, "role": "privacy_officer", "kind": "person"}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--operator", default="privacy-officer", help="who does it (the event's actor id)")
    add_database_option(parser)


def add_erase(subparsers: Any, name: str) -> None:
    """Register `ledger erase`."""
    parser = subparsers.add_parser(
        name,
        help="crypto-shred a subject: destroy its data key and record the erasure",
        description="Refused while a legal hold covers the subject. The log itself is not changed and keeps verifying.",
    )
    parser.add_argument("--subject", required=True, help="KIND:ID, e.g. patient:Patient/123, or token:<hex>")
    parser.add_argument("--basis", required=True, help="legal basis, e.g. gdpr_art17 or retention_policy")
    parser.add_argument("--request-ref", help="the request or ticket number")
    parser.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")
    _common(parser)
    parser.set_defaults(run=run_erase)


def run_erase(args: argparse.Namespace) -> int:
    """Erase one subject."""
    with open_ledger(args) as ledger:
        done = erase(ledger, subject=args.subject, legal_basis=args.basis, actor=_actor(args),
                     request_ref=args.request_ref, dry_run=args.dry_run)  # fmt: skip
    if args.dry_run and done.resumed:
        say(f"would finish erasing subject {done.token}: its erasure is recorded at seq {done.seq} but its key "
            "was not destroyed; rerun without --dry-run")  # fmt: skip
    elif args.dry_run:
        say(f"would erase subject {done.token}: no legal hold covers it; rerun without --dry-run")
    elif done.resumed:
        say(f"finished erasing subject {done.token}: key destroyed; the erasure was recorded at seq {done.seq}")
    else:
        say(f"erased subject {done.token}: key destroyed, recorded at seq {done.seq}")
    return Exit.OK


def add_hold(subparsers: Any, name: str) -> None:
    """Register `ledger legal-hold place|release`."""
    parser = subparsers.add_parser(name, help="place or release a legal hold (recorded in the log)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    place = actions.add_parser("place", help="forbid erasure of a subject, or of everything about an incident")
    target = place.add_mutually_exclusive_group(required=True)
    target.add_argument("--subject", help="KIND:ID or token:<hex>")
    target.add_argument("--incident", help="an incident_id")
    place.add_argument("--hold-id", required=True)
    place.add_argument("--authority", required=True, help="who ordered it, e.g. litigation_counsel")
    place.add_argument("--reference", help="the matter or case number")
    release = actions.add_parser("release", help="end a hold")
    release.add_argument("--hold-id", required=True)
    release.add_argument("--authority", required=True)
    for sub in (place, release):
        _common(sub)
        sub.set_defaults(run=run_hold)


def run_hold(args: argparse.Namespace) -> int:
    """Record the hold's placement or release."""
    with open_ledger(args) as ledger:
        data: dict[str, Any] = {"hold_id": args.hold_id, "authority": args.authority}
        if args.action == "place":
            if args.subject:
                data["subject"] = subject_token(ledger, args.subject)[1]
            else:
                data["incident_id"] = args.incident
            if args.reference:
                data["reference"] = args.reference
        done = "placed" if args.action == "place" else "released"
        event = {
            "event_id": str(uuid.uuid4()),
            "type": f"legal_hold.{done}",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": RESERVED_SOURCE,
            "actor": _actor(args),
            "data": data,
        }
        receipt = ledger.submit([event])[0]
    say(f"legal hold {args.hold_id} {done} at seq {receipt.seq}")
    return Exit.OK


def add_retention(subparsers: Any, name: str) -> None:
    """Register `ledger retention`."""
    parser = subparsers.add_parser(
        name,
        help="list the subjects due for erasure under the retention policy (and erase them with --apply)",
        description="Lists first; erases only with --apply, and never a subject under a legal hold.",
    )
    parser.add_argument(
        "--years",
        type=number_in(0, MAX_YEARS, above_low=True),
        default=6.0,
        help=f"retention after a subject's last event, in years: a number greater than 0 and at most {MAX_YEARS:g}, "
        "fractions allowed (default 6)",
    )
    parser.add_argument("--apply", action="store_true", help="erase the subjects listed (those not under a hold)")
    _common(parser)
    parser.set_defaults(run=run_retention)


def run_retention(args: argparse.Namespace) -> int:
    """List, then (with --apply) erase."""
    with open_ledger(args) as ledger:
        holds = HoldIndex(ledger)  # the log is read once for the whole run, not once a subject
        due = retention_due(ledger, years=args.years, holds=holds)
        for item in due:
            held = f"  HELD by {', '.join(item.held)}" if item.held else ""
            last = time_from_us(item.last_recorded_us)
            say(f"  {item.token}  last event {last}  {counted(item.events, 'event')}{held}")
        held_count = sum(1 for d in due if d.held)
        say(f"{counted(len(due), 'subject')} past {args.years:g} years; {held_count} under legal hold")
        if not args.apply:
            say("nothing erased: rerun with --apply to erase those not under a hold")
            return Exit.OK
        for item in (d for d in due if not d.held):
            erase(ledger, subject=f"token:{item.token}", legal_basis="retention_policy", actor=_actor(args),
                  holds=holds)  # fmt: skip
        say(f"erased {counted(sum(1 for d in due if not d.held), 'subject')}")
    return Exit.OK


def add_master_key(subparsers: Any, name: str) -> None:
    """Register `ledger master-key rotate` and `ledger master-key status`."""
    parser = subparsers.add_parser(name, help="rotate the master key (rewraps data keys; no event is rewritten)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate",
        help="rewrap every data key under a new master key",
        description="Keys are unwrapped with the master key each names: the configured one, or one listed in "
        "$LEDGER_PREVIOUS_MASTER_KEY_FILES. Exits 3 if live keys are still wrapped under another master key.",
    )
    rotate.add_argument("--new-key-file", type=Path, required=True, help="created if absent (base64 of 32 bytes)")
    _common(rotate)
    rotate.set_defaults(run=run_master_key)
    status = actions.add_parser("status", help="how many live data keys each master key wraps")
    add_database_option(status)
    status.set_defaults(run=run_master_key_status)


def run_master_key(args: argparse.Namespace) -> int:
    """Rotate, then tell the operator what is left and what to configure."""
    path: Path = args.new_key_file
    new = LocalMasterKey.from_file(path) if path.is_file() else LocalMasterKey.create(path)
    with open_ledger(args) as ledger:
        rotation = rotate_master_key(ledger, new, actor=_actor(args))
    say(f"rewrapped {counted(rotation.rewrapped, 'data key')} under master key {new.key_id}")
    if rotation.remaining:
        say(f"still wrapped under other master keys: {_use(rotation.remaining)}. A writer is still wrapping new "
            f"subjects' keys under them: give every server master key {new.key_id}, keep the old one in "
            f"$LEDGER_PREVIOUS_MASTER_KEY_FILES, and run this again")  # fmt: skip
        return Exit.COULD_NOT_RUN
    say(f"point LEDGER_MASTER_KEY_FILE at {path}; the old master key wraps no live data key any more")
    return Exit.OK


def run_master_key_status(args: argparse.Namespace) -> int:
    """Print the live data keys per master key id (JSON on stdout)."""
    with open_ledger(args, create_tables=False) as ledger:
        use = master_key_use(ledger)
    print(orjson.dumps(use, option=orjson.OPT_SORT_KEYS).decode())
    say(f"live data keys by master key: {_use(use) or 'none'}")
    return Exit.OK


def _use(use: dict[str, int]) -> str:
    return ", ".join(f"{key_id}: {count}" for key_id, count in sorted(use.items()))
