"""Reading a text file someone named (a key, a checkpoint, a bundle): the one place its bytes become text.

Every command that reads a file the user names goes through ``read_text``, so
two defects are told apart the same way everywhere:

- the file cannot be read (missing, a folder, no permission): ``OSError``
  passes through untouched, and the command says it could not run (exit 3);
- the file was read but is not UTF-8 text (a binary file given by mistake):
  ``InputError`` naming the file and the first bad byte (exit 2), never
  Python's ``UnicodeDecodeError`` and its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ledger.errors import InputError

T = TypeVar("T")


def decode_text(data: bytes, *, what: str) -> str:
    """``data`` as UTF-8 text; InputError naming ``what`` and the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text (byte {exc.start} is not UTF-8)") from exc


def read_text(path: Path, *, what: str) -> str:
    """The text of the file at ``path``, described in messages as ``what`` (e.g. "trusted keys file")."""
    return decode_text(path.read_bytes(), what=f"{what} {path}")


def parse_file(path: Path, parse: Callable[[str], T], *, what: str) -> T:
    """Read the text file at ``path`` and parse it; InputError names ``what``, the file and the defect."""
    text = read_text(path, what=what)
    try:
        return parse(text)
    except InputError as exc:
        raise InputError(f"{what} {path}: {exc}") from exc
