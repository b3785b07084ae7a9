"""What every subcommand shares: exit codes, the database option, the ledger's settings, messages to stderr.

With scripts.serve, this module is the command line's one reader of the
environment: ``ledger_settings`` builds the ledger's settings from the
command's options and the environment, and every subcommand passes them down.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: ledger.store loads the database drivers, which verify-bundle does without
    from ledger.config import LedgerSettings
    from ledger.store import Ledger


class Exit(IntEnum):
    """Exit codes say what happened."""

    OK = 0  # done; for verification: intact
    INTEGRITY = 1  # verification found an integrity failure
    USAGE = 2  # bad arguments or bad input
    COULD_NOT_RUN = 3  # database unreachable, file unreadable


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """--database-url, overriding $LEDGER_DATABASE_URL."""
    from ledger.store.url import ENV_VAR

    parser.add_argument(
        "--database-url",
        metavar="URL",
        help=f"sqlite:///PATH or postgresql://... (default: ${ENV_VAR}, else sqlite:///var/ledger.sqlite3)",
    )


def say(message: str) -> None:
    """Human text goes to stderr; stdout is kept for machine output."""
    print(message, file=sys.stderr)


def ledger_settings(
    database_url: str | None = None, *, keys_dir: str | None = None, checkpoint_dir: str | None = None
) -> LedgerSettings:
    """The ledger's settings: the options given (None: not given), the rest from the environment."""
    from ledger.config import LedgerSettings

    return LedgerSettings.from_environ(os.environ, database_url, keys_dir=keys_dir, checkpoint_dir=checkpoint_dir)


def settings_of(args: argparse.Namespace) -> LedgerSettings:
    """The ledger's settings from a subcommand's --database-url (and --keys-dir, --checkpoint-dir where it has them)."""
    return ledger_settings(
        args.database_url,
        keys_dir=getattr(args, "keys_dir", None),
        checkpoint_dir=getattr(args, "checkpoint_dir", None),
    )


def open_ledger(args: argparse.Namespace, *, create_tables: bool = True) -> Ledger:
    """Open the ledger named by --database-url or the environment.

    On PostgreSQL the URL's schema is created first by a command that creates
    tables; a read-only one (create_tables=False) creates nothing and refuses a
    schema that does not exist, or holds no ledger, in one line (exit 3).
    """
    from ledger.store import Ledger

    settings = settings_of(args)
    if settings.database.backend == "postgres":
        from scripts.pgschema import prepare_schema  # psycopg's import is paid only where it is used

        prepare_schema(settings.database, create=create_tables)
    return Ledger(settings, create_tables=create_tables)


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 problem``, ``2 problems``: a count with its noun, singular or plural."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def number_in(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` (or above it) to ``high``; nan and inf refused."""
    bounds = f"{'greater than' if above_low else 'at least'} {low:g} and at most {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number (a number {bounds} is needed)") from None
        if not (math.isfinite(value) and (low < value if above_low else low <= value) and value <= high):
            raise argparse.ArgumentTypeError(f"must be a number {bounds}")
        return value

    return parse
