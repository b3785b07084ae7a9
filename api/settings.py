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
database's own state folder). A signing first commits the completeness index
when its last commit is at least ``index_interval_s`` old
($LEDGER_API_INDEX_INTERVAL_S, default 0: at every signing).

Pages (api.pages): sessions last ``session_hours`` ($LEDGER_API_SESSION_HOURS,
default 8) and are signed with ``session_secret`` ($LEDGER_API_SESSION_SECRET;
unset: a secret generated once and kept in the state folder, api.pages.secret).
Times are shown in ``time_zone`` ($LEDGER_API_TIME_ZONE, an IANA name, default
UTC), with their offset.

Replica: with ``read_database_url`` ($LEDGER_READ_DATABASE_URL, a PostgreSQL
streaming replica of the ledger's database), the raw log and the views' queries
are read there; appends, proofs and everything else stay on the primary. Those
answers say how far behind the replica is (``Ledger-Replica-Lag-Seconds``).

This module is the server's reader of the environment (with scripts.serve):
the ledger's own settings (``ledger.config.LedgerSettings``: the database, the
folders, the master keys) are built here, by ``Settings.ledger_settings``.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
READ_DATABASE_URL_ENV: Final = "LEDGER_READ_DATABASE_URL"
ORGANISATIONS_ENV: Final = "LEDGER_ORGANISATIONS_FILE"  # `ledger serve --organisations FILE` sets it for its workers


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know; immutable once built."""

    database_url: str | None = None  # None: $LEDGER_DATABASE_URL, else the embedded SQLite default
    read_database_url: str | None = None  # a streaming replica for the log and the views ($LEDGER_READ_DATABASE_URL)
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
    index_interval_s: float = 0.0  # a signing commits the completeness index if its last commit is this old; 0: always
    keys_dir: str | None = None  # None: $LEDGER_KEYS_DIR, else the database's state folder's keys/
    checkpoint_dir: str | None = None  # None: $LEDGER_CHECKPOINT_DIR, else the state folder's checkpoints/
    origin: str | None = None  # the checkpoints' origin line; None: $LEDGER_ORIGIN, else the default
    session_secret: str | None = None  # signs the pages' session cookies; None: kept in the state folder
    session_hours: float = 8.0  # a page session's life
    time_zone: str = "UTC"  # the hospital's time zone (IANA name): the pages show times in it
    cds_clients_file: str | None = None  # the registered CDS Hooks clients (api.interop.cdsauth); $LEDGER_CDS_CLIENTS
    organisations_file: str | None = None  # organisation ledgers (api.organisations); $ORGANISATIONS_ENV

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from LEDGER_DATABASE_URL and LEDGER_API_<FIELD> variables."""
        defaults = cls()
        values: dict[str, object] = {
            "database_url": environ.get("LEDGER_DATABASE_URL") or None,
            "read_database_url": environ.get(READ_DATABASE_URL_ENV) or None,
        }
        for name, (kind, least) in _NUMBERS.items():
            variable = CHECKPOINT_INTERVAL_ENV if name == "checkpoint_interval_s" else ENV_PREFIX + name.upper()
            raw = environ.get(variable)
            values[name] = _number(variable, raw, kind, least) if raw else getattr(defaults, name)
        values["session_secret"] = environ.get(ENV_PREFIX + "SESSION_SECRET") or None
        values["cds_clients_file"] = environ.get("LEDGER_CDS_CLIENTS") or None
        values["organisations_file"] = environ.get(ORGANISATIONS_ENV) or None
        values["time_zone"] = _time_zone(ENV_PREFIX + "TIME_ZONE", environ.get(ENV_PREFIX + "TIME_ZONE") or "UTC")
        return cls(**values)  # type: ignore[arg-type]

    def ledger_settings(self) -> LedgerSettings:
        """The ledger's settings: these settings' database and folders, the rest (master keys) from the environment."""
        settings = LedgerSettings.from_environ(
            os.environ, self.database_url, keys_dir=self.keys_dir, checkpoint_dir=self.checkpoint_dir
        )
        return settings if self.origin is None else replace(settings, paths=replace(settings.paths, origin=self.origin))

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
    "index_interval_s": (float, 0),
    "session_hours": (float, 0.01),
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


def _time_zone(variable: str, name: str) -> str:
    """An IANA time zone name the machine knows, or InputError naming the variable."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(f"{variable} must be an IANA time zone name, e.g. Europe/Paris") from None
    return name


@cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use (tests: pass Settings to create_app)."""
    return Settings.from_env()
