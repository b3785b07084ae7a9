"""`ledger`: one command, a module per subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import NoReturn

from ledger.errors import InputError, IntegrityError, KeyNotConfigured, StoreUnavailable

# Subcommand -> (module of scripts/, the function there that registers it). The modules are
# imported when the parser is built, not when this module is (nor scripts.common, which opens
# the store): `ledger verify` starts worker processes with multiprocessing's spawn, which
# imports the main module (the `ledger` script, hence this one) again in each worker, and
# every subcommand's imports delayed each worker by about 0.4 s.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("verify", "add_parser"),
    "import": ("importer", "add_parser"),
    "schema": ("schema", "add_parser"),
    "demo": ("demo", "add_parser"),
    "generate": ("generate", "add_parser"),
    "bench": ("benchmark", "add_parser"),
    "checkpoint": ("checkpoint", "add_parser"),
    "signing-keys": ("signing_keys", "add_parser"),
    "export": ("export", "add_parser"),
    "verify-bundle": ("verify_bundle", "add_parser"),
    "serve": ("serve", "add_parser"),
    "api-keys": ("api_keys", "add_parser"),
    "projections": ("projections", "add_parser"),
    "erase": ("privacy_cmds", "add_erase"),
    "legal-hold": ("privacy_cmds", "add_hold"),
    "retention": ("privacy_cmds", "add_retention"),
    "master-key": ("privacy_cmds", "add_master_key"),
    "witness": ("witness", "add_parser"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, saying a usage error in one line (and where to read more), exit 2; its subcommands' parsers too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")  # 2: Exit.USAGE


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered, or only ``command`` when one is named.

    Registering one imports only its module: `ledger verify-bundle` then needs
    nothing but the proof core (no database driver, no web framework).
    """
    parser = _Parser(prog="ledger", description="The clinical AI accountability ledger.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, registrar) in SUBCOMMANDS.items():
        if command is not None and name != command:
            continue
        register: Callable[..., None] = getattr(import_module(f"scripts.{module}"), registrar)
        register(subparsers, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit code (see scripts.common.Exit)."""
    from scripts.common import Exit, say  # here, not at the top: see SUBCOMMANDS

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None).parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (StoreUnavailable, KeyNotConfigured) as exc:
        say(f"ledger: could not run: {exc}")
        return Exit.COULD_NOT_RUN
    except InputError as exc:
        say(f"ledger: {exc}")
        return Exit.USAGE
    except IntegrityError as exc:
        say(f"ledger: integrity failure: {exc}")
        return Exit.INTEGRITY
    except OSError as exc:  # a file named on the command line that cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        say(f"ledger: could not run: {exc.strerror or type(exc).__name__}{where}")
        return Exit.COULD_NOT_RUN
    except KeyboardInterrupt:
        say("ledger: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
