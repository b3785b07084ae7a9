"""Which keys and checkpoints an auditor's command trusts, and why (said on stderr)."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from ledger.config import LedgerPaths
from ledger.keys import Keyring, parse_keyring, parse_verifier_key
from ledger.ownership import check_belongs
from ledger.signing import TRUSTED, key_activations
from ledger.store import DatabaseUrl, Ledger
from ledger.verify import Claim
from scripts.common import say


def add_trust_options(parser: argparse.ArgumentParser) -> None:
    """--trusted-keys, --trusted-checkpoint, --checkpoint-dir, --keys-dir."""
    parser.add_argument(
        "--trusted-keys",
        type=Path,
        metavar="FILE",
        help="verifier keys you hold, one per line (default: the keys folder's trusted.keys)",
    )
    parser.add_argument(
        "--trusted-checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a signed checkpoint you kept earlier; catches a truncated or rewritten log (repeatable)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="the published checkpoints (default: $LEDGER_CHECKPOINT_DIR, else STATE/checkpoints)",
    )
    parser.add_argument(
        "--keys-dir",
        metavar="DIR",
        help="the signing-keys folder (default: $LEDGER_KEYS_DIR, else STATE/keys)",
    )
    parser.add_argument("--origin", help="the log's origin line (default: $LEDGER_ORIGIN, else the demo's)")


def keyring_for(args: argparse.Namespace, ledger: Ledger | None) -> Keyring | None:
    """The auditor's keys, else the keys folder's, else those the log itself records (said plainly)."""
    if args.trusted_keys:
        return parse_keyring(args.trusted_keys.read_text("utf-8"))
    folder = LedgerPaths.from_env(_database(args, ledger), keys_dir=args.keys_dir).keys_dir / TRUSTED
    if folder.is_file():
        say(f"trusting the verifier keys in {folder} (pass --trusted-keys to use keys you hold)")
        return parse_keyring(folder.read_text("utf-8"))
    if ledger is not None:
        recorded = [parse_verifier_key(_verifier_key(n.state)) for n in key_activations(ledger)]
        if recorded:
            say("trusting the verifier keys recorded in the log itself: this shows the checkpoints were signed "
                "by the keys the log names, not by keys you hold (pass --trusted-keys)")  # fmt: skip
            return Keyring(recorded)
    return None


def claims_for(args: argparse.Namespace) -> list[Claim]:
    """The published checkpoints and the auditor's own."""
    claims = [Claim("trusted", path.read_text("utf-8")) for path in args.trusted_checkpoint]
    folder = LedgerPaths.from_env(_database(args, None), checkpoint_dir=args.checkpoint_dir).checkpoint_dir
    if folder.is_dir():
        claims += [Claim("folder", path.read_text("utf-8")) for path in sorted(folder.glob("*.checkpoint"))]
    return claims


def refuse_foreign_folder(args: argparse.Namespace, ledger: Ledger) -> None:
    """Stop (exit 2) before another ledger's published checkpoints are checked against this one."""
    folder = LedgerPaths.from_env(ledger.url, checkpoint_dir=args.checkpoint_dir).checkpoint_dir
    if folder.is_dir():
        check_belongs(folder, ledger)


def _database(args: argparse.Namespace, ledger: Ledger | None) -> DatabaseUrl | str | None:
    """The ledger whose state folder holds the defaults (verify-bundle has none: the configured one's)."""
    return ledger.url if ledger is not None else getattr(args, "database_url", None)


def _verifier_key(state: bytes) -> str:
    return str(orjson.loads(state)["data"]["verifier_key"])
