"""Where the ledger keeps what is not in the database: signing keys and published checkpoints.

That state belongs to one ledger, so its default place is derived from the
database, never shared by two of them::

    sqlite:///DIR/NAME.sqlite3           DIR/NAME.d/                       beside the file
    postgresql://HOST:PORT/DB?schema=S   var/postgresql/HOST_PORT_DB_S/    under the working folder

It holds ``keys/`` (the signing keys, ``trusted.keys`` and, unless configured
elsewhere, the master key ``master.key``), ``checkpoints/`` (the published
checkpoints and ``ledger.identity``, which names the ledger they belong to:
ledger.ownership) and ``demo-keys.json`` (the API keys of ``ledger serve --demo``).

A folder given on the command line wins; then $LEDGER_KEYS_DIR or
$LEDGER_CHECKPOINT_DIR; then a state folder the operator names in
$LEDGER_STATE_DIR; then the derived one. A clone still laid out the earlier
way (var/keys, var/checkpoints, shared) keeps those folders for the default
ledger only. The embedded demo needs no configuration at all.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.store.url import DatabaseUrl

DEFAULT_ORIGIN = "clinical-ai-ledger.example/demo"
STATE_DIR_ENV = "LEDGER_STATE_DIR"
KEYS_DIR_ENV = "LEDGER_KEYS_DIR"
CHECKPOINT_DIR_ENV = "LEDGER_CHECKPOINT_DIR"
POSTGRES_STATE_ROOT = Path("var/postgresql")
# Before state folders, every ledger run from one folder shared these; the default database keeps them.
LEGACY_DATABASE = Path("var/ledger.sqlite3")
LEGACY_KEYS = Path("var/keys")
LEGACY_CHECKPOINTS = Path("var/checkpoints")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class LedgerPaths:
    """One ledger's signing-key folder, its checkpoint folder, the log's origin line, and its state folder.

    ``state_dir`` is None for paths built field by field (a test's folders).
    """

    keys_dir: Path
    checkpoint_dir: Path
    origin: str
    state_dir: Path | None = None

    @classmethod
    def from_env(
        cls,
        database: DatabaseUrl | str | None = None,
        *,
        keys_dir: str | None = None,
        checkpoint_dir: str | None = None,
    ) -> LedgerPaths:
        """The paths of the ledger at ``database`` (else $LEDGER_DATABASE_URL, else the embedded default).

        Explicit values win, then $LEDGER_KEYS_DIR / $LEDGER_CHECKPOINT_DIR, then
        the state folder ($LEDGER_STATE_DIR, else derived from the database).
        """
        url = _resolve(database)
        state = Path(os.environ.get(STATE_DIR_ENV) or default_state_dir(url))
        keys, checkpoints = state / "keys", state / "checkpoints"
        if url.sqlite_path == LEGACY_DATABASE and not os.environ.get(STATE_DIR_ENV) and _legacy_layout(state):
            keys, checkpoints = LEGACY_KEYS, LEGACY_CHECKPOINTS
        return cls(
            Path(keys_dir or os.environ.get(KEYS_DIR_ENV) or keys),
            Path(checkpoint_dir or os.environ.get(CHECKPOINT_DIR_ENV) or checkpoints),
            os.environ.get("LEDGER_ORIGIN") or DEFAULT_ORIGIN,
            state,
        )


def default_state_dir(database: DatabaseUrl) -> Path:
    """The folder that holds one ledger's keys and checkpoints when nothing says otherwise.

    SQLite: ``NAME.d`` beside the database file ``NAME.sqlite3``. PostgreSQL: a
    folder under var/ named by host, port, database and schema (with a short
    hash of them when a name had to be made safe for a file name).
    """
    path = database.sqlite_path
    if path is not None:
        state = path.with_name(path.stem + ".d")
        return state if state != path else path.with_name(path.name + ".d")
    settings = database.settings
    parts = [settings[k] for k in ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DBNAME", "POSTGRES_SCHEMA")]
    name = "_".join(_UNSAFE.sub("-", part) for part in parts)
    if name != "_".join(parts) or name.startswith("."):
        name += "-" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8]
    return POSTGRES_STATE_ROOT / name


def _legacy_layout(state: Path) -> bool:
    """True where the default ledger's state is still in the shared folders of earlier versions (var/keys, ...).

    They are used as they are (moving a master key or a signing key behind the
    operator's back is not this module's to do); docs/operations.md says how to
    move them into the state folder.
    """
    return not state.exists() and (LEGACY_KEYS.is_dir() or LEGACY_CHECKPOINTS.is_dir())


def _resolve(database: DatabaseUrl | str | None) -> DatabaseUrl:
    # Imported here: ledger.store imports this module, and ledger.store.url would import ledger.store first.
    from ledger.store.url import DatabaseUrl, database_url

    return database if isinstance(database, DatabaseUrl) else database_url(database)
