"""The auditor's side of trusted time: ``--trusted-tsa``, the published tokens, and what they say.

Both are read before verification starts: a certificate file or a token file
that cannot be used stops the run (exit 2, naming the file), as a malformed
checkpoint file does (scripts.trust); it proves nothing either way.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.proof.timestamp import TokenClaim, load_tsa_roots, parse_token
from ledger.proof.verify import Stamp
from scripts.common import counted, say

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

_TOKEN_NAME = re.compile(r"([0-9]{20})\.[0-9a-f]{16}\.tsr")


def add_tsa_option(parser: argparse.ArgumentParser) -> None:
    """--trusted-tsa CERT.pem, repeatable."""
    parser.add_argument(
        "--trusted-tsa",
        type=Path,
        action="append",
        default=[],
        metavar="CERT.pem",
        help="the root certificate(s) of an RFC 3161 time-stamping authority you trust; each checkpoint's tokens "
        "are then checked and their times reported (repeatable)",
    )


def tsa_roots_for(args: argparse.Namespace) -> list[Certificate] | None:
    """The certificates of every --trusted-tsa file; None if none was given."""
    if not args.trusted_tsa:
        return None
    roots: list[Certificate] = []
    for path in args.trusted_tsa:  # unreadable: OSError, exit 3; no certificate in it: InputError, exit 2
        roots += load_tsa_roots(path.read_bytes(), what=f"trusted TSA certificate file {path}")
    return roots


def published_tokens(folder: Path) -> list[TokenClaim]:
    """Every ``<size>.<label>.tsr`` in the checkpoint folder, parsed; InputError names a file that is not a token."""
    if not folder.is_dir():
        return []
    tokens = []
    for path in sorted(folder.glob("*.tsr")):
        match = _TOKEN_NAME.fullmatch(path.name)
        if match is None:
            raise InputError(f"time-stamp token file {path}: the name is not <size, 20 digits>.<16 hex digits>.tsr")
        data = path.read_bytes()
        try:
            parse_token(data)
        except InputError as exc:
            raise InputError(f"time-stamp token file {path}: {exc}") from exc
        tokens.append(TokenClaim(f"file {path.name}", int(match.group(1)), data))
    if tokens:
        say(f"{counted(len(tokens), 'published time-stamp token')} in {folder}")
    return tokens


def say_stamps(stamps: Sequence[Stamp]) -> None:
    """Each timestamped checkpoint's bound, one line each."""
    for stamp in stamps:
        say(f"  entries 1-{stamp.size}: in the log no later than {stamp.time_text} (time-stamped by {stamp.tsa})")
