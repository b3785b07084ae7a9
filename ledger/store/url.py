"""The database URL: the one setting that chooses and locates the store ($LEDGER_DATABASE_URL, read by the roots)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import InputError

DEFAULT_URL = "sqlite:///var/ledger.sqlite3"
ENV_VAR = "LEDGER_DATABASE_URL"


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL: its backend and the eventsourcing settings it implies."""

    backend: str  # "sqlite" or "postgres"
    settings: dict[str, str]
    display: str  # the URL without its password, safe to print

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, for the sqlite backend."""
        name = self.settings.get("SQLITE_DBNAME")
        return Path(name) if name else None


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse ``sqlite:///PATH`` or ``postgresql://user:pass@host:port/db?schema=NAME``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(parts.path, url)
    if parts.scheme in ("postgresql", "postgres"):
        return _postgres(url)
    raise InputError("database URL must start with sqlite:/// or postgresql://")


def _sqlite(path: str, url: str) -> DatabaseUrl:
    # sqlite:///relative/file and sqlite:////absolute/file, as SQLAlchemy spells them.
    file = path[1:] if path.startswith("/") else path
    if not file or file.endswith("/"):
        raise InputError("sqlite URL needs a file path, e.g. sqlite:///var/ledger.sqlite3")
    return DatabaseUrl("sqlite", {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": file}, url)


def _postgres(url: str) -> DatabaseUrl:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InputError("postgresql URL needs a database name, e.g. postgresql://127.0.0.1/ledger")
    query = parse_qs(parts.query)
    settings = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
    }
    host = parts.hostname or "127.0.0.1"
    display = f"postgresql://{settings['POSTGRES_USER']}@{host}:{settings['POSTGRES_PORT']}/{dbname}"
    if settings["POSTGRES_SCHEMA"] != "public":
        display += f"?schema={settings['POSTGRES_SCHEMA']}"
    return DatabaseUrl("postgres", settings, display)
