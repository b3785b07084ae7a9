"""What every subcommand shares: exit codes, the database option, messages to stderr."""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum

from ledger.store import Ledger
from ledger.store.url import ENV_VAR, database_url


class Exit(IntEnum):
    """Exit codes say what happened."""

    OK = 0  # done; for verification: intact
    INTEGRITY = 1  # verification found an integrity failure
    USAGE = 2  # bad arguments or bad input
    COULD_NOT_RUN = 3  # database unreachable, file unreadable


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """--database-url, overriding $LEDGER_DATABASE_URL."""
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help=f"sqlite:///PATH or postgresql://... (default: ${ENV_VAR}, else sqlite:///var/ledger.sqlite3)",
    )


def say(message: str) -> None:
    """Human text goes to stderr; stdout is kept for machine output."""
    print(message, file=sys.stderr)


def open_ledger(args: argparse.Namespace, *, create_tables: bool = True) -> Ledger:
    """Open the ledger named by --database-url or the environment.

    On PostgreSQL the URL's schema is created first by a command that creates
    tables; a read-only one (create_tables=False) creates nothing and refuses a
    schema that does not exist, or holds no ledger, in one line (exit 3).
    """
    url = database_url(args.database_url)
    if url.backend == "postgres":
        from scripts.pgschema import prepare_schema  # psycopg's import is paid only where it is used

        prepare_schema(url, create=create_tables)
    return Ledger(url, create_tables=create_tables)
