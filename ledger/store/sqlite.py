"""The chain on SQLite: eventsourcing's application recorder plus the chain table.

Writers take SQLite's write lock with ``BEGIN IMMEDIATE`` before reading the
chain head, so writers in other threads or processes queue behind it and the
head they read cannot change before they commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from ledger.merkle import NodeKey
from ledger.store.plan import ChainRow, Existing, Head, frontier_keys, plan_append
from ledger.store.recorder import RECORD_COLUMNS, RecorderMixin, now_us, type_of_topic
from ledger.store.records import Receipt, Record

EVENTS = "stored_events"
CHAIN = "ledger_chain"
NODES = "ledger_merkle_nodes"

_CREATE_CHAIN = f"""
CREATE TABLE IF NOT EXISTS {CHAIN} (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    digest BLOB NOT NULL,
    recorded_us INTEGER NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
)"""


_CREATE_NODES = f"""
CREATE TABLE IF NOT EXISTS {NODES} (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID"""


def _append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


_SELECT_RECORDS = (
    f"SELECT {RECORD_COLUMNS} FROM {CHAIN} c LEFT JOIN {EVENTS} e "
    "ON e.originator_id = c.event_id AND e.originator_version = 1"
)


class SQLiteLedgerRecorder(SQLiteApplicationRecorder, RecorderMixin):
    """Stores each event with eventsourcing and links it into the chain, in one transaction."""

    def construct_create_table_statements(self) -> list[str]:
        """eventsourcing's events table, the chain table, and the append-only triggers."""
        statements = super().construct_create_table_statements()
        statements += [_CREATE_CHAIN, _CREATE_NODES]
        statements += _append_only(EVENTS) + _append_only(CHAIN) + _append_only(NODES)
        return statements

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """Append under SQLite's write lock; return each event's seq (its notification id)."""
        receipts: list[Receipt] = kwargs.get("receipts", [])
        with self.datastore.get_connection(commit=True) as conn, conn.cursor() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                head = self._head(c)
                plan = plan_append(
                    stored_events,
                    existing=self._existing(c, [s.originator_id for s in stored_events]),
                    head=head,
                    frontier=self._nodes(c, frontier_keys(head.seq)),
                    now_us=now_us(),
                )
                self._insert_events(SQLiteCursor(c), plan.new_events)
                c.executemany(f"INSERT INTO {CHAIN} VALUES (?,?,?,?,?,?)", [_row(r) for r in plan.rows])
                c.executemany(f"INSERT INTO {NODES} VALUES (?,?,?)", plan.nodes)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        receipts.extend(plan.receipts)
        return [r.seq for r in plan.receipts]

    def _head(self, c: sqlite3.Cursor) -> Head:
        c.execute(f"SELECT seq, hash, recorded_us FROM {CHAIN} ORDER BY seq DESC LIMIT 1")
        row = c.fetchone()
        return Head(0, bytes(32), 0) if row is None else Head(row[0], bytes(row[1]), row[2])

    def _nodes(self, c: sqlite3.Cursor, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        found: dict[NodeKey, bytes] = {}
        for level, index in keys:
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
                f"SELECT seq, event_id, digest, recorded_us, prev_hash, hash FROM {CHAIN} "
                f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for seq, event_id, digest, recorded_us, prev_hash, hash_ in c.fetchall():
                uid = UUID(event_id)
                receipt = Receipt(str(uid), seq, bytes(hash_), bytes(prev_hash), recorded_us, False)
                found[uid] = Existing(receipt, bytes(digest))
        return found

    def select_existing(self, event_ids: Sequence[UUID]) -> dict[UUID, Existing]:
        """What the chain already holds for these event_ids."""
        with self.datastore.transaction(commit=False) as c:
            return self._existing(c.sqlite_cursor, event_ids)

    def select_records(self, *, after_seq: int, limit: int) -> list[Record]:
        """Records with seq > after_seq, in seq order."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT_RECORDS} WHERE c.seq > ? ORDER BY c.seq LIMIT ?", (after_seq, limit))
            return [self.to_record(row) for row in c.fetchall()]

    def select_record(self, event_id: UUID) -> Record | None:
        """The record of one event, or None."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT_RECORDS} WHERE c.event_id = ?", (event_id.hex,))
            row = c.fetchone()
        return None if row is None else self.to_record(row)

    def scan_records(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every chain row joined with its event, in seq order, streamed (duplicates kept)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT_RECORDS} ORDER BY c.seq")
            while rows := c.sqlite_cursor.fetchmany(batch):
                yield from (tuple(r) for r in rows)

    def orphan_events(self) -> list[tuple[str, int]]:
        """Stored events that no chain row accounts for: (event_id, notification id)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT e.originator_id, e.rowid FROM {EVENTS} e LEFT JOIN {CHAIN} c "
                "ON c.event_id = e.originator_id WHERE c.seq IS NULL ORDER BY e.rowid"
            )
            return [(str(UUID(r[0])), r[1]) for r in c.fetchall()]

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
            where.append("c.seq >= ?" if inclusive_of_start else "c.seq > ?")
            params.append(start)
        if stop is not None:
            where.append("c.seq <= ?")
            params.append(stop)
        if topics:
            where.append(f"e.topic IN ({','.join('?' * len(topics))})")
            params += list(topics)
        sql = f"{_SELECT_RECORDS} WHERE {' AND '.join(where)} ORDER BY c.seq LIMIT ?"
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, [*params, limit])
            return [self.to_notification(row) for row in c.fetchall()]

    def max_notification_id(self) -> int:
        """The last seq, 0 when the ledger is empty."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT MAX(seq) FROM {CHAIN}")
            return int(c.fetchone()[0] or 0)

    @staticmethod
    def to_notification(row: Any) -> Notification:
        """A joined row as an eventsourcing notification whose id is the seq."""
        return Notification(
            id=row[0], originator_id=UUID(row[1]), originator_version=1, topic=row[6], state=bytes(row[7])
        )

    @staticmethod
    def to_record(row: Any) -> Record:
        """A joined row as a Record."""
        seq, event_id, recorded_us, prev_hash, hash_, _, topic, body = tuple(row)
        return Record(
            seq,
            str(UUID(event_id)),
            type_of_topic(topic),
            bytes(body or b""),
            bytes(prev_hash),
            bytes(hash_),
            recorded_us,
        )


def _hex(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else UUID(originator_id).hex


def _row(r: ChainRow) -> tuple[Any, ...]:
    return (r.seq, r.event_id.hex, r.digest, r.recorded_us, r.prev_hash, r.hash)
