"""The ledger's settings, and where it keeps what is not in the database: signing keys and published checkpoints.

``LedgerSettings`` is everything the ledger is configured with: the database,
the folders below and where the master keys are. Only the two composition
roots read the environment: the command line (``scripts.common``) and the
server (``api.settings``, ``scripts.serve``); each passes it to
``LedgerSettings.from_environ`` and hands the settings down.

The folders' default place is derived from the database, so that state
belonging to one ledger is never shared by two of them::

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.masterkey import MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, PREVIOUS_KEYS_ENV, MasterKeySource

if TYPE_CHECKING:
    from ledger.store.url import DatabaseUrl

DEFAULT_ORIGIN = "clinical-ai-ledger.example/demo"
STATE_DIR_ENV = "LEDGER_STATE_DIR"
KEYS_DIR_ENV = "LEDGER_KEYS_DIR"
CHECKPOINT_DIR_ENV = "LEDGER_CHECKPOINT_DIR"
ORIGIN_ENV = "LEDGER_ORIGIN"
TSA_URLS_ENV = "LEDGER_TSA_URLS"  # the RFC 3161 time-stamping authorities, separated by spaces (ledger.timestamping)
WITNESS_POLICY_ENV = "LEDGER_WITNESS_POLICY"
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
    ``tsa_urls``: the time-stamping authorities asked for a token over each
    checkpoint signed (none: checkpoints are not timestamped).
    """

    keys_dir: Path
    checkpoint_dir: Path
    origin: str
    state_dir: Path | None = None
    tsa_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class LedgerSettings:
    """One ledger's configuration: its database, its folders and origin, and where its master keys are.

    Built once by a composition root (``from_environ``) and passed down; nothing
    below the roots reads the environment. The master keys are only located
    here: they are read, and a missing one reported, when the ledger first
    needs them (``Ledger.keys``).
    """

    database: DatabaseUrl
    paths: LedgerPaths
    master_keys: MasterKeySource
    witness_policy: Path | None = None
    """A c2sp.org/tlog-policy file: the witnesses each new checkpoint is sent to, and the quorum it needs."""

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        database: DatabaseUrl | str | None = None,
        *,
        keys_dir: str | None = None,
        checkpoint_dir: str | None = None,
        tsa_urls: Sequence[str] | None = None,
    ) -> LedgerSettings:
        """The settings of the ledger at ``database`` (else $LEDGER_DATABASE_URL, else the embedded default).

        ``environ`` is the process's environment, passed by the root that reads
        it. Folders: explicit values win, then $LEDGER_KEYS_DIR /
        $LEDGER_CHECKPOINT_DIR, then the state folder ($LEDGER_STATE_DIR, else
        derived from the database). The master key: $LEDGER_MASTER_KEY, else
        $LEDGER_MASTER_KEY_FILE, else master.key in the keys folder the
        environment names (an explicit ``keys_dir`` holds signing keys only).
        Time-stamping authorities: ``tsa_urls`` if given, else $LEDGER_TSA_URLS.
        The witness policy: $LEDGER_WITNESS_POLICY, else none.
        """
        url = _resolve(database, environ)
        state = Path(environ.get(STATE_DIR_ENV) or default_state_dir(url))
        keys, checkpoints = state / "keys", state / "checkpoints"
        if url.sqlite_path == LEGACY_DATABASE and not environ.get(STATE_DIR_ENV) and _legacy_layout(state):
            keys, checkpoints = LEGACY_KEYS, LEGACY_CHECKPOINTS
        env_keys = Path(environ.get(KEYS_DIR_ENV) or keys)
        paths = LedgerPaths(
            Path(keys_dir or env_keys),
            Path(checkpoint_dir or environ.get(CHECKPOINT_DIR_ENV) or checkpoints),
            environ.get(ORIGIN_ENV) or DEFAULT_ORIGIN,
            state,
            tuple(tsa_urls if tsa_urls is not None else environ.get(TSA_URLS_ENV, "").split()),
        )
        master_keys = MasterKeySource(
            file=Path(environ.get(MASTER_KEY_FILE_ENV) or env_keys / "master.key"),
            secret=environ.get(MASTER_KEY_ENV) or None,
            previous_files=tuple(p for p in environ.get(PREVIOUS_KEYS_ENV, "").split(os.pathsep) if p),
        )
        policy = environ.get(WITNESS_POLICY_ENV)
        return cls(url, paths, master_keys, Path(policy) if policy else None)

    @classmethod
    def for_database(cls, database: DatabaseUrl | str) -> LedgerSettings:
        """The settings of the ledger at ``database`` when nothing is configured (as from an empty environment)."""
        return cls.from_environ({}, database)


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


def _resolve(database: DatabaseUrl | str | None, environ: Mapping[str, str]) -> DatabaseUrl:
    # Imported here: ledger.store imports this module, and ledger.store.url would import ledger.store first.
    from ledger.store.url import DEFAULT_URL, ENV_VAR, DatabaseUrl, parse_database_url

    if isinstance(database, DatabaseUrl):
        return database
    return parse_database_url(database or environ.get(ENV_VAR) or DEFAULT_URL)
