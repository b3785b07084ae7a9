"""An attacker with full control of the database: triggers off, rows edited directly.

Used by the tamper tests on both stores. Statements name tables as
``{events}`` (events with their chain columns) and ``{nodes}`` (Merkle nodes);
``originator_id`` compares with ``event_key``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from ledger.store.url import parse_database_url
from tests.conftest import PG_ADMIN_URL


class Attacker:
    """Runs SQL on a ledger's tables with the append-only triggers out of the way."""

    def __init__(self, url: str) -> None:
        self.db = parse_database_url(url)
        self.backend = self.db.backend
        if self.backend == "sqlite":
            self.tables = {
                "events": "stored_events",
                "nodes": "ledger_merkle_nodes",
                "checkpoints": "ledger_checkpoints",
            }
        else:
            schema = self.db.settings["POSTGRES_SCHEMA"]
            self.tables = {
                "events": f'"{schema}".ledger_events',
                "nodes": f'"{schema}".ledger_merkle_nodes',
                "checkpoints": f'"{schema}".ledger_checkpoints',
            }

    def run(self, *statements: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Execute statements in one transaction; return the last one's rows."""
        sql = [s.format(**self.tables).replace("%s", "?" if self.backend == "sqlite" else "%s") for s in statements]
        return self._sqlite(sql, params) if self.backend == "sqlite" else self._postgres(sql, params)

    def _sqlite(self, statements: list[str], params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(str(self.db.sqlite_path))
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
            for name in names:
                conn.execute(f"DROP TRIGGER {name}")
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                rows = conn.execute(statement, params if "?" in statement else ()).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    def _postgres(self, statements: list[str], params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            conn.execute("SET session_replication_role = replica")  # superuser: triggers do not fire
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                cur = conn.execute(statement, params if "%s" in statement else ())  # type: ignore[arg-type]
                rows = cur.fetchall() if cur.description else []
            return rows

    def event_key(self, event_id: str) -> Any:
        """How the event_id is spelled in the tables' id columns."""
        return event_id.replace("-", "") if self.backend == "sqlite" else event_id
