"""What every subcommand shares: exit codes, the database option, messages to stderr."""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: ledger.store loads the database drivers, which verify-bundle does without
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


def open_ledger(args: argparse.Namespace, *, create_tables: bool = True) -> Ledger:
    """Open the ledger named by --database-url or the environment."""
    from ledger.store import Ledger

    return Ledger(args.database_url, create_tables=create_tables)
