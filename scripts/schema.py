"""`ledger schema`: the event catalogue as one JSON Schema document."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from ledger.catalogue import json_schema
from scripts.common import Exit


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(name, help="print the event catalogue as JSON Schema")
    parser.add_argument("--output", type=Path, help="write to this file instead of stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print or write the schema."""
    data = orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if args.output:
        args.output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return Exit.OK
