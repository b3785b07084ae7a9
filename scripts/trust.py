"""Which keys and checkpoints an auditor's command trusts, and why (said on stderr)."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

import orjson

from ledger.config import LedgerSettings
from ledger.errors import InputError
from ledger.ownership import check_belongs
from ledger.proof.keys import Keyring, parse_verifier_key
from ledger.proof.verify import Claim
from ledger.signing import TRUSTED, key_activations
from ledger.store import Ledger
from scripts.common import counted, ledger_settings, say
from scripts.files import checkpoint_file, keyring_file


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
        help="the published checkpoints, every *.checkpoint file in it (default: $LEDGER_CHECKPOINT_DIR, else "
        "STATE/checkpoints); a folder named here must exist",
    )
    parser.add_argument(
        "--keys-dir",
        metavar="DIR",
        help="the signing-keys folder (default: $LEDGER_KEYS_DIR, else STATE/keys)",
    )
    parser.add_argument("--origin", help="the log's origin line (default: $LEDGER_ORIGIN, else the demo's)")


def keyring_for(args: argparse.Namespace) -> Keyring | None:
    """The auditor's keys, else the keys folder's (said plainly); None if neither exists.

    Read before the database is opened, so that a bad keys file is refused first.
    """
    if args.trusted_keys:
        return keyring_file(args.trusted_keys)
    folder = _settings(args).paths.keys_dir / TRUSTED
    if folder.is_file():
        say(f"trusting the verifier keys in {folder} (pass --trusted-keys to use keys you hold)")
        return keyring_file(folder)
    return None


def recorded_keyring(ledger: Ledger) -> Keyring | None:
    """The verifier keys the log itself records (said plainly: they show only self-consistency), or None."""
    recorded = [parse_verifier_key(_verifier_key(n.body)) for n in key_activations(ledger)]
    if not recorded:
        return None
    say("trusting the verifier keys recorded in the log itself: this shows the checkpoints were signed "
        "by the keys the log names, not by keys you hold (pass --trusted-keys)")  # fmt: skip
    return Keyring(recorded)


def claims_for(args: argparse.Namespace) -> list[Claim]:
    """The auditor's own checkpoints and the published ones, each parsed: one that does not parse is refused.

    A file that is not a signed checkpoint is input the verifier cannot use,
    whether the auditor kept it or found it in the published folder: it stops
    the run (exit 2, naming the file) rather than count as a finding, since it
    proves nothing about the log. docs/auditing.md says what to do about one.
    """
    claims = [checkpoint_file(path, source="trusted", what="trusted checkpoint") for path in args.trusted_checkpoint]
    folder = _settings(args).paths.checkpoint_dir
    if folder.exists() and not folder.is_dir():
        raise InputError(f"checkpoint folder {folder} is not a folder")
    if not folder.exists():
        if args.checkpoint_dir is not None:  # named on the command line: a typo must not pass for "none published"
            raise FileNotFoundError(errno.ENOENT, "no such checkpoint folder", str(folder))
        return claims
    published = sorted(folder.glob("*.checkpoint"))
    claims += [checkpoint_file(path, source="folder", what="published checkpoint") for path in published]
    say(f"{counted(len(published), 'published checkpoint')} in {folder}")
    return claims


def cosigned_claims(args: argparse.Namespace) -> list[Claim]:
    """The published checkpoints that witnesses cosigned (``*.cosigned`` in the checkpoint folder)."""
    folder = _settings(args).paths.checkpoint_dir
    found = sorted(folder.glob("*.cosigned")) if folder.is_dir() else []
    if found:
        say(f"{counted(len(found), 'cosigned checkpoint')} in {folder}")
    return [checkpoint_file(path, source="cosigned", what="cosigned checkpoint") for path in found]


def refuse_foreign_folder(args: argparse.Namespace, ledger: Ledger) -> None:
    """Stop (exit 2) before another ledger's published checkpoints are checked against this one."""
    folder = ledger.settings.paths.checkpoint_dir
    if folder.is_dir():
        check_belongs(folder, ledger)


def _settings(args: argparse.Namespace) -> LedgerSettings:
    """The settings whose folders hold the defaults (verify-bundle names no database: the configured one's)."""
    return ledger_settings(
        getattr(args, "database_url", None), keys_dir=args.keys_dir, checkpoint_dir=args.checkpoint_dir
    )


def _verifier_key(state: bytes) -> str:
    return str(orjson.loads(state)["data"]["verifier_key"])
