"""`ledger checkpoint`: sign the log's head now, and publish it outside the database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger.checkpointing import make_checkpoint
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from scripts.common import Exit, add_database_option, open_ledger, say, settings_of


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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Sign and publish; print the signed note."""
    paths = settings_of(args).paths
    key = KeyFolder(paths.keys_dir).active_key()
    paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    with open_ledger(args, create_tables=False) as ledger:
        signed = make_checkpoint(
            ledger, key, origin=paths.origin, folder=CheckpointDirectory(paths.checkpoint_dir), index=True
        )
    if signed is None:
        say("the log is empty: nothing to sign")
        return Exit.OK
    state = "signed" if signed.new else "already signed"
    say(f"{state}: size {signed.checkpoint.size}, root {signed.checkpoint.root_hash.hex()}, in {paths.checkpoint_dir}")
    sys.stdout.write(signed.note)
    return Exit.OK
