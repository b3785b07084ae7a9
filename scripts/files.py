"""The files an auditor or operator names on the command line: read, parsed, and any defect said in one line.

Reading and parsing go through ``ledger.proof.files.parse_file`` (a file that cannot be read is
exit 3; one that is not UTF-8 text is exit 2); parsing through the ledger's
own strict parsers, whose InputError is re-raised naming the file, so the line
says which file and what is wrong with it (exit 2), never a traceback, and
never an integrity failure: a file that cannot be parsed proves nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.proof.checkpoint import parse_signed_checkpoint
from ledger.proof.cosignature import Policy, parse_policy
from ledger.proof.files import parse_file
from ledger.proof.keys import Keyring, parse_keyring
from ledger.proof.verify import Claim


def keyring_file(path: Path) -> Keyring:
    """A trusted keys file: one verifier key a line."""
    return parse_file(path, parse_keyring, what="trusted keys file")


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    """--witness-policy, for `ledger verify` and `ledger verify-bundle`."""
    parser.add_argument(
        "--witness-policy",
        type=Path,
        metavar="FILE",
        help="a C2SP tlog-policy file you hold: the checkpoint(s) must carry cosignatures meeting its quorum",
    )


def policy_file(path: Path) -> Policy:
    """A witness policy file (c2sp.org/tlog-policy)."""
    return parse_file(path, parse_policy, what="witness policy file")


def checkpoint_file(path: Path, *, source: str, what: str) -> Claim:
    """A signed checkpoint file, parsed so that garbage is refused before verification starts.

    Only its form is checked here; its signature, origin and root are
    verification's (a well-formed checkpoint they contradict is a finding).
    """

    def parse(text: str) -> Claim:
        parse_signed_checkpoint(text)
        return Claim(source, text)

    return parse_file(path, parse, what=what)
