"""The one mutable table: per-subject data keys, wrapped by the master key.

Everything else the ledger stores is append-only. This table is not: erasing a
subject destroys its data key here (crypto-shredding), and rotating the master
key rewraps every data key in place. It holds no event and nothing the chain
depends on, so the chain, the Merkle tree and old bundles verify unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.dberrors import translated

TABLE = "ledger_subject_keys"
ERASED_INDEX = "ledger_subject_keys_erased"
DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('clinical-ai-ledger ddl'))"
"""The lock every PostgreSQL DDL of the ledger queues on (the recorder's tables and types, this table)."""

KeyRow = tuple[str, bytes, str, int]  # a row to insert: subject, wrapped key, master_key_id, created_us


class SubjectKeysTaken(Exception):  # between the recorders and Ledger.append_batch, never raised to callers
    """Another writer stored a key first for subjects whose events were sealed under fresh keys.

    The append that raises it has written nothing; ``Ledger.append_batch`` seals
    those events again under the stored keys and retries.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        super().__init__(f"{len(self.tokens)} subject key(s) stored first by another writer")


@dataclass(frozen=True)
class WrappedKey:
    """A subject's data key as stored: wrapped, or None once erased."""

    subject: str
    wrapped: bytes | None
    master_key_id: str
    erased_us: int | None


class Vault:
    """Subject keys in the ledger's own database (SQLite or PostgreSQL)."""

    def __init__(self, datastore: Any, backend: str) -> None:
        self.datastore = datastore  # the log's own connections (Ledger.datastore)
        self.backend = backend
        if backend == "postgres":
            self.table: Any = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(TABLE))
            self._get_sql = self._sql(
                "SELECT subject, wrapped, master_key_id, erased_us FROM {t} WHERE subject = ANY(?)"
            )
        else:
            self.table = TABLE
        self._erased_sql = self._sql("SELECT count(*) FROM {t} WHERE wrapped IS NULL")

    def create(self) -> None:
        """Create the table and its index of erased keys if they do not exist.

        On PostgreSQL two processes opening a new ledger at once would both try
        to create them (CREATE ... IF NOT EXISTS is not safe against that), so
        this queues on the recorder's DDL lock; and since CREATE INDEX locks the
        table even when the index exists, a complete vault runs no DDL at all.
        """
        statements = [
            self._sql(
                "CREATE TABLE IF NOT EXISTS {t} (subject TEXT PRIMARY KEY, wrapped {blob}, "
                "master_key_id TEXT NOT NULL, created_us BIGINT NOT NULL, erased_us BIGINT)"
            ),
            # Erased keys are few: the index keeps counting them (erased_count) cheap.
            self._sql("CREATE INDEX IF NOT EXISTS {erased_index} ON {t} (subject) WHERE wrapped IS NULL"),
        ]
        if self.backend == "postgres":
            if self._has(ERASED_INDEX):
                return
            with translated(), self.datastore.get_connection() as conn, conn.transaction():
                conn.execute(DDL_LOCK)
                for statement in statements:
                    conn.execute(statement)
            return
        with translated(), self.datastore.transaction(commit=True) as c:
            for statement in statements:
                c.execute(statement)

    def exists(self) -> bool:
        """Whether the key table exists (a ledger that never sealed, opened without creating tables, has none)."""
        return self._has(TABLE)

    def _has(self, name: str) -> bool:
        """Whether the schema holds a table or index of this name (a catalog read: no lock on the table)."""
        if self.backend == "postgres":
            present = "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL"
            return self._select(present, (self.datastore.schema, name)) == [(True,)]
        return self._run("SELECT count(*) FROM sqlite_master WHERE name = ?", (name,)) == [(1,)]

    def get(self, subjects: Sequence[str]) -> dict[str, WrappedKey]:
        """The stored keys among ``subjects``."""
        if self.backend == "postgres":
            return _wrapped_keys(self._select(self._get_sql, (list(subjects),)))
        found: dict[str, WrappedKey] = {}
        for start in range(0, len(subjects), 500):
            chunk = list(subjects[start : start + 500])
            statement = "SELECT subject, wrapped, master_key_id, erased_us FROM {t} WHERE subject IN ("
            found.update(_wrapped_keys(self._run(statement + ",".join("?" * len(chunk)) + ")", chunk)))
        return found

    def erased_count(self) -> int:
        """How many keys have been erased (it only ever grows: an erased key is never restored)."""
        statement = self._erased_sql
        rows = self._select(statement, ()) if self.backend == "postgres" else self._run(statement, ())
        return int(rows[0][0])

    def add(self, rows: Sequence[KeyRow]) -> None:
        """Insert new keys in one transaction; a subject another writer created meanwhile keeps its key."""
        statement = (
            "INSERT INTO {t} (subject, wrapped, master_key_id, created_us) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (subject) DO NOTHING"
        )
        self._run_many(statement, rows)

    def erase(self, subject: str, *, erased_us: int) -> bool:
        """Destroy a subject's data key; False if it had none or was already erased."""
        rows = self._run(
            "UPDATE {t} SET wrapped = NULL, erased_us = ? WHERE subject = ? AND wrapped IS NOT NULL RETURNING subject",
            (erased_us, subject),
        )
        return bool(rows)

    def all(self) -> list[WrappedKey]:
        """Every key (for rotation and retention reports)."""
        rows = self._run("SELECT subject, wrapped, master_key_id, erased_us FROM {t} ORDER BY subject", ())
        return list(_wrapped_keys(rows).values())

    def rewrap(self, rows: Sequence[tuple[str, bytes, str, str]]) -> int:
        """Replace wrapped keys in one transaction; how many were replaced.

        Each row is (subject, new wrapped key, new master key id, the master key id it
        was read under): a key erased or rewrapped by someone else since is left alone.
        """
        statement = (
            "UPDATE {t} SET wrapped = ?, master_key_id = ? "
            "WHERE subject = ? AND master_key_id = ? AND wrapped IS NOT NULL RETURNING subject"
        )
        return len(self._run_many(statement, [(w, k, s, was) for s, w, k, was in rows]))

    def _sql(self, statement: str) -> Any:
        blob = "BYTEA" if self.backend == "postgres" else "BLOB"
        statement = statement.replace("{blob}", blob)
        if self.backend == "postgres":
            return SQL(statement.replace("?", "%s")).format(t=self.table, erased_index=Identifier(ERASED_INDEX))
        return statement.replace("{t}", TABLE).replace("{erased_index}", ERASED_INDEX)

    def _select(self, sql: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read on PostgreSQL: a single statement on an autocommit connection, one round trip."""
        with translated(), self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(sql, params)
            rows: list[tuple[Any, ...]] = curs.fetchall()
            return rows

    def _run(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._run_many(statement, [params])

    def _run_many(self, statement: str, batches: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        sql = self._sql(statement)
        rows: list[tuple[Any, ...]] = []
        if self.backend == "postgres":
            with translated(), self.datastore.get_connection() as conn, conn.transaction():
                with conn.cursor(row_factory=tuple_row) as curs:
                    for params in batches:
                        curs.execute(sql, params)
                        rows += curs.fetchall() if curs.description else []
            return rows
        with translated(), self.datastore.transaction(commit=True) as c:
            for params in batches:
                c.execute(sql, params)
                rows += [tuple(r) for r in c.fetchall()]
        return rows


def _wrapped_keys(rows: Sequence[tuple[Any, ...]]) -> dict[str, WrappedKey]:
    return {r[0]: WrappedKey(r[0], None if r[1] is None else bytes(r[1]), r[2], r[3]) for r in rows}
