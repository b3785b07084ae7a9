"""The binary arrays the PostgreSQL recorder sends read back as psycopg's own lists would."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ledger.store.pg_arrays import ByteaArray, Int2Array, Int8Array, TextArray, UuidArray, register_arrays
from tests.conftest import PG_ADMIN_URL, require_postgres


@pytest.fixture
def conn(request: pytest.FixtureRequest):
    require_postgres(request.node.nodeid)
    register_arrays(psycopg.adapters)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as opened:
        yield opened


@pytest.mark.parametrize("size", [0, 1, 3])
def test_every_array_reads_back_element_for_element(conn: psycopg.Connection, size: int) -> None:
    ids = [uuid.uuid4() for _ in range(size)]
    blobs = [bytes([i]) * (i * 7) for i in range(size)]  # lengths 0, 7, 14
    hashes = [bytes([i]) * 32 for i in range(size)]
    big = [2**62 + i for i in range(size)]
    small = [i - 1 for i in range(size)]
    texts = ["ledger:output.shown", "é ü ☃", ""][:size]
    row = conn.execute(
        "SELECT %b::uuid[], %b::bytea[], %b::bytea[], %b::bigint[], %b::smallint[], %b::text[]",
        (
            UuidArray.of(ids),
            ByteaArray.of(blobs),
            ByteaArray.of(hashes, width=32),
            Int8Array.of(big),
            Int2Array.of(small),
            TextArray.of(texts),
        ),
    ).fetchone()
    assert row == (ids, blobs, hashes, big, small, texts)


def test_an_element_of_the_wrong_width_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="not 32 bytes long"):
        ByteaArray.of([bytes(31), bytes(33)], width=32)
