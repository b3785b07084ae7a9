"""The API's settings: read from the environment once, by ``get_settings()``; overridable in tests.

Limits (documented in docs/api.md):

    MAX_EVENT_BYTES    1 MiB   body of POST /v1/events             (413 above)
    MAX_BATCH_BYTES    8 MiB   body of POST /v1/events/batch       (413 above)
    MAX_BATCH_EVENTS   1000    events in one batch                 (422 above)
    MAX_PAGE           1000    records in one page of GET /v1/log  (422 above)

Checkpoints: the server signs the log's head every ``checkpoint_interval_s``
seconds (``$LEDGER_CHECKPOINT_INTERVAL``, default 60; 0 turns the schedule off)
with the key in ``keys_dir``, publishing to ``checkpoint_dir`` (both default to
the ledger's settings: $LEDGER_KEYS_DIR, $LEDGER_CHECKPOINT_DIR, else the
database's own state folder).

This module is the server's reader of the environment (with scripts.serve):
the ledger's own settings (``ledger.config.LedgerSettings``: the database, the
folders, the master keys) are built here, by ``Settings.ledger_settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Final

from ledger.config import LedgerPaths, LedgerSettings
from ledger.errors import InputError

MIB: Final = 1024 * 1024
MAX_EVENT_BYTES: Final = 1 * MIB
MAX_BATCH_BYTES: Final = 8 * MIB
MAX_BATCH_EVENTS: Final = 1000
MAX_PAGE: Final = 1000
DEFAULT_PAGE: Final = 100

ENV_PREFIX: Final = "LEDGER_API_"
CHECKPOINT_INTERVAL_ENV: Final = "LEDGER_CHECKPOINT_INTERVAL"


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know; immutable once built."""

    database_url: str | None = None  # None: $LEDGER_DATABASE_URL, else the embedded SQLite default
    max_event_bytes: int = MAX_EVENT_BYTES
    max_batch_bytes: int = MAX_BATCH_BYTES
    group_max_events: int = 256  # events in one group-commit transaction
    group_max_wait_ms: float = 0.0  # how long the first pending append waits for company (0: natural batching)
    append_timeout_s: float = 30.0  # a single append not committed by then answers 503
    retry_after_s: int = 2  # the Retry-After of a 503
    db_connect_timeout_s: int = 5  # PostgreSQL connect (and pool wait) timeout
    reconnect_interval_s: float = 1.0  # how often a store that could not be opened is tried again
    key_cache_s: float = 2.0  # how long an authenticated key is trusted without a lookup (revocation delay)
    checkpoint_interval_s: float = 60.0  # how often the head is signed if the log grew; 0: never (on demand only)
    keys_dir: str | None = None  # None: $LEDGER_KEYS_DIR, else the database's state folder's keys/
    checkpoint_dir: str | None = None  # None: $LEDGER_CHECKPOINT_DIR, else the state folder's checkpoints/

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from LEDGER_DATABASE_URL and LEDGER_API_<FIELD> variables."""
        defaults = cls()
        values: dict[str, object] = {"database_url": environ.get("LEDGER_DATABASE_URL") or None}
        for name, (kind, least) in _NUMBERS.items():
            variable = CHECKPOINT_INTERVAL_ENV if name == "checkpoint_interval_s" else ENV_PREFIX + name.upper()
            raw = environ.get(variable)
            values[name] = _number(variable, raw, kind, least) if raw else getattr(defaults, name)
        return cls(**values)  # type: ignore[arg-type]

    def ledger_settings(self) -> LedgerSettings:
        """The ledger's settings: these settings' database and folders, the rest (master keys) from the environment."""
        return LedgerSettings.from_environ(
            os.environ, self.database_url, keys_dir=self.keys_dir, checkpoint_dir=self.checkpoint_dir
        )

    def ledger_paths(self) -> LedgerPaths:
        """The signing-key folder, the checkpoint folder and the origin (settings, else the environment)."""
        return self.ledger_settings().paths


# The numeric settings read from the environment: (type, least value allowed).
_NUMBERS: Final[dict[str, tuple[type[int] | type[float], float]]] = {
    "group_max_events": (int, 1),
    "retry_after_s": (int, 0),
    "db_connect_timeout_s": (int, 1),
    "group_max_wait_ms": (float, 0),
    "append_timeout_s": (float, 0.001),
    "reconnect_interval_s": (float, 0.001),
    "key_cache_s": (float, 0),
    "checkpoint_interval_s": (float, 0),
}


def _number(variable: str, raw: str, kind: type[int] | type[float], least: float) -> int | float:
    """A setting's value, or InputError naming the variable (never a traceback at startup)."""
    try:
        value = kind(raw)
    except ValueError:
        raise InputError(f"{variable} must be {'an integer' if kind is int else 'a number'}") from None
    if not value >= least:  # also refuses NaN
        raise InputError(f"{variable} must be at least {least:g}")
    return value


@cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use (tests: pass Settings to create_app)."""
    return Settings.from_env()
