"""`ledger signing-keys generate|list|rotate`: the keys that sign checkpoints."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.signing import KeyFolder
from scripts.common import Exit, add_database_option, open_ledger, say, settings_of


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand and its actions."""
    parser = subparsers.add_parser(name, help="generate, list and rotate the checkpoint-signing keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("generate", "create the first signing key"), ("rotate", "replace the active key")):
        sub = actions.add_parser(action, help=text + " (recorded in the log)")
        sub.add_argument("--name", required=True, help="key name, e.g. ledger.northside.example")
        sub.add_argument("--reason", help="why (recorded in the log)")
        sub.add_argument("--operator", default="ledger-operator", help="who does it (the event's actor id)")
        add_database_option(sub)
        sub.add_argument("--keys-dir", metavar="DIR", help="default: $LEDGER_KEYS_DIR, else STATE/keys")
        sub.set_defaults(run=run)
    listing = actions.add_parser("list", help="list the keys and which one is active")
    add_database_option(listing)
    listing.add_argument("--keys-dir", metavar="DIR", help="default: $LEDGER_KEYS_DIR, else STATE/keys")
    listing.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Carry out the action."""
    folder = KeyFolder(settings_of(args).paths.keys_dir)
    if args.action == "list":
        listed = folder.list()
        for info in listed:
            say(f"{'*' if info.active else ' '} {info.verifier_key}  ({info.file})")
        if not listed:
            say(f"no signing keys in {folder.path}: run `ledger signing-keys generate`")
        return Exit.OK
    if args.action == "generate" and folder.has_active_key():
        say("a signing key is already active: use `ledger signing-keys rotate`")
        return Exit.USAGE
    if args.action == "rotate" and not folder.has_active_key():
        say("no active key to rotate: use `ledger signing-keys generate`")
        return Exit.USAGE
    actor = {"id": args.operator, "role": "ledger_operator", "kind": "person"}
    with open_ledger(args) as ledger:
        done = folder.activate_new(args.name, ledger=ledger, actor=actor, reason=args.reason)
    if done.resumed:
        say("finished the rotation an earlier run recorded in the log but did not complete; no new key was made")
    key = done.key
    say(
        f"active signing key: {key.name} {key.verifier().key_id:08x}; its verifier key is in {folder.path}/trusted.keys"
    )
    return Exit.OK
