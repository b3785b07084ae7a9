"""Asking time-stamping authorities for tokens over the checkpoints, and keeping them.

The operator names the authorities (``LedgerPaths.tsa_urls``: $LEDGER_TSA_URLS,
or ``ledger checkpoint --tsa URL``). After signing, ``make_checkpoint`` asks
each for an RFC 3161 token over the checkpoint (ledger.proof.timestamp says
what is hashed) and keeps the response twice, like the checkpoint itself:

- in the database, ``ledger_checkpoint_timestamps (size, tsa, token, stamped_us)``,
  append-only (a trigger refuses UPDATE and DELETE), one row per checkpoint and
  authority, never replaced;
- in the checkpoint folder, ``<size:020d>.<label>.tsr`` beside
  ``<size:020d>.checkpoint``, written once (``label``: the first 16 hex digits
  of SHA-256 of the authority's URL, so several authorities' tokens stand side
  by side).

An authority that cannot be reached, or answers with anything but a granted
token over this checkpoint, loses nothing: the checkpoint is signed and
published before any authority is asked. The failure is logged (the
authority's host and the error's type, nothing else), and the checkpoint is
left without that token; the next ``make_checkpoint`` at the same size (the
server's next tick while the log has not grown, or ``ledger checkpoint``
again) asks again. A checkpoint the log has outgrown is not asked for again:
the next checkpoint covers its entries and gets its own token.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from psycopg.sql import SQL, Identifier

from ledger.dberrors import translated
from ledger.errors import InputError, LedgerError
from ledger.proof import merkle
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.proof.timestamp import TimedCheckpoint, check_token, parse_token
from ledger.store import Ledger
from ledger.vault import DDL_LOCK

log = logging.getLogger("ledger.timestamping")

TABLE: Final = "ledger_checkpoint_timestamps"
SUFFIX: Final = ".tsr"
TIMEOUT_S: Final = 10.0
_CREATE: Final = (
    "CREATE TABLE IF NOT EXISTS {t} (size BIGINT NOT NULL, tsa TEXT NOT NULL, token {blob} NOT NULL, "
    "stamped_us BIGINT NOT NULL, PRIMARY KEY (size, tsa))"
)


def label_of(url: str) -> str:
    """The authority's part of a token file's name: 16 hex digits of SHA-256 of its URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def token_file_name(size: int, url: str) -> str:
    """``<size:020d>.<label>.tsr``: the token of the checkpoint of ``size`` from the authority at ``url``."""
    return f"{size:020d}.{label_of(url)}{SUFFIX}"


class TimestampStore:
    """The tokens in the log's own database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self.backend = ledger.url.backend
        self.datastore = ledger.datastore
        self.postgres = self.backend == "postgres"

    def _sql(self, statement: str) -> Any:
        statement = statement.replace("{blob}", "BYTEA" if self.postgres else "BLOB")
        if not self.postgres:
            return statement.format(t=TABLE).replace("%s", "?")
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(TABLE))
        refuse = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier("ledger_refuse_change"))
        return SQL(statement).format(t=table, refuse=refuse)

    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]], *, ddl: bool = False) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        with translated():
            if self.postgres:
                with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as c:
                    if ddl:
                        c.execute(DDL_LOCK)
                    for statement, params in statements:
                        c.execute(self._sql(statement), params)
                        rows = c.fetchall() if c.description is not None else []
                return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]
            with self.datastore.transaction(commit=True) as c:
                for statement, params in statements:
                    c.execute(self._sql(statement), params)
                    rows = c.fetchall()
                return [tuple(r) for r in rows]

    def exists(self) -> bool:
        """Whether the table exists (a ledger that was never stamped has none)."""
        if self.postgres:
            present = "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL"
            return self._run([(present, (self.datastore.schema, TABLE))]) == [(True,)]
        return self._run([("SELECT count(*) FROM sqlite_master WHERE name = %s", (TABLE,))]) == [(1,)]

    def create(self) -> None:
        """Create the append-only table if it does not exist (on PostgreSQL under the ledger's DDL lock)."""
        if self.exists():
            return
        if self.postgres:
            refuse = (
                "CREATE OR REPLACE TRIGGER ledger_refuse_change_row BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION {refuse}()"
            )
            self._run([(_CREATE, ()), (refuse, ())], ddl=True)
            return
        triggers = [
            f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{op.lower()} BEFORE {op} ON {{t}} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {op} refused'); END"
            for op in ("UPDATE", "DELETE")
        ]
        self._run([(_CREATE, ()), *((t, ()) for t in triggers)])

    def add(self, *, size: int, tsa: str, token: bytes) -> None:
        """Keep a token (the first one kept for this checkpoint and authority stays)."""
        self.create()
        insert = "INSERT INTO {t} VALUES (%s, %s, %s, %s) ON CONFLICT (size, tsa) DO NOTHING"
        self._run([(insert, (size, tsa, token, time.time_ns() // 1000))])

    def tokens(self, *, size: int | None = None) -> list[tuple[int, str, bytes]]:
        """Every kept (size, tsa, token), or those of one checkpoint, by size then authority."""
        if not self.exists():
            return []
        select = "SELECT size, tsa, token FROM {t} WHERE CAST(%s AS BIGINT) IS NULL OR size = %s ORDER BY size, tsa"
        return [(int(s), str(a), bytes(t)) for s, a, t in self._run([(select, (size, size))])]


def request_token(url: str, note: str, *, timeout: float = TIMEOUT_S) -> bytes:
    """Ask the authority at ``url`` for a token over ``note``; the response's bytes, checked against the request.

    LedgerError if the authority cannot be reached or its answer is not a
    granted token over this note with the request's nonce.
    """
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    request = TimestampRequestBuilder().data(note.encode("utf-8")).hash_algorithm(HashAlgorithm.SHA256).build()
    try:
        answer = httpx.post(
            url,
            content=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=timeout,
        )
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        raise LedgerError(f"the time-stamping authority did not answer ({type(exc).__name__})") from exc
    response = parse_token(answer.content)
    check_token(response, note=note, size=0, roots=None)
    if response.tst_info.nonce != request.nonce:
        raise InputError("the time-stamping authority answered another request (nonce)")
    return answer.content


def stamp(ledger: Ledger, *, size: int, note: str, urls: Sequence[str], folder: CheckpointDirectory | None) -> int:
    """Get and keep a token from each authority that has none for this checkpoint yet; how many were added."""
    if not urls:
        return 0
    store = TimestampStore(ledger)
    kept = {tsa: token for _, tsa, token in store.tokens(size=size)}
    added = 0
    for url in urls:
        token = kept.get(url)
        if token is None:
            try:
                token = request_token(url, note)
            except LedgerError as exc:
                log.warning("no timestamp from %s for the checkpoint at size %d: %s", _host(url), size,
                            type(exc).__name__)  # fmt: skip
                continue
            store.add(size=size, tsa=url, token=token)
            added += 1
        if folder is not None:  # also a token kept before the folder was written (a crash between the two)
            folder.write_beside(token_file_name(size, url), token)
    return added


def _host(url: str) -> str:
    return urlsplit(url).hostname or "an authority"


def timed_checkpoints(ledger: Ledger, seqs: Sequence[int], *, size: int) -> list[TimedCheckpoint]:
    """A bundle's time evidence: for each of ``seqs``, the smallest time-stamped checkpoint that covers it.

    Each comes with its tokens and a consistency proof from it to the bundle's
    checkpoint of ``size``, so that an event recorded long before the bundle
    was made is bounded by the checkpoint that first covered it, not by the
    bundle's own. Checkpoints beyond ``size`` are not used.
    """
    stamped: dict[int, list[bytes]] = {}
    for at, _, token in TimestampStore(ledger).tokens():
        if at <= size:
            stamped.setdefault(at, []).append(token)
    sizes = sorted(stamped)
    chosen = {sizes[i] for i in (bisect.bisect_left(sizes, seq) for seq in seqs) if i < len(sizes)}
    notes = {c.size: c.note for c in ledger.checkpoints() if c.size in chosen}
    return [
        TimedCheckpoint(
            notes[at],
            merkle.consistency_proof(size1=at, size2=size, reader=ledger) if at < size else [],
            stamped[at],
        )
        for at in sorted(chosen)
        if at in notes
    ]
