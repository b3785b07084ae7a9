"""`ledger checkpoint`: sign the log's head now, and publish it outside the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ledger.checkpointing import Signed, Witnessed, make_checkpoint, witness_checkpoint
from ledger.config import LedgerSettings
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.proof.cosignature import Policy
from ledger.signing import KeyFolder
from ledger.store import Ledger
from ledger.timestamping import TimestampStore
from scripts.common import Exit, add_database_option, counted, open_ledger, say, settings_of
from scripts.files import policy_file


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="sign a C2SP checkpoint of the log's head and publish it to the checkpoint folder",
        description=(
            "Sign the current head (origin, size, RFC 6962 root) with the active key, refusing if it is not "
            "consistent with the last checkpoint signed; keep it in the database and write it to the folder. "
            "Prints the signed checkpoint on stdout."
        ),
    )
    add_database_option(parser)
    parser.add_argument("--keys-dir", metavar="DIR", help="default: $LEDGER_KEYS_DIR, else STATE/keys")
    parser.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="default: $LEDGER_CHECKPOINT_DIR, else STATE/checkpoints",
    )
    parser.add_argument(
        "--tsa",
        action="append",
        metavar="URL",
        help="an RFC 3161 time-stamping authority to stamp the checkpoint (repeatable; default: $LEDGER_TSA_URLS, "
        "separated by spaces); one that cannot be reached is logged and asked again next time",
    )
    add_witness_option(parser)
    parser.set_defaults(run=run)


def add_witness_option(parser: Any) -> None:
    """--witness-policy: the witnesses that cosign each new checkpoint (as ledger export signs one too)."""
    parser.add_argument(
        "--witness-policy",
        type=Path,
        metavar="FILE",
        help="a C2SP tlog-policy file: send the checkpoint to its witnesses (those with a URL) and publish their "
        "cosignatures once its quorum is met (default: $LEDGER_WITNESS_POLICY, else no witnesses)",
    )


def run(args: argparse.Namespace) -> int:
    """Sign and publish; have it witnessed if a policy says so; print the signed (and cosigned) note."""
    settings = settings_of(args)
    paths = settings.paths
    policy = witness_policy(args, settings)  # a bad policy file stops the run before it signs
    key = KeyFolder(paths.keys_dir).active_key()
    paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    folder = CheckpointDirectory(paths.checkpoint_dir)
    with open_ledger(args, create_tables=False) as ledger:
        tsas = args.tsa if args.tsa is not None else paths.tsa_urls
        signed = make_checkpoint(ledger, key, origin=paths.origin, folder=folder, index=True, tsas=tsas)
        if signed is None:
            say("the log is empty: nothing to sign")
            return Exit.OK
        state = "signed" if signed.new else "already signed"
        checkpoint = signed.checkpoint
        say(f"{state}: size {checkpoint.size}, root {checkpoint.root_hash.hex()}, in {paths.checkpoint_dir}")
        if tsas:
            got = sum(1 for _, tsa, _ in TimestampStore(ledger).tokens(size=checkpoint.size) if tsa in tsas)
            authorities = counted(len(tsas), "time-stamping authority", "time-stamping authorities")
            say(f"  timestamped by {got} of {authorities}")
        if policy is None:
            sys.stdout.write(signed.note)
            return Exit.OK
        return witnessed(ledger, signed, folder=folder, policy=policy)


def witness_policy(args: argparse.Namespace, settings: LedgerSettings) -> Policy | None:
    """The policy of --witness-policy, else $LEDGER_WITNESS_POLICY's, else None; a bad file is exit 2 naming it."""
    path: Path | None = args.witness_policy or settings.witness_policy
    return policy_file(path) if path is not None else None


def cosigned_note(ledger: Ledger, signed: Signed, *, folder: CheckpointDirectory, policy: Policy | None) -> str:
    """The checkpoint with its witnesses' cosignatures if they cosigned it (asked first, given a policy), else as
    the ledger signed it (said on stderr)."""
    if policy is not None:
        result = witness_checkpoint(ledger, signed, policy, folder=folder)
        _say_answers(result)
        if not result.published:
            say("  the witness policy's quorum is not met: the bundle carries the checkpoint without cosignatures")
    return folder.read_cosigned(signed.checkpoint.size) or signed.note


def witnessed(ledger: Ledger, signed: Signed, *, folder: CheckpointDirectory, policy: Policy) -> int:
    """Step 6 of ledger.checkpointing, said on stderr; the cosigned note on stdout. Exit 0 once the quorum is met.

    A witness that holds another head (a fork or a rollback it saw) is exit 1;
    witnesses that could not be reached or refused otherwise, exit 3 (run it
    again: a published checkpoint is sent again until its quorum is met).
    """
    result = witness_checkpoint(ledger, signed, policy, folder=folder)
    _say_answers(result)
    sys.stdout.write(result.note)
    if result.quorum.met:
        return Exit.OK
    say("the witness policy's quorum is not met: the checkpoint is published without cosignatures")
    conflict = any("conflict" in answer.problem for answer in result.answers)
    return Exit.INTEGRITY if conflict else Exit.COULD_NOT_RUN


def _say_answers(result: Witnessed) -> None:
    for answer in result.answers:
        say(f"  witness {answer.witness}: {answer.problem or 'cosigned'}")
    say(f"  {result.quorum.describe()}" + ("; published" if result.published else ""))
