"""The completeness index kept beside the log, and committed into it.

The index (ledger.proof.index) is derived from the log alone, so it is kept
off the append path: ``commit_index`` catches up from the last committed size
to the head, in one transaction holding the index lock, then records the new
root in the log itself as an ``index.committed`` control event, which every
later checkpoint covers. Checkpointing commits the index first, so the server
commits it as often as it signs (docs/auditing.md, "The completeness index").

Tables (all derived, none rewritten but ``ledger_index_current``, the newest leaf
of each key, which a catch-up reads):

- ``ledger_index_postings (key_hash, seq)``: the seqs naming each key.
- ``ledger_index_leaves (bucket, key_hash, tree_size, count, seqs_hash)``: a
  key's leaf as of each commit that changed it, so a proof at any committed
  size reads its bucket as it was.
- ``ledger_index_commits (tree_size, root, levels, committed_us)``: the tree over
  the buckets at each committed size (8,191 hashes, one blob): the 12 siblings
  of a proof are sliced out of it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import uuid4

import orjson
from psycopg.sql import SQL, Identifier

from ledger.catalogue.control import RESERVED_SOURCE, recorded_by_ledger
from ledger.dberrors import translated
from ledger.errors import InputError
from ledger.proof.index import (
    BUCKETS,
    DEPTH,
    EMPTY_BUCKET,
    IndexLeaf,
    IndexProof,
    bucket_hash,
    bucket_of,
    index_keys,
    key_hash,
    next_seqs_hash,
    tree_levels,
)
from ledger.store import Ledger

COMMITTED: Final = "index.committed"
TABLES: Final = {
    "commits": "ledger_index_commits",
    "postings": "ledger_index_postings",
    "leaves": "ledger_index_leaves",
    "current": "ledger_index_current",
}
_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext('clinical-ai-ledger index'))"
_ACTOR: Final = {"id": "ledger", "role": "ledger", "kind": "system"}
_CREATE: Final = (
    "CREATE TABLE IF NOT EXISTS {commits} (tree_size BIGINT PRIMARY KEY, root {blob} NOT NULL, "
    "levels {blob} NOT NULL, committed_us BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {postings} (key_hash {blob} NOT NULL, seq BIGINT NOT NULL, "
    "PRIMARY KEY (key_hash, seq))",
    "CREATE TABLE IF NOT EXISTS {leaves} (bucket INTEGER NOT NULL, key_hash {blob} NOT NULL, "
    "tree_size BIGINT NOT NULL, count BIGINT NOT NULL, seqs_hash {blob} NOT NULL, "
    "PRIMARY KEY (bucket, key_hash, tree_size))",
    "CREATE TABLE IF NOT EXISTS {current} (key_hash {blob} PRIMARY KEY, bucket INTEGER NOT NULL, "
    "count BIGINT NOT NULL, seqs_hash {blob} NOT NULL)",
)


@dataclass(frozen=True)
class Commit:
    """The index as committed at one size of the log."""

    tree_size: int
    root: bytes
    levels: bytes  # the 8,191 hashes of the tree over the buckets, buckets first

    def path(self, bucket: int) -> list[bytes]:
        """The 12 sibling hashes from a bucket up to the root."""
        out, offset, width = [], 0, BUCKETS
        for _ in range(DEPTH):
            sibling = offset + (bucket ^ 1)
            out.append(self.levels[32 * sibling : 32 * sibling + 32])
            offset, width, bucket = offset + width, width // 2, bucket // 2
        return out


class IndexStore:
    """The index's tables in the log's own database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.backend = ledger.url.backend
        self.datastore = ledger.datastore

    def sql(self, statement: str) -> Any:
        """A statement with the tables named (and ``?`` placeholders made psycopg's on PostgreSQL)."""
        statement = statement.replace("{blob}", "BYTEA" if self.backend == "postgres" else "BLOB")
        if self.backend == "postgres":
            schema = self.datastore.schema
            names = {k: SQL("{}.{}").format(Identifier(schema), Identifier(v)) for k, v in TABLES.items()}
            return SQL(statement.replace("?", "%s")).format(**names)
        return statement.format(**TABLES)

    @contextmanager
    def transaction(self) -> Iterator[Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]]:
        """One write transaction holding the index lock; yields ``run(statement, params) -> rows``."""
        with translated():
            if self.backend == "postgres":
                with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as c:
                    c.execute(_LOCK)
                    yield lambda s, p: _rows(c, self.sql(s), p)
                return
            with self.datastore.get_connection(commit=True) as conn, conn.cursor() as c:
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield lambda s, p: _rows(c, self.sql(s), p)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()

    def create(self) -> None:
        """Create the tables if they do not exist."""
        with self.transaction() as run:
            for statement in _CREATE:
                run(statement, ())

    def read(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read-only statement."""
        with translated():
            if self.backend == "postgres":
                with self.datastore.get_connection() as conn, conn.cursor() as c:
                    return _rows(c, self.sql(statement), params)
            with self.datastore.transaction(commit=False) as c:
                return _rows(c, self.sql(statement), params)

    def exists(self) -> bool:
        """Whether the index's tables exist (a ledger opened without creating tables may have none)."""
        if self.backend == "postgres":
            found = "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL"
            with translated(), self.datastore.get_connection() as conn, conn.cursor() as c:
                return _rows(c, found, (self.datastore.schema, TABLES["commits"])) == [(True,)]
        return self.read("SELECT count(*) FROM sqlite_master WHERE name = ?", (TABLES["commits"],)) == [(1,)]

    def commits(self) -> list[tuple[int, bytes]]:
        """Every committed (tree_size, root), smallest first."""
        if not self.exists():
            return []
        return [
            (int(s), bytes(r)) for s, r in self.read("SELECT tree_size, root FROM {commits} ORDER BY tree_size", ())
        ]

    def commit_at(self, tree_size: int) -> Commit | None:
        """The commit at exactly this size, or None."""
        rows = self.read("SELECT tree_size, root, levels FROM {commits} WHERE tree_size = ?", (tree_size,))
        return Commit(int(rows[0][0]), bytes(rows[0][1]), bytes(rows[0][2])) if rows else None

    def prove(self, key: str, *, tree_size: int) -> IndexProof:
        """The proof for ``key`` at a committed size (InputError if the index was not committed there)."""
        commit = self.commit_at(tree_size) if self.exists() else None
        if commit is None:
            raise InputError(f"the index was not committed at size {tree_size}")
        hashed = key_hash(key)
        bucket = bucket_of(hashed)
        posted = "SELECT seq FROM {postings} WHERE key_hash = ? AND seq <= ? ORDER BY seq"
        seqs = [int(r[0]) for r in self.read(posted, (hashed, tree_size))]
        rows = self.read(
            "SELECT l.key_hash, l.count, l.seqs_hash FROM {leaves} l WHERE l.bucket = ? AND l.tree_size = "
            "(SELECT max(m.tree_size) FROM {leaves} m WHERE m.bucket = l.bucket AND m.key_hash = l.key_hash "
            "AND m.tree_size <= ?) ORDER BY l.key_hash",
            (bucket, tree_size),
        )
        leaves = [IndexLeaf(bytes(h), int(n), bytes(s)) for h, n, s in rows]
        return IndexProof(key, tree_size, seqs, bucket, leaves, commit.path(bucket))


def _rows(cursor: Any, statement: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    if params and isinstance(params, list) and isinstance(params[0], tuple):  # many rows (``_many``)
        cursor.executemany(statement, params)
        return []
    cursor.execute(statement, params)
    if getattr(cursor, "description", True) is None:  # psycopg: no result set (eventsourcing's SQLite cursor: [])
        return []
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cursor.fetchall()]


def catch_up(store: IndexStore, *, head: int) -> tuple[int, bytes] | None:
    """Bring the index to ``head`` and keep its commit; (size, root), or None if it was there already."""
    store.create()
    newest = "SELECT tree_size, levels FROM {commits} ORDER BY tree_size DESC LIMIT 1"
    known = store.read(newest, ())
    start = int(known[0][0]) if known else 0
    if start >= head:
        return None
    # The log is read before the write transaction: a long read inside it would leave the
    # transaction idle past PostgreSQL's idle-in-transaction timeout.
    new = _postings(store.ledger, start=start, head=head)
    with store.transaction() as run:
        last = run(newest, ())
        if (int(last[0][0]) if last else 0) != start:  # another process committed meanwhile: its turn
            return None
        touched = _advance(run, new, tree_size=head)
        levels = _levels(run, touched, previous=bytes(last[0][1]) if last else None)
        root = levels[-1][0]
        blob = b"".join(h for level in levels for h in level)
        run("INSERT INTO {commits} (tree_size, root, levels, committed_us) VALUES (?, ?, ?, ?)",
            (head, root, blob, time.time_ns() // 1000))  # fmt: skip
        return head, root


def _postings(ledger: Ledger, *, start: int, head: int) -> dict[bytes, list[int]]:
    """The seqs naming each key among entries start+1..head, by key hash."""
    new: dict[bytes, list[int]] = defaultdict(list)
    for record in ledger.records(after_seq=start):
        if record.seq > head:
            break
        data = orjson.loads(record.body).get("data")
        for key in index_keys(data) if isinstance(data, dict) else ():
            new[key_hash(key)].append(record.seq)
    return new


def _advance(run: Any, new: dict[bytes, list[int]], *, tree_size: int) -> set[int]:
    """Write the postings and the changed leaves; the buckets touched."""
    current: dict[bytes, tuple[int, bytes]] = {}
    hashes = list(new)
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        marks = ",".join("?" * len(chunk))
        select = f"SELECT key_hash, count, seqs_hash FROM {{current}} WHERE key_hash IN ({marks})"  # noqa: S608
        for h, n, s in run(select, chunk):
            current[bytes(h)] = (int(n), bytes(s))
    postings, leaves = [], []
    for hashed, seqs in new.items():
        count, chain = current.get(hashed, (0, bytes(32)))
        for seq in seqs:
            count, chain = count + 1, next_seqs_hash(chain, seq)
            postings.append((hashed, seq))
        leaves.append((bucket_of(hashed), hashed, tree_size, count, chain))
    _many(run, "INSERT INTO {postings} (key_hash, seq) VALUES (?, ?)", postings)
    _many(run, "INSERT INTO {leaves} (bucket, key_hash, tree_size, count, seqs_hash) VALUES (?, ?, ?, ?, ?)", leaves)
    _many(run, "INSERT INTO {current} (key_hash, bucket, count, seqs_hash) VALUES (?, ?, ?, ?) ON CONFLICT (key_hash) "
          "DO UPDATE SET count = excluded.count, seqs_hash = excluded.seqs_hash",
          [(h, b, n, s) for b, h, _, n, s in leaves])  # fmt: skip
    return {leaf[0] for leaf in leaves}


def _many(run: Any, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        run(statement, rows)  # a list of rows: one executemany


def _levels(run: Any, touched: set[int], *, previous: bytes | None) -> list[list[bytes]]:
    """The tree over the buckets after the touched buckets' leaves changed."""
    if previous is None:
        buckets = [EMPTY_BUCKET] * BUCKETS
    else:
        buckets = [previous[32 * i : 32 * i + 32] for i in range(BUCKETS)]
    grouped: dict[int, list[IndexLeaf]] = defaultdict(list)
    ordered = sorted(touched)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        marks = ",".join("?" * len(chunk))
        select = f"SELECT bucket, key_hash, count, seqs_hash FROM {{current}} WHERE bucket IN ({marks})"  # noqa: S608
        for b, h, n, s in run(select, chunk):
            grouped[int(b)].append(IndexLeaf(bytes(h), int(n), bytes(s)))
    for bucket in touched:
        buckets[bucket] = bucket_hash(grouped[bucket])
    return tree_levels(buckets)


def commit_index(ledger: Ledger) -> tuple[int, bytes] | None:
    """Catch the index up to the head and record its root in the log (``index.committed``).

    Nothing is recorded when the log holds nothing new since the last commit
    but that commit's own event. Returns the (size, root) committed, or None.
    """
    store = IndexStore(ledger)
    head = ledger.head_seq()
    commits = store.commits() if store.exists() else []
    if commits and head <= commits[-1][0] + 1 and _only_commits_after(ledger, commits[-1][0]):
        return None
    committed = catch_up(store, head=head)
    if committed is None:
        return None
    size, root = committed
    ledger.submit([_event(size, root)])
    return committed


def _only_commits_after(ledger: Ledger, size: int) -> bool:
    return all(record.type == COMMITTED for record in ledger.records(after_seq=size))


def _event(size: int, root: bytes) -> dict[str, Any]:
    return {
        "event_id": str(uuid4()),
        "type": COMMITTED,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": RESERVED_SOURCE,
        "actor": _ACTOR,
        "data": {"tree_size": size, "root": root.hex()},
    }


def committed_events(ledger: Ledger) -> list[tuple[int, int, bytes]]:
    """Every ``index.committed`` the ledger recorded itself: (its seq, the size it commits, the root)."""
    found = []
    for record in ledger.events_of_types([COMMITTED]):
        try:
            envelope = orjson.loads(record.body)
            if recorded_by_ledger(envelope, event_type=COMMITTED):
                data = envelope["data"]
                found.append((record.seq, int(data["tree_size"]), bytes.fromhex(data["root"])))
        except (ValueError, KeyError, TypeError):  # altered bytes: the chain's steps name this seq
            continue
    return found
