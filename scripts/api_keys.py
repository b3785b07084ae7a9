"""`ledger api-keys create|list|revoke`: the API's keys, stored only as hashes.

`create` prints the new key alone on stdout (so `KEY=$(ledger api-keys create ...)`
works) and what it is on stderr; the key cannot be shown again.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from ledger.apikeys import ApiKey, KeyStore, Role
from scripts.common import Exit, add_database_option, counted, say, settings_of


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand and its three actions."""
    parser = subparsers.add_parser(
        name,
        help="create, list and revoke the API's keys",
        description="API keys for `ledger serve`; only SHA-256 of each secret is stored.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a key and print it once to stdout")
    create.add_argument("--role", required=True, choices=[str(r) for r in Role])
    create.add_argument("--source", help="emitter keys: the one source the key may append for")
    create.add_argument("--label", default="unnamed", help="a short name for people (letters, digits, ._:/@-)")
    add_database_option(create)
    create.set_defaults(run=run_create)

    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.add_argument("--active", action="store_true", help="only keys not revoked")
    add_database_option(listing)
    listing.set_defaults(run=run_list)

    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    add_database_option(revoke)
    revoke.set_defaults(run=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    """Create a key; the token goes to stdout, the explanation to stderr."""
    new = KeyStore(settings_of(args).database).create(Role(args.role), source=args.source, label=args.label)
    bound = f", source {new.key.source}" if new.key.source else ""
    say(f"created API key {new.key.key_id} (role {new.key.role}{bound}); it is shown only this once")
    print(new.token)
    return Exit.OK


def run_list(args: argparse.Namespace) -> int:
    """Every key: id, role, source, label, created, revoked."""
    keys = KeyStore(settings_of(args).database).list(include_revoked=not args.active)
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps([k.to_json() for k in keys], option=orjson.OPT_INDENT_2) + b"\n")
        return Exit.OK
    for key in keys:
        print(_line(key))
    say(counted(len(keys), "key"))
    return Exit.OK


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke one key (a running server stops accepting it within its key cache time, 2 s by default)."""
    key = KeyStore(settings_of(args).database).revoke(args.key_id)
    say(f"revoked API key {key.key_id} at {key.revoked_at}")
    return Exit.OK


def _line(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
    return "\t".join([key.key_id, str(key.role), key.source or "-", key.label, key.created_at, state])
