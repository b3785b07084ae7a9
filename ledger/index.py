"""The completeness index kept beside the log, and committed into it.

The index (ledger.proof.index) is derived from the log alone, so it is kept
off the append path: ``commit_index`` catches up from the last committed size
to the head, in one transaction holding the index lock, then records the new
root in the log itself as an ``index.committed`` control event, which every
later checkpoint covers. Checkpointing commits the index first, so the server
commits it as often as it signs (docs/auditing.md, "The completeness index").

Tables (all derived, none rewritten but ``ledger_index_pages``, the newest
leaves, which a catch-up reads):

- ``ledger_index_versions (bucket, tree_size, changes)``: what each commit
  changed in a bucket: for each key it touched, by key hash, its new leaf
  (72 bytes), u32be(n) and the n seqs it gained (u64be each; n = 2^32-1 when
  they are in ``ledger_index_seqs`` instead). A proof at any committed size
  replays its bucket's changes up to that size, which gives the bucket's
  leaves as they were and the key's seqs, in one statement.
- ``ledger_index_seqs (key_hash, tree_size, seqs)``: the seqs a key gained at a
  commit, when more than 64: kept apart, so that a proof for a key beside a
  busy one in its bucket does not read the busy one's seqs.
- ``ledger_index_pages (page, leaves)``: every leaf now, 72 bytes each, sorted
  by key hash, 64 buckets to a page (the first 6 bits of the key hash): a
  bucket's leaves are a run of its page, the bytes its hash is taken over.
- ``ledger_index_roots (tree_size, root, levels, committed_us)``: the tree over
  the buckets at each committed size (8,191 hashes, one blob): the 12 siblings
  of a proof are sliced out of it.

A catch-up reads only the new entries' ``seq`` and bytes (no Record is built),
and writes a row per changed bucket and per changed page (on PostgreSQL one
statement each). ``ledger verify`` does not read these tables to recompute the
index: it parses the log again (ledger.proof.index).

The tables of the first layout (``ledger_index_commits``, ``_postings``,
``_leaves``, ``_current``) are not read: a ledger that has them builds these
from size 0 at its next commit; its ``index.committed`` events stay verifiable,
since ``ledger verify`` recomputes every root from the log.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final
from uuid import uuid4

import orjson
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.catalogue.control import RESERVED_SOURCE, recorded_by_ledger
from ledger.dberrors import translated
from ledger.errors import ChainBroken, InputError, StoreUnavailable
from ledger.proof.index import (
    BUCKETS,
    DEPTH,
    EMPTY_BUCKET,
    LEAF_SIZE,
    IndexLeaf,
    IndexProof,
    bucket_of,
    key_hash,
    key_set,
    next_seqs_hash,
    tree_levels,
)
from ledger.store import Ledger
from ledger.store.pg_arrays import ByteaArray, Int8Array

COMMITTED: Final = "index.committed"
TABLES: Final = {
    "commits": "ledger_index_roots",
    "versions": "ledger_index_versions",
    "seqs": "ledger_index_seqs",
    "pages": "ledger_index_pages",
}
_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext('clinical-ai-ledger index'))"
_ACTOR: Final = {"id": "ledger", "role": "ledger", "kind": "system"}
_CREATE: Final = (
    "CREATE TABLE IF NOT EXISTS {commits} (tree_size BIGINT PRIMARY KEY, root {blob} NOT NULL, "
    "levels {blob} NOT NULL, committed_us BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {versions} (bucket INTEGER NOT NULL, tree_size BIGINT NOT NULL, "
    "changes {blob} NOT NULL, PRIMARY KEY (bucket, tree_size))",
    "CREATE TABLE IF NOT EXISTS {seqs} (key_hash {blob} NOT NULL, tree_size BIGINT NOT NULL, seqs {blob} NOT NULL, "
    "PRIMARY KEY (key_hash, tree_size))",
    "CREATE TABLE IF NOT EXISTS {pages} (page INTEGER PRIMARY KEY, leaves {blob} NOT NULL)",
)
_PAGE_SHIFT: Final = 6  # a page holds the buckets sharing their first 6 bits
_INLINE: Final = 64  # at most this many new seqs of a key are kept in its bucket's changes
_APART: Final = 2**32 - 1  # the count that says: the seqs are in ledger_index_seqs
_NEWEST: Final = "SELECT tree_size, levels FROM {commits} ORDER BY tree_size DESC LIMIT 1"
_LAST_SIZE: Final = "SELECT tree_size, committed_us FROM {commits} ORDER BY tree_size DESC LIMIT 1"
_READ_PAGE: Final = 20_000  # entries read from the log per statement
LIST_SEARCH = 32  # a page is searched as a list of its key hashes when it holds under this many leaves per change


class IndexStore:
    """The index's tables in the log's own database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.backend = ledger.url.backend
        self.datastore = ledger.datastore
        self.names = {**TABLES, "events": ledger.events_table}

    def sql(self, statement: str) -> Any:
        """A statement with the tables named (and ``?`` placeholders made psycopg's on PostgreSQL)."""
        statement = statement.replace("{blob}", "BYTEA" if self.backend == "postgres" else "BLOB")
        if self.backend == "postgres":
            schema = self.datastore.schema
            names = {k: SQL("{}.{}").format(Identifier(schema), Identifier(v)) for k, v in self.names.items()}
            return SQL(statement.replace("?", "%s")).format(**names)
        return statement.format(**self.names)

    @contextmanager
    def transaction(self) -> Iterator[Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]]:
        """One write transaction holding the index lock; yields ``run(statement, params) -> rows``."""
        with translated():
            if self.backend == "postgres":
                with (
                    self.datastore.get_connection() as conn,
                    conn.transaction(),
                    conn.cursor(row_factory=tuple_row, binary=True) as c,
                ):
                    c.execute(_LOCK)
                    yield lambda s, p: _rows(c, self.sql(s), p)
                return
            with self.datastore.get_connection(commit=True) as conn, conn.cursor() as c:
                c.row_factory = None  # plain tuples, not the datastore's sqlite3.Row
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield lambda s, p: _rows(c, self.sql(s), p)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()

    def create(self) -> None:
        """Create the tables if they do not exist; no DDL at all when every one does.

        The server's least-privilege role (docs/operations.md) may not create in
        its schema, and PostgreSQL checks that before it sees that a table exists:
        a ``CREATE TABLE IF NOT EXISTS`` refused it every index commit, and so
        every checkpoint the schedule signs.
        """
        if self._present() == len(TABLES):
            return
        with self.transaction() as run:
            for statement in _CREATE:
                run(statement, ())

    def read(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read-only statement."""
        with translated():
            if self.backend == "postgres":
                with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as c:
                    return _rows(c, self.sql(statement), params)
            with self.datastore.transaction(commit=False) as c:
                c.sqlite_cursor.row_factory = None  # plain tuples, not the datastore's sqlite3.Row
                return _rows(c, self.sql(statement), params)

    def exists(self) -> bool:
        """Whether the index's tables exist (a ledger opened without creating tables may have none)."""
        return self._present(TABLES["commits"]) == 1

    def _present(self, *names: str) -> int:
        """How many of the named tables (default: all of the index's) exist; reading the catalogue needs no
        privilege on them."""
        names = names or tuple(TABLES.values())
        if self.backend == "postgres":
            found = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = ANY(%s)"
            with (
                translated(),
                self.datastore.get_connection() as conn,
                conn.cursor(row_factory=tuple_row, binary=True) as c,
            ):
                return int(_rows(c, found, (self.datastore.schema, list(names)))[0][0])
        marks = ",".join("?" * len(names))
        return int(self.read(f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",  # noqa: S608
                             names)[0][0])  # fmt: skip

    def commits(self) -> list[tuple[int, bytes]]:
        """Every committed (tree_size, root), smallest first."""
        if not self.exists():
            return []
        return [
            (int(s), bytes(r)) for s, r in self.read("SELECT tree_size, root FROM {commits} ORDER BY tree_size", ())
        ]

    def prove(self, key: str, *, tree_size: int) -> IndexProof:
        """The proof for ``key`` at a committed size (InputError if the index was not committed there).

        One statement: the bucket's changes up to the size, oldest first, and the
        12 siblings sliced out of the commit's tree.
        """
        hashed = key_hash(key)
        bucket = bucket_of(hashed)
        try:
            rows = self.read(_PROVE, (hashed, tree_size, bucket, tree_size, *_sibling_params(bucket, tree_size)))
        except StoreUnavailable:
            if not self.exists():
                raise InputError(f"the index was not committed at size {tree_size}") from None
            raise
        leaves: dict[bytes, bytes] = {}
        path: list[bytes] = [b""] * DEPTH
        seqs: list[int] = []
        apart: dict[int, list[int]] = {}
        for depth, size, raw in sorted(rows, key=lambda r: (r[0], r[1])):
            if depth == -2:
                apart[size] = _u64s(bytes(raw))
            elif depth == -1:
                for leaf, gained in _changes(bytes(raw)):
                    leaves[leaf[:32]] = leaf
                    if leaf[:32] == hashed:
                        seqs += apart.get(size, []) if gained is None else gained
            else:
                path[depth] = bytes(raw)
        if any(len(p) != 32 for p in path):
            raise InputError(f"the index was not committed at size {tree_size}")
        ordered = [IndexLeaf.from_bytes(leaves[h]) for h in sorted(leaves)]
        return IndexProof(key, tree_size, seqs, bucket, ordered, path)


def _prove_statement() -> str:
    """The key's seqs kept apart (depth -2) and its bucket's changes (-1), by size; each sibling (0..11), sliced
    out of the commit's levels at an offset passed as a parameter, so that every proof runs the same statement
    (PostgreSQL prepares it once per connection instead of planning each bucket's text afresh)."""
    parts = [
        "SELECT -2, tree_size, seqs FROM {seqs} WHERE key_hash = ? AND tree_size <= ?",
        "SELECT -1, tree_size, changes FROM {versions} WHERE bucket = ? AND tree_size <= ?",
    ]
    sibling = "SELECT {}, tree_size, substr(levels, CAST(? AS INTEGER), 32) FROM {{commits}} WHERE tree_size = ?"
    parts += [sibling.format(depth) for depth in range(DEPTH)]  # the depths are ours, not the caller's
    return " UNION ALL ".join(parts)


_PROVE: Final = _prove_statement()


def _sibling_params(bucket: int, tree_size: int) -> list[int]:
    """(where the sibling starts in the levels blob, counted from 1 as substr does; the size) for each depth."""
    params, offset, width, node = [], 0, BUCKETS, bucket
    for _ in range(DEPTH):
        params += [32 * (offset + (node ^ 1)) + 1, tree_size]
        offset, width, node = offset + width, width // 2, node // 2
    return params


def _changes(raw: bytes) -> Iterator[tuple[bytes, list[int] | None]]:
    """(leaf, the seqs it gained, None if kept apart) for each key one commit changed in a bucket."""
    at = 0
    while at < len(raw):
        leaf, count = raw[at : at + LEAF_SIZE], int.from_bytes(raw[at + LEAF_SIZE : at + LEAF_SIZE + 4], "big")
        at += LEAF_SIZE + 4
        if count == _APART:
            yield leaf, None
            continue
        yield leaf, list(struct.unpack_from(f">{count}Q", raw, at))
        at += 8 * count


def _u64s(raw: bytes) -> list[int]:
    return list(struct.unpack(f">{len(raw) // 8}Q", raw))


def _rows(cursor: Any, statement: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    if params and isinstance(params, list) and isinstance(params[0], tuple):  # many rows (``_many``)
        cursor.executemany(statement, params)
        return []
    cursor.execute(statement, params)
    if getattr(cursor, "description", True) is None:  # psycopg: no result set (eventsourcing's SQLite cursor: [])
        return []
    return list(cursor.fetchall())


def catch_up(store: IndexStore, *, head: int) -> tuple[int, bytes] | None:
    """Bring the index to ``head`` and keep its commit; (size, root), or None if it was there already."""
    store.create()
    known = store.read(_NEWEST, ())
    start = int(known[0][0]) if known else 0
    if start >= head:
        return None
    # Everything is read and computed before the write transaction, which only checks that no other
    # commit came first and writes: work inside it would leave it idle past PostgreSQL's
    # idle-in-transaction timeout (a 1,000,000-event catch-up did). The pages read here are those of
    # the commit at ``start`` unless another commit came since, and then the check below gives way.
    new = _postings(store, start=start, head=head)
    rows, hashes = _advance(store, new, tree_size=head)
    if known:
        previous = bytes(known[0][1])
        buckets = [previous[32 * i : 32 * i + 32] for i in range(BUCKETS)]
    else:
        buckets = [EMPTY_BUCKET] * BUCKETS
    for bucket, digest in hashes.items():
        buckets[bucket] = digest
    levels = tree_levels(buckets)
    root = levels[-1][0]
    blob = b"".join(h for level in levels for h in level)
    with store.transaction() as run:
        last = run("SELECT max(tree_size) FROM {commits}", ())
        if (last[0][0] or 0) != start:  # another process committed meanwhile: its turn
            return None
        for into, types, tail, values in rows:
            _insert(run, store.backend, into, types, values, tail)
        run("INSERT INTO {commits} (tree_size, root, levels, committed_us) VALUES (?, ?, ?, ?)",
            (head, root, blob, time.time_ns() // 1000))  # fmt: skip
        return head, root


def _postings(store: IndexStore, *, start: int, head: int) -> dict[bytes, list[int]]:
    """The seqs naming each key among entries start+1..head, by key hash: each entry's bytes parsed once."""
    by_key: dict[str, list[int]] = {}
    page = "SELECT seq, state FROM {events} WHERE seq > ? AND seq <= ? ORDER BY seq"
    for low in range(start, head, _READ_PAGE):
        for seq, body in store.read(page, (low, min(low + _READ_PAGE, head))):
            if body is None:
                raise ChainBroken(seq=seq, kind="missing chain column", detail="the row has a seq but no state")
            data = orjson.loads(body).get("data")
            if isinstance(data, dict):
                for key in key_set(data):
                    seqs = by_key.get(key)
                    if seqs is None:
                        by_key[key] = [seq]
                    else:
                        seqs.append(seq)
    return {key_hash(key): seqs for key, seqs in by_key.items()}


def _advance(
    store: IndexStore, new: dict[bytes, list[int]], *, tree_size: int
) -> tuple[list[tuple[str, tuple[str, ...], str, list[tuple[Any, ...]]]], dict[int, bytes]]:
    """The rows to write (each changed bucket's changes, the changed keys' seqs kept apart, the changed
    pages: (table and columns, their types, a tail, rows) for ``_insert``), and each changed bucket's new hash.

    A page's new bytes are its stored bytes with the changed leaves spliced in where they sort: the work
    grows with the keys changed (and a copy of the page), not with every leaf the page holds, which at
    1,000,000 events made a commit of 100 entries take 150 ms."""
    by_page: dict[int, list[bytes]] = defaultdict(list)  # the changed key hashes of each page
    for hashed in new:
        by_page[bucket_of(hashed) >> _PAGE_SHIFT].append(hashed)
    stored = {int(page): bytes(raw) for page, raw in _pages(store, sorted(by_page))}
    changes: dict[int, list[bytes]] = defaultdict(list)
    apart: list[tuple[Any, ...]] = []
    hashes, rows = {}, []
    for page, changed in by_page.items():
        raw = stored.get(page, b"")
        leaves: Sequence[bytes] = _Leaves(raw)
        if len(leaves) < LIST_SEARCH * len(changed):  # many change: a list of the key hashes is quicker to search
            leaves = [raw[i : i + 32] for i in range(0, len(raw), LEAF_SIZE)]
        pieces: list[bytes] = []
        copied = 0  # raw is copied up to this leaf
        for hashed in sorted(changed):
            at = bisect_left(leaves, hashed, copied)
            old = raw[LEAF_SIZE * at : LEAF_SIZE * (at + 1)] if at < len(leaves) and leaves[at] == hashed else None
            leaf = _leaf(hashed, old, new[hashed])
            pieces += [raw[LEAF_SIZE * copied : LEAF_SIZE * at], leaf]
            copied = at + (old is not None)
            changes[bucket_of(hashed)].append(_change(leaf, new[hashed], tree_size, apart))
        pieces.append(raw[LEAF_SIZE * copied :])
        raw = b"".join(pieces)
        rows.append((page, raw))
        leaves = _Leaves(raw)
        for bucket in {bucket_of(h) for h in changed}:
            # the bucket's leaves are the run of the page whose key hashes start with its 12 bits
            low = bisect_left(leaves, (bucket << 4).to_bytes(2, "big"))
            high = bisect_left(leaves, ((bucket + 1) << 4).to_bytes(2, "big")) if bucket + 1 < BUCKETS else len(leaves)
            hashes[bucket] = hashlib.sha256(b"\x12" + raw[LEAF_SIZE * low : LEAF_SIZE * high]).digest()
    versions = [(b, tree_size, b"".join(cs)) for b, cs in changes.items()]  # each in key-hash order, as sorted above
    return [
        ("{versions} (bucket, tree_size, changes)", ("integer", "bigint", "bytea"), "", versions),
        ("{seqs} (key_hash, tree_size, seqs)", ("bytea", "bigint", "bytea"), "", apart),
        ("{pages} (page, leaves)", ("integer", "bytea"), " ON CONFLICT (page) DO UPDATE SET leaves = excluded.leaves",
         rows),
    ], hashes  # fmt: skip


class _Leaves(Sequence[bytes]):
    """The key hashes of a run of sorted leaves (72 bytes each), without copying them out: what bisect reads."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __len__(self) -> int:
        return len(self.raw) // LEAF_SIZE

    def __getitem__(self, index: Any) -> Any:  # bisect asks for single leaves only
        return self.raw[LEAF_SIZE * index : LEAF_SIZE * index + 32]


def _leaf(hashed: bytes, old: bytes | None, seqs: list[int]) -> bytes:
    """A key's leaf after it gained ``seqs``: count and seqs chain carried on from its old leaf (None: a new key)."""
    count, chain = (0, bytes(32)) if old is None else (int.from_bytes(old[32:40], "big"), old[40:])
    for seq in seqs:
        chain = next_seqs_hash(chain, seq)
    return hashed + (count + len(seqs)).to_bytes(8, "big") + chain


def _change(leaf: bytes, seqs: list[int], tree_size: int, apart: list[tuple[Any, ...]]) -> bytes:
    """A key's entry in its bucket's changes: the leaf and its new seqs, or _APART with them kept in ``apart``."""
    if len(seqs) > _INLINE:
        apart.append((leaf[:32], tree_size, struct.pack(f">{len(seqs)}Q", *seqs)))
        return leaf + _APART.to_bytes(4, "big")
    return leaf + struct.pack(f">I{len(seqs)}Q", len(seqs), *seqs)


def _pages(store: IndexStore, wanted: list[int]) -> list[tuple[Any, ...]]:
    """The stored (page, leaves) of the wanted pages that have any (64 pages at most: one statement)."""
    if store.backend == "postgres":
        return store.read("SELECT page, leaves FROM {pages} WHERE page = ANY(?)", (wanted,))
    return store.read(f"SELECT page, leaves FROM {{pages}} WHERE page IN ({','.join('?' * len(wanted))})", wanted)  # noqa: S608


def _insert(run: Any, backend: str, into: str, types: tuple[str, ...], rows: list[tuple[Any, ...]], tail: str = ""
) -> None:  # fmt: skip
    """Insert the rows: on PostgreSQL statements over arrays (executemany's pipeline costs a round of work per
    row), in binary built by the store's own packers (psycopg's list dumper cost as much as the rest of a commit's
    writes); on SQLite one executemany (``run`` takes a list of rows)."""
    if not rows:
        return
    if backend == "postgres":
        arrays = ", ".join(f"?::{t}[]" for t in types)
        for chunk in _chunks(rows):  # a few MB each: building one statement of 100 MB outlived the idle timeout
            columns = zip(types, zip(*chunk, strict=True), strict=True)
            run(f"INSERT INTO {into} SELECT * FROM unnest({arrays}){tail}",  # noqa: S608
                tuple(ByteaArray.of(c) if t == "bytea" else Int8Array.of(c) for t, c in columns))  # fmt: skip
        return
    marks = ", ".join("?" * len(types))
    run(f"INSERT INTO {into} VALUES ({marks}){tail}", rows)  # noqa: S608


def _chunks(rows: list[tuple[Any, ...]], *, limit: int = 4 << 20) -> Iterator[list[tuple[Any, ...]]]:
    """The rows in runs of about ``limit`` bytes of blobs (a row larger than that alone)."""
    chunk: list[tuple[Any, ...]] = []
    size = 0
    for row in rows:
        weight = sum(len(v) for v in row if isinstance(v, bytes))
        if chunk and size + weight > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += weight
    yield chunk


def commit_index(ledger: Ledger) -> tuple[int, bytes] | None:
    """Catch the index up to the head and record its root in the log (``index.committed``).

    Nothing is recorded when the log holds nothing new since the last commit
    but that commit's own event. Returns the (size, root) committed, or None.
    """
    store = IndexStore(ledger)
    head = ledger.head_seq()
    newest = store.read(_LAST_SIZE, ()) if store.exists() else []  # not every commit: a server adds 1,440 a day
    last = int(newest[0][0]) if newest else None
    if last is not None and head <= last + 1 and _only_commits_after(ledger, last):
        return None
    committed = catch_up(store, head=head)
    if committed is None:
        return None
    size, root = committed
    ledger.submit([_event(size, root)])
    return committed


def index_age(ledger: Ledger) -> float:
    """Seconds since the index was last caught up (infinity if it never was): how stale a commit would refresh."""
    store = IndexStore(ledger)
    if not store.exists():
        return math.inf
    newest = store.read(_LAST_SIZE, ())
    return time.time() - int(newest[0][1]) / 1e6 if newest else math.inf


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
