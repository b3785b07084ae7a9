"""API keys: who may call the ledger's API, and in which role.

A key is shown once, when it is created, as ``lk_<key_id>_<secret>``: the key id
is 16 hexadecimal digits (public, it names the key in lists and logs) and the
secret 32 random bytes in hexadecimal. The table ``ledger_api_keys``, in the
same database (and PostgreSQL schema) as the ledger, keeps only SHA-256 of the
secret, the role, the bound source (for emitters), a label, and when the key
was created and revoked. Secrets are compared in constant time.

Roles:

    emitter   may append events, only with the ``source`` bound to its key
    reader    queries and pages (legal, risk)
    auditor   the raw log, proofs, checkpoints, exports
    admin     everything

The table is not part of the evidence: revoking a key sets ``revoked_at``.
Database failures become StoreUnavailable in ledger.dberrors (``translated``), named after this store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

import psycopg
from psycopg import sql

from ledger.catalogue.control import RESERVED_SOURCE
from ledger.dberrors import translated
from ledger.errors import InputError
from ledger.store.url import DatabaseUrl, parse_database_url

TABLE: Final = "ledger_api_keys"
PREFIX: Final = "lk"
_TOKEN: Final = re.compile(r"lk_([0-9a-f]{16})_([0-9a-f]{64})")
_SOURCE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # the catalogue's SourceId
_LABEL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,99}")
_DUMMY_DIGEST: Final = bytes(32)  # compared against when a key id is unknown, to keep timing flat

# The statements, with {table} for the (schema-qualified) table and ? for parameters.
_INSERT: Final = (
    "INSERT INTO {table} (key_id, secret_sha256, role, source, label, created_at, revoked_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_ALL: Final = (
    "SELECT key_id, secret_sha256, role, source, label, created_at, revoked_at FROM {table} ORDER BY created_at, key_id"
)
_SELECT_ONE: Final = (
    "SELECT key_id, secret_sha256, role, source, label, created_at, revoked_at FROM {table} WHERE key_id = ?"
)
_REVOKE: Final = "UPDATE {table} SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"


class Role(StrEnum):
    """What a key may do; see the module docstring."""

    EMITTER = "emitter"
    READER = "reader"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    role: Role
    source: str | None
    label: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        """The key as `ledger api-keys list --format json` prints it."""
        return {
            "key_id": self.key_id,
            "role": str(self.role),
            "source": self.source,
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created: its record and the token, which is shown only this once."""

    key: ApiKey
    token: str


def secret_digest(secret_hex: str) -> bytes:
    """SHA-256 of the secret's bytes: the only form of the secret that is stored."""
    return hashlib.sha256(bytes.fromhex(secret_hex)).digest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed token, else None."""
    match = _TOKEN.fullmatch(token)
    return None if match is None else (match.group(1), match.group(2))


def check_grant(role: Role, source: str | None) -> None:
    """Refuse a role/source combination that makes no sense (InputError)."""
    if role is Role.EMITTER and source is None:
        raise InputError("an emitter key needs --source: the one source it may append for")
    if role is not Role.EMITTER and source is not None:
        raise InputError("only emitter keys are bound to a source")
    if source is not None and not _SOURCE.fullmatch(source):
        raise InputError("source must be 1-64 characters of a-z, 0-9, '.', '_' or '-'")
    if source == RESERVED_SOURCE:
        raise InputError("the source ledger is reserved for the ledger's own events: no key can be bound to it")


def check_label(label: str) -> None:
    """A label is a short name for people (no free text): letters, digits, space and ._:/@-."""
    if not _LABEL.fullmatch(label):
        raise InputError("label must be 1-100 characters: letters, digits, space and ._:/@-")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Backend(Protocol):
    def create_table(self) -> None: ...

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int: ...


class KeyStore:
    """The API keys of one ledger database."""

    def __init__(self, url: str | DatabaseUrl, *, create_table: bool = True) -> None:
        parsed = url if isinstance(url, DatabaseUrl) else parse_database_url(url)
        self._backend: _Backend = _SQLite(parsed) if parsed.backend == "sqlite" else _Postgres(parsed)
        if create_table:
            self._backend.create_table()

    def create(self, role: Role, *, source: str | None = None, label: str) -> NewKey:
        """Create a key; the returned token is the only time its secret exists outside the caller."""
        check_grant(role, source)
        check_label(label)
        key_id, secret = secrets.token_hex(8), secrets.token_hex(32)
        key = ApiKey(key_id, role, source, label, _now(), None)
        self._backend.execute(
            _INSERT,
            (key_id, secret_digest(secret), str(role), source, label, key.created_at, None),
        )
        return NewKey(key, f"{PREFIX}_{key_id}_{secret}")

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first."""
        rows = self._backend.query(_SELECT_ALL)
        keys = [_key(row) for row in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def get(self, key_id: str) -> ApiKey | None:
        """One key by its id, or None."""
        row = self._row(key_id)
        return None if row is None else _key(row)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent); InputError if there is no such key."""
        self._backend.execute(_REVOKE, (_now(), key_id))
        key = self.get(key_id)
        if key is None:
            raise InputError(f"no API key with id {key_id!r}")
        return key

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or None (malformed, unknown, wrong secret or revoked)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        row = self._row(key_id)
        stored = _DUMMY_DIGEST if row is None else bytes(row[1])
        matches = hmac.compare_digest(stored, secret_digest(secret))
        if row is None or not matches:
            return None
        key = _key(row)
        return key if key.active else None

    def close(self) -> None:
        """Nothing is held open between operations; kept for symmetry with Ledger."""

    def _row(self, key_id: str) -> tuple[Any, ...] | None:
        rows = self._backend.query(_SELECT_ONE, (key_id,))
        return rows[0] if rows else None


def _key(row: Sequence[Any]) -> ApiKey:
    key_id, _, role, source, label, created_at, revoked_at = row
    return ApiKey(str(key_id), Role(role), source, str(label), str(created_at), revoked_at)


_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS {table} ("
    "key_id TEXT PRIMARY KEY, "
    "secret_sha256 {blob} NOT NULL, "
    "role TEXT NOT NULL CHECK (role IN ('emitter', 'reader', 'auditor', 'admin')), "
    "source TEXT, "
    "label TEXT NOT NULL, "
    "created_at TEXT NOT NULL, "
    "revoked_at TEXT, "
    "CHECK ((role = 'emitter') = (source IS NOT NULL)))"
)


class _SQLite:
    """A connection per operation: cheap on SQLite, and safe from any thread."""

    def __init__(self, url: DatabaseUrl) -> None:
        path = url.sqlite_path
        if path is None:
            raise InputError("sqlite URL needs a file path")
        self.path = path

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with translated(label="API key store"):
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            try:
                yield conn
            finally:
                conn.close()

    def create_table(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.execute(_DDL.replace("{blob}", "BLOB"))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(statement.format(table=TABLE), tuple(params)).fetchall()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self._connection() as conn:
            return conn.execute(statement.format(table=TABLE), tuple(params)).rowcount


class _Postgres:
    """A short connection per operation: recovers by itself when the server comes back.

    The API caches authenticated keys for a few seconds, so this is not on the
    path of every request.
    """

    def __init__(self, url: DatabaseUrl) -> None:
        s = url.settings
        self.schema = s["POSTGRES_SCHEMA"]
        self.table = sql.Identifier(self.schema, TABLE)
        self.conninfo = psycopg.conninfo.make_conninfo(
            host=s["POSTGRES_HOST"],
            port=s["POSTGRES_PORT"],
            dbname=s["POSTGRES_DBNAME"],
            user=s["POSTGRES_USER"],
            password=s["POSTGRES_PASSWORD"] or None,
            connect_timeout=5,
        )

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with translated(label="API key store"), psycopg.connect(self.conninfo, autocommit=True) as conn:
            yield conn

    def _sql(self, statement: str) -> sql.Composed:
        # Statements are this module's constants; only the table name is interpolated, as an Identifier.
        text = statement.replace("?", "%s").replace("{table}", "{0}")
        return sql.SQL(text).format(self.table)

    def create_table(self) -> None:
        with self._connection() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            conn.execute(self._sql(_DDL.replace("{blob}", "BYTEA")))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(self._sql(statement), tuple(params)).fetchall()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self._connection() as conn:
            return conn.execute(self._sql(statement), tuple(params)).rowcount
