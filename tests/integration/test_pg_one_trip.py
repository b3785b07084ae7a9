"""The one-round-trip append on PostgreSQL: a failure inside it writes nothing and leaves no transaction open."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from ledger.errors import StoreUnavailable
from ledger.store import Ledger
from ledger.store.url import database_url
from ledger.verify import verify_store
from tests.conftest import PG_ADMIN_URL
from tests.factories import shown


@pytest.mark.postgres
def test_an_append_that_times_out_on_the_lock_writes_nothing_and_the_next_one_chains_on(
    pg_url: str, pg_schema: str
) -> None:
    url = database_url(pg_url)
    one = {"POSTGRES_LOCK_TIMEOUT": "1", "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
    with Ledger(replace(url, settings={**url.settings, **one})) as ledger:
        ledger.submit([shown("out-1")])  # this recorder now holds the tip: the next append takes one trip
        key = f"clinical-ai-ledger append {pg_schema}.{ledger.recorder.events_table_name}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            with pytest.raises(StoreUnavailable):
                ledger.submit([shown("out-2")])
            other.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
        assert ledger.head_seq() == 1
        with ledger.recorder.datastore.get_connection() as conn:
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert ledger.submit([shown("out-2")])[0].seq == 2
        assert verify_store(ledger).intact
