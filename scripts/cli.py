"""`ledger`: one command, a module per subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from ledger.errors import InputError, IntegrityError, StoreUnavailable
from scripts import (
    api_keys,
    checkpoint,
    demo,
    export,
    importer,
    privacy_cmds,
    projections,
    schema,
    serve,
    signing_keys,
    verify,
    verify_bundle,
)
from scripts.common import Exit, say

REGISTRARS = {
    "erase": privacy_cmds.add_erase,
    "legal-hold": privacy_cmds.add_hold,
    "retention": privacy_cmds.add_retention,
    "master-key": privacy_cmds.add_master_key,
}

SUBCOMMANDS: dict[str, ModuleType] = {
    "verify": verify,
    "import": importer,
    "schema": schema,
    "demo": demo,
    "checkpoint": checkpoint,
    "signing-keys": signing_keys,
    "export": export,
    "verify-bundle": verify_bundle,
    "serve": serve,
    "api-keys": api_keys,
    "projections": projections,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="ledger", description="The clinical AI accountability ledger.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        module.add_parser(subparsers, name)
    for name, register in REGISTRARS.items():
        register(subparsers, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit code (see scripts.common.Exit)."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except StoreUnavailable as exc:
        say(f"ledger: could not run: {exc}")
        return Exit.COULD_NOT_RUN
    except InputError as exc:
        say(f"ledger: {exc}")
        return Exit.USAGE
    except IntegrityError as exc:
        say(f"ledger: integrity failure: {exc}")
        return Exit.INTEGRITY
    except KeyboardInterrupt:
        say("ledger: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
