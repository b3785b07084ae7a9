"""The chain on SQLite: eventsourcing's events table, extended with the chain's columns.

Writers take SQLite's write lock with ``BEGIN IMMEDIATE`` before reading the
chain head, so writers in other threads or processes queue behind it and the
head they read cannot change before they commit. ``seq`` is the table's rowid.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnection, SQLiteDatastore

from ledger.proof.merkle import NodeKey, frontier_keys
from ledger.store.plan import Existing, Head, Plan, Row, Tip, TipCache, plan_append
from ledger.store.recorder import RECORD_COLUMNS, now_us, record_of
from ledger.store.records import Receipt, Record, StoredCheckpoint
from ledger.store.sqlite_pool import use_ledger_pool
from ledger.vault import TABLE as KEYS
from ledger.vault import KeyRow, SubjectKeysTaken

EVENTS = "stored_events"
NODES = "ledger_merkle_nodes"
CHECKPOINTS = "ledger_checkpoints"

# eventsourcing's columns (its primary key kept as a UNIQUE constraint) plus the chain's;
# seq is the rowid, so the log is read in seq order without another index.
_CREATE_EVENTS = f"""
CREATE TABLE IF NOT EXISTS {EVENTS} (
    seq INTEGER PRIMARY KEY,
    originator_id TEXT NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    state BLOB NOT NULL,
    digest BLOB NOT NULL,
    recorded_us INTEGER NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    UNIQUE (originator_id, originator_version)
)"""

_CREATE_NODES = f"""
CREATE TABLE IF NOT EXISTS {NODES} (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID"""

_CREATE_CHECKPOINTS = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_us INTEGER NOT NULL
)"""

_INSERT_ROW = (
    f"INSERT INTO {EVENTS} (seq, originator_id, originator_version, topic, state, "
    "digest, recorded_us, prev_hash, hash, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
# A row inserted only if its prev_hash is the chain head's hash (GENESIS when empty):
# the head is read under the write lock, in the statement that extends it.
_INSERT_LINKED_ROW = (
    f"INSERT INTO {EVENTS} (seq, originator_id, originator_version, topic, state, "
    "digest, recorded_us, prev_hash, hash, leaf_hash) SELECT ?1,?2,?3,?4,?5,?6,?7,?8,?9,?10 "
    f"WHERE ?8 = coalesce((SELECT hash FROM {EVENTS} ORDER BY seq DESC LIMIT 1), zeroblob(32))"
)
_INSERT_NODE = f"INSERT INTO {NODES} VALUES (?,?,?)"
_INSERT_KEY = (
    f"INSERT INTO {KEYS} (subject, wrapped, master_key_id, created_us) VALUES (?,?,?,?) "
    "ON CONFLICT (subject) DO NOTHING"
)
_SELECT = f"SELECT {RECORD_COLUMNS} FROM {EVENTS}"


def _append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """Stores each event with its chain columns and Merkle nodes, in one transaction."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        use_ledger_pool(datastore)
        super().__init__(datastore, events_table_name)
        self._tips = TipCache()  # the head this recorder last wrote, and the tree's right edge there

    def construct_create_table_statements(self) -> list[str]:
        """The events table with the chain's columns, the Merkle nodes, the triggers."""
        tables = (EVENTS, NODES, CHECKPOINTS)
        return [_CREATE_EVENTS, _CREATE_NODES, _CREATE_CHECKPOINTS, *(t for n in tables for t in _append_only(n))]

    def append(self, stored_events: Sequence[StoredEvent], *, subject_keys: Sequence[KeyRow] = ()) -> list[Receipt]:
        """Append under SQLite's write lock; one receipt per event, in order (a retry's is the original's).

        On this recorder's tip first (``_append_on_tip``); if another writer moved
        the head or an event_id is already recorded, nothing of that attempt is
        kept and ``_append_read_first`` answers, retries and conflicts included.
        ``subject_keys`` (rows of the key table) are new subjects' data keys, stored
        in the same transaction; SubjectKeysTaken, with nothing written, if another
        writer stored a key for one of those subjects first.
        """
        with self.datastore.get_connection(commit=True) as conn, conn.cursor() as c:
            plan = self._append_on_tip(conn, c, stored_events, subject_keys)
            if plan is None:
                plan = self._append_read_first(conn, c, stored_events, subject_keys)
        return plan.receipts

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """eventsourcing's way in (Application.save): ``append``, answering seqs (the ledger calls append)."""
        return [r.seq for r in self.append(stored_events)]

    def _append_on_tip(
        self, conn: SQLiteConnection, c: sqlite3.Cursor, stored: Sequence[StoredEvent], keys: Sequence[KeyRow]
    ) -> Plan | None:
        """Planned on the tip without reading anything; the first row is inserted only if it links to the head.

        The rows after it link to it (the plan chains them). The UNIQUE
        (originator_id, originator_version) constraint catches a retried event_id.
        """
        tip = self._tips.usable()
        if tip is None:
            return None
        plan = plan_append(stored, existing={}, tip=tip, now_us=now_us())
        c.execute("BEGIN IMMEDIATE")
        try:
            rows = [_row(r) for r in plan.rows]
            c.execute(_INSERT_LINKED_ROW, rows[0])  # plan_append makes a row from its first event
            linked = c.rowcount == 1
            if linked:
                c.executemany(_INSERT_ROW, rows[1:])
            if linked and plan.nodes:
                c.executemany(_INSERT_NODE, plan.nodes)
            if linked:
                _insert_keys(c, keys)
        except sqlite3.IntegrityError:
            linked = False
        except BaseException:
            conn.rollback()
            raise
        if not linked:
            conn.rollback()
            return None
        conn.commit()
        self._tips.keep(plan.tip)
        return plan

    def _append_read_first(
        self, conn: SQLiteConnection, c: sqlite3.Cursor, stored: Sequence[StoredEvent], keys: Sequence[KeyRow]
    ) -> Plan:
        """Read the head, the tree's right edge and the recorded ids under the lock, then write."""
        c.execute("BEGIN IMMEDIATE")
        try:
            _insert_keys(c, keys)
            head = self._head(c)
            tip = Tip.of(head, self._nodes(c, frontier_keys(head.seq)))
            existing = self._existing(c, [s.originator_id for s in stored])
            plan = plan_append(stored, existing=existing, tip=tip, now_us=now_us())
            c.executemany(_INSERT_ROW, [_row(r) for r in plan.rows])
            c.executemany(_INSERT_NODE, plan.nodes)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        self._tips.keep(plan.tip)
        return plan

    def _head(self, c: sqlite3.Cursor) -> Head:
        c.execute(f"SELECT seq, hash, recorded_us FROM {EVENTS} ORDER BY seq DESC LIMIT 1")
        row = c.fetchone()
        return Head(0, bytes(32), 0) if row is None else Head(row[0], bytes(row[1]), row[2])

    def _nodes(self, c: sqlite3.Cursor, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        found: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if level == 0:  # leaves live with their rows
                c.execute(f"SELECT leaf_hash FROM {EVENTS} WHERE seq = ?", (index + 1,))
            else:
                c.execute(f"SELECT hash FROM {NODES} WHERE level = ? AND idx = ?", (level, index))
            row = c.fetchone()
            if row is not None:
                found[(level, index)] = bytes(row[0])
        return found

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Stored perfect Merkle nodes among ``keys`` (the merkle.NodeReader protocol)."""
        with self.datastore.transaction(commit=False) as c:
            return self._nodes(c.sqlite_cursor, keys)

    def _existing(self, c: sqlite3.Cursor, event_ids: Sequence[UUID | str]) -> dict[UUID, Existing]:
        found: dict[UUID, Existing] = {}
        ids = [_hex(i) for i in event_ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            c.execute(
                f"SELECT seq, originator_id, digest, recorded_us, prev_hash, hash FROM {EVENTS} "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) AND originator_version = 1",
                chunk,
            )
            for seq, event_id, digest, recorded_us, prev_hash, hash_ in c.fetchall():
                uid = UUID(event_id)
                receipt = Receipt(str(uid), seq, bytes(hash_), bytes(prev_hash), recorded_us, False)
                found[uid] = Existing(receipt, bytes(digest))
        return found

    def select_existing(self, event_ids: Sequence[UUID]) -> dict[UUID, Existing]:
        """What the ledger already holds for these event_ids."""
        with self.datastore.transaction(commit=False) as c:
            return self._existing(c.sqlite_cursor, event_ids)

    def _select(self, where: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT} {where}", params)
            return list(c.fetchall())

    def select_records(self, *, after_seq: int, limit: int, topics: Sequence[str] = ()) -> list[Record]:
        """Records with seq > after_seq (of ``topics`` only, if any), in seq order."""
        of_topics = f"AND topic IN ({','.join('?' * len(topics))}) " if topics else ""
        rows = self._select(f"WHERE seq > ? {of_topics}ORDER BY seq LIMIT ?", (after_seq, *topics, limit))
        return [record_of(r, str(UUID(r[1]))) for r in rows]

    def select_record(self, event_id: UUID) -> Record | None:
        """The record of one event, or None."""
        rows = self._select("WHERE originator_id = ? AND originator_version = 1", (event_id.hex,))
        return record_of(rows[0], str(event_id)) if rows else None

    def scan_records(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every row in seq order, streamed (RECORD_COLUMNS)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT} ORDER BY seq")
            while rows := c.sqlite_cursor.fetchmany(batch):
                yield from (tuple(r) for r in rows)

    def copy_source(self) -> None:
        """SQLite is verified in one pass (ledger.proof.verify.verify_rows): no COPY to share out."""
        return None

    def unchained_events(self) -> list[str]:
        """Stored events that carry no chain position (only a forger could write one)."""
        rows = self._select("WHERE seq IS NULL OR hash IS NULL", ())
        return [str(UUID(r[1])) for r in rows]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """eventsourcing's notification log, numbered by the ledger's seq."""
        where: list[str] = ["1=1"]
        params: list[int | str] = []
        if start is not None:
            where.append("seq >= ?" if inclusive_of_start else "seq > ?")
            params.append(start)
        if stop is not None:
            where.append("seq <= ?")
            params.append(stop)
        if topics:
            where.append(f"topic IN ({','.join('?' * len(topics))})")
            params += list(topics)
        rows = self._select(f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", [*params, limit])
        return [
            Notification(id=r[0], originator_id=UUID(r[1]), originator_version=1, topic=r[6], state=bytes(r[7]))
            for r in rows
        ]

    def insert_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a signed checkpoint (a size is signed once)."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"INSERT INTO {CHECKPOINTS} VALUES (?,?,?,?)", tuple(checkpoint))

    def select_checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, smallest size first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT size, root, note, signed_us FROM {CHECKPOINTS} ORDER BY size")
            return [StoredCheckpoint(r[0], bytes(r[1]), r[2], r[3]) for r in c.fetchall()]

    def select_latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree size, or None."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT size, root, note, signed_us FROM {CHECKPOINTS} ORDER BY size DESC LIMIT 1")
            row = c.fetchone()
        return None if row is None else StoredCheckpoint(row[0], bytes(row[1]), row[2], row[3])

    def max_notification_id(self) -> int:
        """The last seq, 0 when the ledger is empty."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT MAX(seq) FROM {EVENTS}")
            return int(c.fetchone()[0] or 0)

    def replica_lag_s(self) -> float | None:
        """None: a SQLite file has no primary to lag behind."""
        return None


def _insert_keys(c: sqlite3.Cursor, keys: Sequence[KeyRow]) -> None:
    """Store new subjects' keys under the write lock; SubjectKeysTaken if a subject already has one.

    The caller rolls back: events sealed under a key that is not the stored one
    must never commit.
    """
    if not keys:
        return
    c.executemany(_INSERT_KEY, keys)
    if c.rowcount == len(keys):  # executemany sums the rows each statement inserted
        return
    ours = {row[0]: row[1] for row in keys}
    c.execute(f"SELECT subject, wrapped FROM {KEYS} WHERE subject IN ({','.join('?' * len(ours))})", list(ours))
    raise SubjectKeysTaken([s for s, w in c.fetchall() if w is None or bytes(w) != ours[s]])


def _hex(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else UUID(originator_id).hex


def _row(r: Row) -> tuple[Any, ...]:
    e = r.event
    return (r.seq, _hex(e.originator_id), e.originator_version, e.topic, e.state,
            r.digest, r.recorded_us, r.prev_hash, r.hash, r.leaf_hash)  # fmt: skip
