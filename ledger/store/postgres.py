"""The chain on PostgreSQL: eventsourcing's events table, extended with the chain's columns.

Every append first takes one transaction-scoped advisory lock for the ledger,
and only then reads the chain head, so that concurrent writers (threads,
processes, servers) queue and produce one linear chain with a dense seq, and
commit order is seq order; readers are never blocked. eventsourcing takes
``LOCK TABLE ... IN EXCLUSIVE MODE`` for the same purpose, but PostgreSQL lets
only a role with UPDATE, DELETE or TRUNCATE on the table take that lock, and the
server's role should hold INSERT and SELECT only (docs/operations.md). Every
writer goes through this recorder, so the advisory lock serializes them all;
a writer that bypassed it would also bypass the chain, and verify would say so.

Lock order, the same everywhere so that no two sessions wait on each other:
the tables first, then the append lock. The one-statement append
(``_append_on_tip``) cannot do otherwise: its INSERTs lock the events and
nodes tables (ROW EXCLUSIVE) when the statement starts, before its first CTE
takes the append lock. So the read-first append takes the same table locks
explicitly before the append lock, and opening the ledger (DDL: ALTER TABLE,
CREATE INDEX, CREATE TRIGGER, whose table locks conflict with a writer's)
takes every table it changes in ACCESS EXCLUSIVE mode and never the append
lock. Before this order, a server appending while a command opened the ledger
deadlocked (tests/contract: concurrent writers, each opening its own ledger).
And a ledger whose schema is complete is opened without any DDL
(``create_table``), so no table lock is taken at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.errors import DuplicateObject
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.errors import IntegrityError
from ledger.pgcopy import CopySource
from ledger.proof.merkle import NodeKey, frontier_keys
from ledger.store.pg_arrays import ByteaArray, Int2Array, Int8Array, PgArray, TextArray, UuidArray, register_arrays
from ledger.store.pg_pool import use_ledger_pool
from ledger.store.plan import Existing, Head, Plan, Tip, TipCache, plan_append
from ledger.store.recorder import RECORD_COLUMNS, now_us, record_of
from ledger.store.records import Receipt, Record, StoredCheckpoint
from ledger.vault import DDL_LOCK, KeyRow, SubjectKeysTaken
from ledger.vault import TABLE as KEYS

NODES = "ledger_merkle_nodes"
CHECKPOINTS = "ledger_checkpoints"
_REFUSE = "ledger_refuse_change"
_CHAIN_COLUMNS = {"seq": "bigint", "digest": "bytea", "recorded_us": "bigint", "prev_hash": "bytea", "hash": "bytea",
                  "leaf_hash": "bytea"}  # fmt: skip


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """Stores each event with its chain columns and Merkle nodes, in one transaction."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        register_arrays(psycopg.adapters)  # before the pool opens a connection
        use_ledger_pool(datastore)
        super().__init__(datastore, events_table_name=events_table_name)
        self.events = self._name(self.events_table_name)
        self.nodes = self._name(NODES)
        self.checkpoints = self._name(CHECKPOINTS)
        self.sql_create_statements = self._with_ledger_ddl(self.sql_create_statements)
        lock_key = f"clinical-ai-ledger append {self.datastore.schema}.{self.events_table_name}"
        # SET LOCAL lock_timeout and the append lock, in one statement.
        lock = SQL("SELECT set_config('lock_timeout', {0}, true), pg_advisory_xact_lock(hashtext({1}))").format(
            f"{self.datastore.lock_timeout}s", lock_key
        )
        self.tables_sql = SQL("LOCK TABLE {}, {} IN ROW EXCLUSIVE MODE").format(self.events, self.nodes).as_bytes(None)
        self.lock_table_statements = [lock]
        self.lock_sql = lock.as_bytes(None)
        self._prepare_statements(lock)
        self._events_pkey = f"{self.events_table_name}_pkey"  # (originator_id, originator_version): eventsourcing's
        self._tips = TipCache()  # the head this recorder last wrote or read, and its right edge

    def _qualified(self, name: str) -> str:
        """``"schema"."name"``, as text for to_regclass and to_regprocedure."""
        return ".".join('"' + part.replace('"', '""') + '"' for part in (self.datastore.schema, name))

    def _name(self, table: str) -> Composed:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(table))

    def _with_ledger_ddl(self, statements: list[Any]) -> list[Any]:
        """eventsourcing's DDL with the ledger's: the tables created, then locked, then changed.

        The lock comes right after eventsourcing creates the events table: its next
        statement (CREATE UNIQUE INDEX IF NOT EXISTS) takes a SHARE lock even when
        the index exists, and a DDL holding that while it waits for ACCESS EXCLUSIVE
        deadlocks with a writer between its two table locks (module docstring).
        """
        first = statements[0].as_string(None) if isinstance(statements[0], Composed) else str(statements[0])
        if not first.startswith(f"CREATE TABLE IF NOT EXISTS {self.events.as_string(None)} "):
            raise RuntimeError("eventsourcing's first DDL statement no longer creates the events table")
        tables, changes = self._ledger_ddl()
        return [statements[0], *tables, *statements[1:], *changes]

    def _ledger_ddl(self) -> tuple[list[Composed], list[Composed]]:
        names = {
            "events": self.events,
            "nodes": self.nodes,
            "checkpoints": self.checkpoints,
            "refuse": self._name(_REFUSE),
        }
        seq_index = Identifier(f"{self.events_table_name}_seq_idx")
        tables = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {nodes} (level smallint NOT NULL, idx bigint NOT NULL, "
                "hash bytea NOT NULL, PRIMARY KEY (level, idx))"
            ).format(**names),
            SQL(
                "CREATE TABLE IF NOT EXISTS {checkpoints} (size bigint PRIMARY KEY, root bytea NOT NULL, "
                "note text NOT NULL, signed_us bigint NOT NULL)"
            ).format(**names),
            # The tables before the append lock, as every writer takes them (module docstring).
            SQL("LOCK TABLE {events}, {nodes}, {checkpoints} IN ACCESS EXCLUSIVE MODE").format(**names),
        ]
        ddl: list[Composed] = [
            SQL("ALTER TABLE {events} ").format(**names)
            + SQL(", ").join(
                SQL("ADD COLUMN IF NOT EXISTS {} {}").format(Identifier(c), SQL(t)) for c, t in _CHAIN_COLUMNS.items()
            ),
            SQL("CREATE UNIQUE INDEX IF NOT EXISTS {idx} ON {events} (seq)").format(idx=seq_index, **names),
            # Empty unless someone wrote a row around the ledger: verification's search for rows
            # without a chain position (unchained_events) reads it instead of the whole table.
            SQL(
                "CREATE INDEX IF NOT EXISTS {idx} ON {events} (notification_id) WHERE seq IS NULL OR hash IS NULL"
            ).format(idx=Identifier(f"{self.events_table_name}_unchained_idx"), **names),
            SQL(
                "CREATE OR REPLACE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
                "USING ERRCODE = 'integrity_constraint_violation'; END $$"
            ).format(**names),
        ]
        for table in (self.events, self.nodes, self.checkpoints):
            for when, level in (("UPDATE OR DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
                name = Identifier(f"{_REFUSE}_{level.lower()}")
                ddl.append(
                    SQL(
                        "CREATE OR REPLACE TRIGGER {name} BEFORE " + when + " ON {table} "
                        "FOR EACH " + level + " EXECUTE FUNCTION {refuse}()"
                    ).format(name=name, table=table, refuse=names["refuse"])
                )
        return tables, ddl

    def _prepare_statements(self, lock: Composed) -> None:
        # Statements on the append path are rendered to bytes once, not composed per execute.
        names = {"events": self.events, "nodes": self.nodes}
        head = SQL(
            "SELECT seq, hash, recorded_us FROM {events} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
        ).format(**names)
        self.head_sql = head.as_bytes(None)
        self.existing_sql = (
            SQL(
                "SELECT seq, originator_id, digest, recorded_us, prev_hash, hash FROM {events} "
                "WHERE originator_id = ANY(%b::uuid[]) AND originator_version = 1"
            )
            .format(**names)
            .as_bytes(None)
        )
        self.select_sql = SQL("SELECT " + RECORD_COLUMNS + " FROM {events}").format(**names)
        self.nodes_sql = (
            SQL(
                "SELECT n.level, n.idx, n.hash FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx) "
                "JOIN {nodes} n ON n.level = k.level AND n.idx = k.idx "
                "UNION ALL SELECT 0, seq - 1, leaf_hash FROM {events} WHERE seq = ANY(%s::bigint[])"
            )
            .format(**names)
            .as_bytes(None)
        )
        self.keys_taken_sql = (
            SQL("SELECT subject FROM {keys} WHERE subject = ANY(%b::text[])")
            .format(keys=self._name(KEYS))
            .as_bytes(None)
        )
        self.write_sql = {
            (on_tip, with_keys): self._write_statement(lock, head, on_tip=on_tip, with_keys=with_keys)
            for on_tip in (False, True)
            for with_keys in (False, True)
        }

    def _write_statement(self, lock: Composed, head: Composed, *, on_tip: bool, with_keys: bool) -> bytes:
        """The one statement that writes an append's rows, Merkle nodes and new keys, and notifies readers.

        Parameters are named (``_write_params`` makes them), sent in binary (%b):
        a text-format bytea array is hex-encoded, then quoted for the array literal
        by a regex per element, which cost more than everything else in a batch.
        It answers one row, ``_Written``: whether the head was the tip, whether the
        event_ids were new, the keys already taken, and how many keys went in.

        ``on_tip``: the one-trip append, in its own transaction. The lock first (every
        row and node waits on it), then rows and nodes, written only if the head is
        the writer's tip and no event_id is recorded yet. The statement's snapshot is
        taken before the lock is granted, so a writer that committed while this one
        waited is not seen by the checks: the unique indexes on seq and on the nodes'
        (level, idx) then refuse the write, and the recorder reads the head first.

        ``with_keys``: new subjects' data keys go in first; rows and nodes only if
        every key went in (k's RETURNING counts them), so events sealed under a key
        that is not the stored one never commit. On the tip, the keys already stored
        are read with the head (``taken``) and nothing is written if any is; a key
        stored after the snapshot is not in ``taken``, but ON CONFLICT skips it, k
        counts one short, and nothing is written.
        """
        names = {"events": self.events, "nodes": self.nodes, "keys": self._name(KEYS), "head": head, "lock": lock}
        ctes, guards = [], []
        if on_tip:
            checks = [
                "EXISTS (SELECT FROM ({head}) h WHERE h.seq = %(tip_seq)b::bigint AND h.hash = %(tip_hash)b) "
                "AS head_ok",
                "NOT EXISTS (SELECT FROM {events} WHERE originator_id = ANY(%(checked_ids)b::uuid[]) "
                "AND originator_version = 1) AS new_ids",
            ]
            if with_keys:
                checks.append(
                    "ARRAY(SELECT subject FROM {keys} WHERE subject = ANY(%(key_subjects)b::text[])) AS taken"
                )
            ctes += ["l AS ({lock})", "g AS (SELECT " + ", ".join(checks) + " FROM l)"]
            guards.append(
                "(SELECT head_ok AND new_ids" + (" AND cardinality(taken) = 0" if with_keys else "") + " FROM g)"
            )
        if with_keys:
            ctes.append(
                "k AS (INSERT INTO {keys} (subject, wrapped, master_key_id, created_us) SELECT * FROM "
                "unnest(%(key_subjects)b::text[], %(key_wrapped)b::bytea[], %(key_master_ids)b::text[], "
                "%(key_created_us)b::bigint[])" + (" WHERE " + guards[0] if guards else "") + " "
                "ON CONFLICT (subject) DO NOTHING RETURNING 1)"
            )
            guards.append("(SELECT count(*) FROM k) = %(key_count)b::bigint")
        where = " WHERE " + " AND ".join(guards) if guards else ""
        ctes += [
            "r AS (INSERT INTO {events} (originator_id, originator_version, topic, state, seq, digest, recorded_us, "
            "prev_hash, hash, leaf_hash) SELECT * FROM unnest(%(event_ids)b::uuid[], %(versions)b::bigint[], "
            "%(topics)b::text[], %(states)b::bytea[], %(seqs)b::bigint[], %(digests)b::bytea[], "
            "%(recorded_us)b::bigint[], %(prev_hashes)b::bytea[], %(hashes)b::bytea[], %(leaf_hashes)b::bytea[])"
            + where
            + ")",
            "n AS (INSERT INTO {nodes} SELECT * FROM unnest(%(node_levels)b::smallint[], %(node_indexes)b::bigint[], "
            "%(node_hashes)b::bytea[])" + where + ")",
        ]
        answer = [
            "head_ok, new_ids" if on_tip else "TRUE, TRUE",
            "taken" if on_tip and with_keys else "ARRAY[]::text[]",
            "(SELECT count(*) FROM k)" if with_keys else "0",
        ]
        text = "WITH " + ", ".join(ctes) + " SELECT " + ", ".join(answer) + (" FROM g" if on_tip else "")
        notify = (", " if on_tip else " FROM ") + "pg_notify({channel}, '')"
        return SQL(text + notify).format(channel=self.channel_name, **names).as_bytes(None)

    def _nodes_sql(self, keys: Sequence[NodeKey]) -> tuple[bytes, list[Any]]:
        """One query for the given perfect nodes: index lookups on (level, idx), leaves by seq.

        The keys go in as arrays, so the text is the same for every proof and psycopg prepares it once
        per connection; an OR of one term per key, planned afresh each time, was 1.8x slower (p50, in
        inclusion proofs at 1,000,000 events).
        """
        upper = [k for k in keys if k[0] > 0]
        leaves = [k[1] + 1 for k in keys if k[0] == 0]
        return self.nodes_sql, [[k[0] for k in upper], [k[1] for k in upper], leaves]

    def create_table(self) -> None:
        """eventsourcing's create_table, with its composite types made under the DDL lock too; nothing if complete.

        The DDL locks every table ACCESS EXCLUSIVE (module docstring), so behind a
        long read (a verification's COPY) it would hold up every append until the
        read ends; when the catalog shows every table, column, index, trigger and
        function in place (``_schema_complete``, which takes no table lock), opening
        the ledger runs no DDL at all.

        eventsourcing makes each type in a transaction of its own and tolerates
        DuplicateObject; two processes making one at the same moment (server
        workers starting on an empty schema) collide on pg_type's unique index
        instead, and the loser fails to start. Queued on the DDL lock, the second
        finds the type made and gets DuplicateObject.
        """
        if self._schema_complete():
            self.datastore.register_type_adapters()
            return
        for statement in self.sql_create_statements:
            if "CREATE TYPE" in statement.as_string():
                with self.datastore.transaction(commit=True) as curs, contextlib.suppress(DuplicateObject):
                    curs.execute(DDL_LOCK)
                    curs.execute(statement, prepare=False)
        with self.datastore.transaction(commit=True) as curs:
            self._create_table(curs)
        self.datastore.register_type_adapters()

    def _schema_complete(self) -> bool:
        """True if every object the DDL makes exists (read from the catalog: no lock on any table)."""
        table = self.events_table_name
        events, nodes, checkpoints = (self._qualified(t) for t in (table, NODES, CHECKPOINTS))
        indexes = [self._qualified(f"{table}_{kind}_idx") for kind in ("seq", "unchained", "notification_id")]
        relations = [events, nodes, checkpoints, *indexes]
        functions = [_REFUSE, "es_insert_events_uuid"]
        query = (
            "SELECT (SELECT count(*) FROM unnest(%(relations)s::text[]) r WHERE to_regclass(r) IS NOT NULL), "
            "(SELECT count(DISTINCT proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %(schema)s AND proname = ANY(%(functions)s::text[])) "
            "+ (to_regtype(%(type)s) IS NOT NULL)::int, "
            "(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%(events)s) AND NOT attisdropped "
            "AND attname = ANY(%(columns)s::text[])), "
            "(SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(ARRAY[to_regclass(%(events)s), "
            "to_regclass(%(nodes)s), to_regclass(%(checkpoints)s)]::oid[]) AND tgname = ANY(%(triggers)s::text[]) "
            "AND tgenabled = 'O')"
        )
        params = {
            "relations": relations, "functions": functions, "events": events, "columns": list(_CHAIN_COLUMNS),
            "nodes": nodes, "checkpoints": checkpoints, "schema": self.datastore.schema,
            "type": self._qualified("stored_event_uuid"),
            "triggers": [f"{_REFUSE}_row", f"{_REFUSE}_statement"],
        }  # fmt: skip
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            found = curs.execute(query, params).fetchone()
        return found == (len(relations), len(functions) + 1, len(_CHAIN_COLUMNS), 6)

    def _create_table(self, curs: Any) -> None:
        # Servers and CLI commands may open the ledger at the same moment; their DDL
        # (CREATE OR REPLACE of the triggers) would deadlock, so it queues on one lock.
        # Writers meanwhile: see the lock order in the module docstring.
        curs.execute(DDL_LOCK)
        super()._create_table(curs)

    def append(self, stored_events: Sequence[StoredEvent], *, subject_keys: Sequence[KeyRow] = ()) -> list[Receipt]:
        """Append under the append lock; one receipt per event, in order (a retry's is the original's).

        One statement when this recorder wrote the head last (``_append_on_tip``);
        otherwise, or if an event_id is already recorded, two round trips (``_append_read_first``).
        ``subject_keys`` (rows of the key table) are new subjects' data keys, stored
        in the same transaction; SubjectKeysTaken, with nothing written, if another
        writer stored a key for one of those subjects first.
        """
        with self.datastore.get_connection() as conn:
            plan = self._append_on_tip(conn, stored_events, subject_keys)
            if plan is None:
                plan = self._append_read_first(conn, stored_events, subject_keys)
        return plan.receipts

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """eventsourcing's way in (Application.save): ``append``, answering seqs (the ledger calls append)."""
        return [r.seq for r in self.append(stored_events)]

    def _append_on_tip(self, conn: Any, stored_events: Sequence[StoredEvent], keys: Sequence[KeyRow]) -> Plan | None:
        """Plan on the cached tip, then lock, check and write in one statement; None if nothing was written."""
        tip = self._tips.usable()
        if tip is None:
            return None
        plan = plan_append(stored_events, existing={}, tip=tip, now_us=now_us())
        if not conn.autocommit:  # the statement must be its own transaction: the lock ends with it
            raise IntegrityError("the one-statement append needs an autocommit connection")
        write = conn.cursor(row_factory=tuple_row)
        params = _write_params(plan, keys, tip=tip, event_ids=[s.originator_id for s in stored_events])
        try:
            write.execute(self.write_sql[True, bool(keys)], params)
        except psycopg.errors.UniqueViolation as exc:
            # Nothing was written. An event_id recorded meanwhile (a retry racing its original)
            # is answered by the read-first path; a head that moved after the snapshot means
            # another writer is about: read the head first for a while.
            if exc.diag.constraint_name != self._events_pkey:
                self._tips.moved()
            return None
        written = _Written(*(write.fetchone() or (False, False, [], 0)))
        if keys and written.head_ok and written.new_ids:
            _check_keys(keys, taken=written.taken, inserted=written.inserted)
        if not written.head_ok:  # another writer moved the head: read it first for a while
            self._tips.moved()
            return None
        self._tips.held()
        if not written.new_ids:  # a retry (or a conflict): answered with what the store holds
            return None
        self._tips.keep(plan.tip)
        return plan

    def _append_read_first(self, conn: Any, stored_events: Sequence[StoredEvent], keys: Sequence[KeyRow]) -> Plan:
        """Two round trips: (lock, head, known ids, Merkle frontier), then (rows, nodes, notification; commit).

        The frontier is read for the size this recorder last saw; if another writer
        moved the head meanwhile, a third round trip reads the right one.
        """
        ids = _ids([s.originator_id for s in stored_events])
        with conn.pipeline() as pipeline, conn.transaction():
            lock, head, known, frontier, taken = (conn.cursor(row_factory=tuple_row) for _ in range(5))
            lock.execute(self.tables_sql)
            lock.execute(self.lock_sql)
            head.execute(self.head_sql)
            known.execute(self.existing_sql, (ids,))
            guess = self._tips.tip.head.seq if self._tips.tip else 0
            frontier.execute(*self._nodes_sql(frontier_keys(guess)))
            if keys:
                taken.execute(self.keys_taken_sql, (TextArray.of([k[0] for k in keys]),))
            pipeline.sync()
            if keys:
                _check_keys(keys, taken=[r[0] for r in taken.fetchall()], inserted=len(keys))
            chain_head = _head(head.fetchone())
            nodes = frontier.fetchall()
            if chain_head.seq != guess:
                frontier.execute(*self._nodes_sql(frontier_keys(chain_head.seq)))
                nodes = frontier.fetchall()
            tip = Tip.of(chain_head, {(r[0], r[1]): bytes(r[2]) for r in nodes})
            plan = plan_append(stored_events, existing=_existing(known.fetchall()), tip=tip, now_us=now_us())
            write = conn.cursor(row_factory=tuple_row)  # rows, nodes, keys and the notification: one statement
            if keys or plan.rows:
                write.execute(self.write_sql[False, bool(keys)], _write_params(plan, keys))
        if keys:  # only a writer that stored keys without the append lock can make this fail
            _check_keys(keys, taken=[], inserted=_Written(*(write.fetchone() or (True, True, [], 0))).inserted)
        self._tips.keep(plan.tip)
        return plan

    def select_existing(self, event_ids: Sequence[UUID]) -> dict[UUID, Existing]:
        """What the ledger already holds for these event_ids."""
        return _existing(self._fetch(self.existing_sql, (_ids(event_ids),)))

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Stored perfect Merkle nodes among ``keys`` (the merkle.NodeReader protocol)."""
        return {(r[0], r[1]): bytes(r[2]) for r in self._fetch(*self._nodes_sql(keys))}

    def _fetch(self, sql: Composed | bytes, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(sql, params)
            return curs.fetchall()

    def select_records(self, *, after_seq: int, limit: int, topics: Sequence[str] = ()) -> list[Record]:
        """Records with seq > after_seq (of ``topics`` only, if any), in seq order."""
        of_topics = SQL(" AND topic = ANY(%s)") if topics else SQL("")
        where = SQL(" WHERE seq > %s") + of_topics + SQL(" ORDER BY seq LIMIT %s")
        params: list[Any] = [after_seq, *([list(topics)] if topics else []), limit]
        rows = self._fetch(self.select_sql + where, params)
        return [record_of(r, str(r[1])) for r in rows]

    def select_record(self, event_id: UUID) -> Record | None:
        """The record of one event, or None."""
        where = SQL(" WHERE originator_id = %s AND originator_version = 1 AND seq IS NOT NULL")
        rows = self._fetch(self.select_sql + where, (event_id,))
        return record_of(rows[0], str(event_id)) if rows else None

    def scan_records(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every chained row in seq order (RECORD_COLUMNS), streamed with binary COPY.

        COPY streams from one snapshot, keeps rows that share a seq (a verifier
        must see duplicates), and parses bytea without hex decoding.
        """
        del batch  # COPY streams as fast as the client reads
        query = SQL("COPY (") + self.select_sql + SQL(" WHERE seq IS NOT NULL ORDER BY seq) TO STDOUT (FORMAT BINARY)")
        with self.datastore.get_connection() as conn, conn.cursor() as curs, curs.copy(query) as copy:
            copy.set_types(["int8", "uuid", "int8", "bytea", "bytea", "bytea", "text", "bytea", "bytea"])
            yield from copy.rows()

    def copy_source(self) -> CopySource:
        """How verification's worker processes reach the events table with their own connections."""
        pool = self.datastore.pool
        kwargs: dict[str, Any] = pool.kwargs  # type: ignore[assignment]  # eventsourcing passes a dict
        params = {key: kwargs[key] for key in ("dbname", "host", "port", "user", "password")}
        if pool.get_password_func is not None:
            params["password"] = pool.get_password_func()
        params["connect_timeout"] = max(1, round(pool.timeout))
        return CopySource(params, self.datastore.schema, self.events_table_name)

    def unchained_events(self) -> list[str]:
        """Stored events that carry no chain position (only a forger could write one)."""
        rows = self._fetch(
            SQL("SELECT originator_id FROM {} WHERE seq IS NULL OR hash IS NULL").format(self.events), ()
        )
        return [str(r[0]) for r in rows]

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
        sql = self.select_sql + SQL(" WHERE seq IS NOT NULL")
        params: list[Any] = []
        if start is not None:
            sql += SQL(" AND seq >= %s" if inclusive_of_start else " AND seq > %s")
            params.append(start)
        if stop is not None:
            sql += SQL(" AND seq <= %s")
            params.append(stop)
        if topics:
            sql += SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        rows = self._fetch(sql + SQL(" ORDER BY seq LIMIT %s"), [*params, limit])
        return [
            Notification(id=r[0], originator_id=r[1], originator_version=1, topic=r[6], state=bytes(r[7])) for r in rows
        ]

    def insert_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a signed checkpoint (a size is signed once)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(self.checkpoints), tuple(checkpoint))

    def select_checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, smallest size first."""
        sql = SQL("SELECT size, root, note, signed_us FROM {} ORDER BY size").format(self.checkpoints)
        return [StoredCheckpoint(r[0], bytes(r[1]), r[2], r[3]) for r in self._fetch(sql, ())]

    def select_latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree size, or None."""
        sql = SQL("SELECT size, root, note, signed_us FROM {} ORDER BY size DESC LIMIT 1").format(self.checkpoints)
        rows = self._fetch(sql, ())
        return StoredCheckpoint(rows[0][0], bytes(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    def max_notification_id(self) -> int:
        """The last seq, 0 when the ledger is empty."""
        rows = self._fetch(SQL("SELECT MAX(seq) FROM {}").format(self.events), ())
        return int(rows[0][0] or 0)

    def replica_lag_s(self) -> float | None:
        """Seconds this server's data is behind its primary: None on a primary, 0.0 on a standby that has
        replayed all it received, else the age of the last transaction it replayed."""
        rows = self._fetch(_REPLICA_LAG.encode(), ())
        return None if rows[0][0] is None else float(rows[0][0])


# On a standby: 0 once everything received is replayed (an idle primary sends nothing, and the age of the
# last replayed transaction would then grow without any lag); otherwise how old the last replayed commit is.
_REPLICA_LAG = """SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0.0
    ELSE GREATEST(0.0, EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()))::float8 END"""


def _head(row: tuple[Any, ...] | None) -> Head:
    return Head(0, bytes(32), 0) if row is None else Head(row[0], bytes(row[1]), row[2])


def _existing(rows: Sequence[tuple[Any, ...]]) -> dict[UUID, Existing]:
    found: dict[UUID, Existing] = {}
    for seq, event_id, digest, recorded_us, prev_hash, hash_ in rows:
        receipt = Receipt(str(event_id), seq, bytes(hash_), bytes(prev_hash), recorded_us, False)
        found[event_id] = Existing(receipt, bytes(digest))
    return found


class _Written(NamedTuple):
    """What a write statement answers: the checks on the tip (true off it), keys already taken, keys inserted."""

    head_ok: bool
    new_ids: bool
    taken: list[str]
    inserted: int


def _write_params(
    plan: Plan, keys: Sequence[KeyRow], *, tip: Tip | None = None, event_ids: Sequence[UUID | str] = ()
) -> dict[str, PgArray | int | bytes]:
    """The named parameters of a write statement (``_write_statement``): rows, nodes, keys, and the tip checked."""
    rows, nodes = plan.rows, plan.nodes
    params: dict[str, PgArray | int | bytes] = {
        "event_ids": _ids([r.event.originator_id for r in rows]),
        "versions": Int8Array.of([r.event.originator_version for r in rows]),
        "topics": TextArray.of([r.event.topic for r in rows]),
        "states": ByteaArray.of([r.event.state for r in rows]),
        "seqs": Int8Array.of([r.seq for r in rows]),
        "digests": ByteaArray.of([r.digest for r in rows], width=32),
        "recorded_us": Int8Array.of([r.recorded_us for r in rows]),
        "prev_hashes": ByteaArray.of([r.prev_hash for r in rows], width=32),
        "hashes": ByteaArray.of([r.hash for r in rows], width=32),
        "leaf_hashes": ByteaArray.of([r.leaf_hash for r in rows], width=32),
        "node_levels": Int2Array.of([n[0] for n in nodes]),
        "node_indexes": Int8Array.of([n[1] for n in nodes]),
        "node_hashes": ByteaArray.of([n[2] for n in nodes], width=32),
    }
    if keys:
        params["key_subjects"] = TextArray.of([k[0] for k in keys])
        params["key_wrapped"] = ByteaArray.of([k[1] for k in keys])
        params["key_master_ids"] = TextArray.of([k[2] for k in keys])
        params["key_created_us"] = Int8Array.of([k[3] for k in keys])
        params["key_count"] = len(keys)
    if tip is not None:  # the ids checked are every event's, not only the new rows' (a retry writes nothing)
        params.update(tip_seq=tip.head.seq, tip_hash=tip.head.hash, checked_ids=_ids(event_ids))
    return params


def _check_keys(keys: Sequence[KeyRow], *, taken: Sequence[str], inserted: int) -> None:
    """SubjectKeysTaken unless every new key went in (its transaction then wrote nothing of the append)."""
    if taken or inserted != len(keys):
        raise SubjectKeysTaken(list(taken) or [k[0] for k in keys])


def _ids(event_ids: Sequence[UUID | str]) -> UuidArray:
    return UuidArray.of([i if isinstance(i, UUID) else UUID(i) for i in event_ids])
