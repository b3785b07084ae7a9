"""How a rebuild reads the log: in pages of records, or on PostgreSQL as one binary COPY stream.

A rebuild reads the whole log once. On PostgreSQL the ledger's ``scan`` streams
it by binary COPY from one snapshot, for about a third of the client CPU of
paged SELECTs (bytea arrives as bytes, not hex text), and each row becomes a
lean ``Scanned`` tuple rather than a Record. Records appended after that
snapshot are left to the ordinary steps that follow the bulk load.

Either way the rows come in seq order, duplicates and gaps included, exactly as
``Ledger.read`` gives them: the projector refuses both, never skips.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

from ledger.store import Ledger
from ledger.store.recorder import RECORD_COLUMNS, type_of_topic
from projections.facts import Stored

_COLUMNS = [c.strip() for c in RECORD_COLUMNS.split(",")]
_FIELDS = itemgetter(*(_COLUMNS.index(c) for c in ("seq", "topic", "state", "recorded_us")))


class Scanned(NamedTuple):
    """What the projections read of a record streamed by ``Ledger.scan``."""

    seq: int
    type: str
    body: bytes
    recorded_us: int


def batches(ledger: Ledger, *, after_seq: int, size: int) -> Generator[Sequence[Stored], None, None]:
    """The records after ``after_seq``, in seq order, in lists of up to ``size``."""
    if ledger.url.backend == "postgres":
        return _scanned(ledger, after_seq, size)
    return _pages(ledger, after_seq, size)


def _pages(ledger: Ledger, after_seq: int, size: int) -> Generator[Sequence[Stored], None, None]:
    while records := ledger.read(after_seq=after_seq, limit=size):
        yield records
        after_seq = records[-1].seq


def _scanned(ledger: Ledger, after_seq: int, size: int) -> Generator[Sequence[Stored], None, None]:
    type_of = lru_cache(maxsize=None)(type_of_topic)  # a few dozen topics, a million rows
    batch: list[Stored] = []
    for row in ledger.scan():
        seq, topic, body, recorded_us = _FIELDS(row)
        if seq <= after_seq:
            continue
        batch.append(Scanned(seq, type_of(topic), body, recorded_us))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
