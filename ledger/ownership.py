"""Which ledger a checkpoint folder belongs to, so that no ledger is checked against another's checkpoints.

A published checkpoint is evidence about one log. Checked against another log,
it would report that log truncated or rewritten: a false tamper alarm. So a
checkpoint folder names its ledger in ``ledger.identity``, written when a
ledger first publishes a checkpoint there::

    {"first_entry_hash": "<hex>", "database": "<where that ledger's database is>"}

The first entry's chain hash covers the first event and the microsecond it was
recorded, so two ledgers do not share it, and an append-only log never changes
it. When it does not match the ledger at hand, the location tells two cases
apart:

  1. the same database (the same SQLite file, the same PostgreSQL schema): this
     ledger, with its first entry rewritten or its database replaced. Nothing
     is refused: verification goes on, and the folder's checkpoints report it.
  2. another database: the folder is another ledger's. ``ForeignCheckpointFolder``
     (bad input, exit 2), never an integrity failure.

A folder without the file (published before this rule) is used as it is, and
claimed by the next checkpoint published to it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from ledger.errors import InputError
from ledger.store import DatabaseUrl, Ledger

IDENTITY_FILE = "ledger.identity"


class ForeignCheckpointFolder(InputError):
    """The checkpoint folder holds another ledger's checkpoints."""


@dataclass(frozen=True)
class Identity:
    """What names a ledger: the chain hash of its first entry, and where its database is."""

    first_entry_hash: str
    database: str

    def to_bytes(self) -> bytes:
        """The identity file's contents."""
        return orjson.dumps({"first_entry_hash": self.first_entry_hash, "database": self.database}) + b"\n"


def location(url: DatabaseUrl) -> str:
    """Where a database is, without credentials: the SQLite file's absolute path, or host:port/db/schema."""
    path = url.sqlite_path
    if path is not None:
        return f"sqlite:///{path.resolve()}"
    s = url.settings
    return (
        f"postgresql://{s['POSTGRES_HOST']}:{s['POSTGRES_PORT']}/{s['POSTGRES_DBNAME']}?schema={s['POSTGRES_SCHEMA']}"
    )


def identity_of(ledger: Ledger) -> Identity | None:
    """The ledger's identity, or None while its log is empty."""
    first = ledger.read(after_seq=0, limit=1)
    return Identity(first[0].hash.hex(), location(ledger.url)) if first else None


def recorded(folder: Path) -> Identity | None:
    """The identity a checkpoint folder records, or None if it records none."""
    path = folder / IDENTITY_FILE
    try:
        data = orjson.loads(path.read_bytes())
        return Identity(str(data["first_entry_hash"]), str(data["database"]))
    except FileNotFoundError:
        return None
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a ledger identity file") from exc


def check_belongs(folder: Path, ledger: Ledger) -> None:
    """Refuse (ForeignCheckpointFolder) a folder that records another ledger at another place (case 2 above)."""
    theirs = recorded(folder)
    if theirs is None:
        return
    ours = identity_of(ledger)
    if ours is not None and ours.first_entry_hash == theirs.first_entry_hash:
        return
    if theirs.database == location(ledger.url):
        return  # case 1: this database, changed; the checkpoints will say how
    raise ForeignCheckpointFolder(
        f"the checkpoint folder {folder} belongs to another ledger ({theirs.database}): "
        "pass this ledger's own with --checkpoint-dir"
    )


def claim(folder: Path, ledger: Ledger) -> None:
    """Record the ledger's identity in the folder unless one is recorded (call after publishing to it)."""
    ours = identity_of(ledger)
    if ours is None or (folder / IDENTITY_FILE).exists():
        return
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(ours.to_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another signer claimed it first: the same ledger, under the lock
            os.link(temporary, folder / IDENTITY_FILE)
    finally:
        os.unlink(temporary)
