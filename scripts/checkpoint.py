"""`ledger checkpoint`: sign the log's head now, and publish it outside the database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger.checkpointing import make_checkpoint
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from ledger.timestamping import TimestampStore
from scripts.common import Exit, add_database_option, counted, open_ledger, say, settings_of


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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Sign and publish; print the signed note."""
    paths = settings_of(args).paths
    key = KeyFolder(paths.keys_dir).active_key()
    paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    with open_ledger(args, create_tables=False) as ledger:
        folder = CheckpointDirectory(paths.checkpoint_dir)
        tsas = args.tsa if args.tsa is not None else paths.tsa_urls
        signed = make_checkpoint(ledger, key, origin=paths.origin, folder=folder, index=True, tsas=tsas)
        stamps = TimestampStore(ledger).tokens(size=signed.checkpoint.size) if signed is not None else []
    if signed is None:
        say("the log is empty: nothing to sign")
        return Exit.OK
    state = "signed" if signed.new else "already signed"
    say(f"{state}: size {signed.checkpoint.size}, root {signed.checkpoint.root_hash.hex()}, in {paths.checkpoint_dir}")
    if tsas:
        got = sum(1 for _, tsa, _ in stamps if tsa in tsas)
        say(f"  timestamped by {got} of {counted(len(tsas), 'time-stamping authority', 'time-stamping authorities')}")
    sys.stdout.write(signed.note)
    return Exit.OK
