"""The chain on PostgreSQL: eventsourcing's application recorder plus the chain table.

Every append takes eventsourcing's ``LOCK TABLE ... IN EXCLUSIVE MODE`` on the
events table *first*, and only then reads the chain head, so that concurrent
writers (threads, processes, servers) queue and produce one linear chain with a
dense seq; readers are never blocked (SELECT takes ACCESS SHARE).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.merkle import Node, NodeKey
from ledger.store.plan import ChainRow, Existing, Head, plan_append
from ledger.store.recorder import RECORD_COLUMNS, RecorderMixin, now_us, type_of_topic
from ledger.store.records import Receipt, Record

CHAIN = "ledger_chain"
NODES = "ledger_merkle_nodes"
_REFUSE = "ledger_refuse_change"


class PostgresLedgerRecorder(PostgresApplicationRecorder, RecorderMixin):
    """Stores each event with eventsourcing and links it into the chain, in one transaction."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain = self._name(CHAIN)
        self.events = self._name(self.events_table_name)
        self.nodes = self._name(NODES)
        self.sql_create_statements += self._chain_ddl()
        self._prepare_statements()
        self.select_records_sql = SQL(
            "SELECT " + RECORD_COLUMNS + " FROM {chain} c LEFT JOIN {events} e "
            "ON e.originator_id = c.event_id AND e.originator_version = 1"
        ).format(chain=self.chain, events=self.events)

    def _prepare_statements(self) -> None:
        names = {"chain": self.chain, "nodes": self.nodes}
        self.head_sql = SQL("SELECT seq, hash, recorded_us FROM {chain} ORDER BY seq DESC LIMIT 1").format(**names)
        self.existing_sql = SQL(
            "SELECT seq, event_id, digest, recorded_us, prev_hash, hash FROM {chain} WHERE event_id = ANY(%s::uuid[])"
        ).format(**names)
        # The perfect subtrees on the right edge of the tree: one per set bit of its size.
        self.frontier_sql = SQL(
            "SELECT n.level, n.idx, n.hash FROM (SELECT coalesce(max(seq), 0) AS size FROM {chain}) t "
            "JOIN generate_series(0, 62) AS b(level) ON (t.size >> b.level) & 1 = 1 "
            "JOIN {nodes} n ON n.level = b.level AND n.idx = (t.size >> b.level) - 1"
        ).format(**names)
        self.insert_chain_sql = SQL(
            "INSERT INTO {chain} SELECT * FROM unnest(%s::bigint[], %s::uuid[], "
            "%s::bytea[], %s::bigint[], %s::bytea[], %s::bytea[])"
        ).format(**names)
        self.insert_nodes_sql = SQL(
            "INSERT INTO {nodes} SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])"
        ).format(**names)
        self.select_nodes_sql = SQL(
            "SELECT n.level, n.idx, n.hash FROM {nodes} n "
            "JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, idx) ON n.level = k.level AND n.idx = k.idx"
        ).format(**names)

    def _create_table(self, curs: Any) -> None:
        # Servers and CLI commands may open the ledger at the same moment; their DDL
        # (CREATE OR REPLACE of the triggers) would deadlock, so it queues on one lock.
        curs.execute("SELECT pg_advisory_xact_lock(hashtext('clinical-ai-ledger ddl'))")
        super()._create_table(curs)

    def _name(self, table: str) -> Composed:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(table))

    def _chain_ddl(self) -> list[Composed]:
        refuse = self._name(_REFUSE)
        ddl = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {chain} (seq bigint PRIMARY KEY, "
                "event_id uuid NOT NULL UNIQUE, digest bytea NOT NULL, recorded_us bigint NOT NULL, "
                "prev_hash bytea NOT NULL, hash bytea NOT NULL)"
            ).format(chain=self.chain),
            SQL(
                "CREATE TABLE IF NOT EXISTS {nodes} (level smallint NOT NULL, idx bigint NOT NULL, "
                "hash bytea NOT NULL, PRIMARY KEY (level, idx))"
            ).format(nodes=self.nodes),
            SQL(
                "CREATE OR REPLACE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
                "USING ERRCODE = 'integrity_constraint_violation'; END $$"
            ).format(refuse=refuse),
        ]
        for table in (self.events, self.chain, self.nodes):
            for when, level in (("UPDATE OR DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
                name = Identifier(f"{_REFUSE}_{'truncate' if level == 'STATEMENT' else 'row'}")
                ddl.append(
                    SQL(
                        "CREATE OR REPLACE TRIGGER {name} BEFORE " + when + " ON {table} "
                        "FOR EACH " + level + " EXECUTE FUNCTION {refuse}()"
                    ).format(name=name, table=table, refuse=refuse)
                )
        return ddl

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """Append under the table lock; return each event's seq (its notification id).

        Two round trips in pipeline mode: (lock, head, known ids, Merkle frontier),
        then (notify, insert events, chain rows and nodes, commit).
        """
        receipts: list[Receipt] = kwargs.get("receipts", [])
        ids = [s.originator_id for s in stored_events]
        with self.datastore.get_connection() as conn, conn.pipeline() as pipeline, conn.transaction():
            lock, head, known, frontier = (conn.cursor(row_factory=tuple_row) for _ in range(4))
            for statement in self.lock_table_statements:
                lock.execute(statement)
            head.execute(self.head_sql)
            known.execute(self.existing_sql, (ids,))
            frontier.execute(self.frontier_sql)
            pipeline.sync()
            chain_head = _head(head.fetchone())
            plan = plan_append(
                stored_events,
                existing=_existing(known.fetchall()),
                head=chain_head,
                frontier={(r[0], r[1]): bytes(r[2]) for r in frontier.fetchall()},
                now_us=now_us(),
            )
            if plan.new_events:
                with conn.cursor() as curs:
                    self._notify_channel(curs)
                    PostgresAggregateRecorder._insert_stored_events(self, curs, plan.new_events)
                    curs.execute(self.insert_chain_sql, _columns(plan.rows))
                    curs.execute(self.insert_nodes_sql, _node_columns(plan.nodes))
        receipts.extend(plan.receipts)
        return [r.seq for r in plan.receipts]

    def select_existing(self, event_ids: Sequence[UUID]) -> dict[UUID, Existing]:
        """What the chain already holds for these event_ids."""
        return _existing(self._fetch(self.existing_sql, (list(event_ids),)))

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Stored perfect Merkle nodes among ``keys`` (the merkle.NodeReader protocol)."""
        if not keys:
            return {}
        rows = self._fetch(self.select_nodes_sql, ([k[0] for k in keys], [k[1] for k in keys]))
        return {(r[0], r[1]): bytes(r[2]) for r in rows}

    def _fetch(self, sql: Composed, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(sql, params)
            return curs.fetchall()

    def select_records(self, *, after_seq: int, limit: int) -> list[Record]:
        """Records with seq > after_seq, in seq order."""
        sql = self.select_records_sql + SQL(" WHERE c.seq > %s ORDER BY c.seq LIMIT %s")
        return [self.to_record(row) for row in self._fetch(sql, (after_seq, limit))]

    def select_record(self, event_id: UUID) -> Record | None:
        """The record of one event, or None."""
        rows = self._fetch(self.select_records_sql + SQL(" WHERE c.event_id = %s"), (event_id,))
        return self.to_record(rows[0]) if rows else None

    def scan_records(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every chain row joined with its event, in seq order, streamed (duplicates kept)."""
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor("ledger_scan", row_factory=tuple_row) as curs:
                curs.itersize = batch
                curs.execute(self.select_records_sql + SQL(" ORDER BY c.seq"))
                yield from curs

    def orphan_events(self) -> list[tuple[str, int]]:
        """Stored events that no chain row accounts for: (event_id, notification id)."""
        sql = SQL(
            "SELECT e.originator_id, e.notification_id FROM {events} e LEFT JOIN {chain} c "
            "ON c.event_id = e.originator_id WHERE c.seq IS NULL ORDER BY e.notification_id"
        ).format(events=self.events, chain=self.chain)
        return [(str(r[0]), r[1]) for r in self._fetch(sql, ())]

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
        sql = self.select_records_sql + SQL(" WHERE TRUE")
        params: list[Any] = []
        if start is not None:
            sql += SQL(" AND c.seq >= %s" if inclusive_of_start else " AND c.seq > %s")
            params.append(start)
        if stop is not None:
            sql += SQL(" AND c.seq <= %s")
            params.append(stop)
        if topics:
            sql += SQL(" AND e.topic = ANY(%s)")
            params.append(list(topics))
        sql += SQL(" ORDER BY c.seq LIMIT %s")
        rows = self._fetch(sql, [*params, limit])
        return [
            Notification(id=r[0], originator_id=r[1], originator_version=1, topic=r[6], state=bytes(r[7])) for r in rows
        ]

    def max_notification_id(self) -> int:
        """The last seq, 0 when the ledger is empty."""
        rows = self._fetch(SQL("SELECT MAX(seq) FROM {}").format(self.chain), ())
        return int(rows[0][0] or 0)

    @staticmethod
    def to_record(row: Any) -> Record:
        """A joined row as a Record."""
        seq, event_id, recorded_us, prev_hash, hash_, _, topic, body = row
        return Record(
            seq, str(event_id), type_of_topic(topic), bytes(body or b""), bytes(prev_hash), bytes(hash_), recorded_us
        )


def _head(row: tuple[Any, ...] | None) -> Head:
    return Head(0, bytes(32), 0) if row is None else Head(row[0], bytes(row[1]), row[2])


def _existing(rows: Sequence[tuple[Any, ...]]) -> dict[UUID, Existing]:
    found: dict[UUID, Existing] = {}
    for seq, event_id, digest, recorded_us, prev_hash, hash_ in rows:
        receipt = Receipt(str(event_id), seq, bytes(hash_), bytes(prev_hash), recorded_us, False)
        found[event_id] = Existing(receipt, bytes(digest))
    return found


def _node_columns(nodes: Sequence[Node]) -> tuple[list[Any], ...]:
    return ([n[0] for n in nodes], [n[1] for n in nodes], [n[2] for n in nodes])


def _columns(rows: Sequence[ChainRow]) -> tuple[list[Any], ...]:
    return (
        [r.seq for r in rows],
        [r.event_id for r in rows],
        [r.digest for r in rows],
        [r.recorded_us for r in rows],
        [r.prev_hash for r in rows],
        [r.hash for r in rows],
    )
