"""The one-statement append on PostgreSQL (the recorder's cached tip): what it writes when writers race.

Its statement takes the append lock itself, so its snapshot predates the lock:
a writer that commits while it waits is invisible to its head check, and the
unique index on seq must refuse its rows. These tests make each case happen on
purpose, holding the append lock from another session.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from ledger.audit import verify_store
from ledger.catalogue import validate_event
from ledger.errors import StoreUnavailable
from ledger.store import Ledger, Receipt
from ledger.store.url import parse_database_url
from tests.conftest import PG_ADMIN_URL
from tests.factories import shown
from tests.integration.test_key_race import generated, key_rows, opened_patients
from tests.ledgers import env_settings


def _ledger(pg_url: str, **settings: str) -> Ledger:
    url = parse_database_url(pg_url)
    return Ledger(env_settings(replace(url, settings={**url.settings, **settings})))


def _lock_key(ledger: Ledger, schema: str) -> str:
    return f"clinical-ai-ledger append {schema}.{ledger.recorder.events_table_name}"


def _waiting(admin: psycopg.Connection, count: int) -> None:
    """Until ``count`` sessions wait for an advisory lock."""
    deadline = time.monotonic() + 10
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    while admin.execute(query).fetchone() != (count,):
        if time.monotonic() > deadline:
            pytest.fail(f"{count} writers never queued on the append lock")
        time.sleep(0.01)


@pytest.mark.postgres
def test_a_writer_that_commits_while_a_tip_append_waits_for_the_lock_is_not_forked(pg_url: str, pg_schema: str) -> None:
    with _ledger(pg_url) as tipped, _ledger(pg_url) as other:
        tipped.submit([shown("out-1")])  # seq 1: `tipped` now appends in one statement on its tip
        receipts: dict[str, Receipt] = {}

        def append(name: str, ledger: Ledger) -> None:
            receipts[name] = ledger.submit([shown(name)])[0]

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (_lock_key(tipped, pg_schema),))
            first = threading.Thread(target=append, args=("other", other))  # reads the head once it has the lock
            first.start()
            _waiting(admin, 1)
            second = threading.Thread(target=append, args=("tipped", tipped))  # its snapshot: head at seq 1
            second.start()
            _waiting(admin, 2)
            admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_lock_key(tipped, pg_schema),))
            first.join(10)
            second.join(10)
        assert (receipts["other"].seq, receipts["tipped"].seq) == (2, 3)
        assert receipts["tipped"].prev_hash == receipts["other"].hash
        assert verify_store(tipped).intact


@pytest.mark.postgres
def test_two_writers_appending_at_once_keep_one_dense_chain(pg_url: str) -> None:
    with _ledger(pg_url) as one, _ledger(pg_url) as two:
        seqs: list[int] = []

        def append(ledger: Ledger, prefix: str) -> None:
            for i in range(60):
                seqs.extend(r.seq for r in ledger.submit([shown(f"{prefix}-{i}-{j}") for j in range(3)]))

        threads = [threading.Thread(target=append, args=(ledger, name)) for ledger, name in ((one, "a"), (two, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(seqs) == list(range(1, 361))
        assert verify_store(one).intact


@pytest.mark.postgres
def test_an_append_that_times_out_on_the_lock_writes_nothing_and_the_next_one_chains_on(
    pg_url: str, pg_schema: str
) -> None:
    with _ledger(pg_url, POSTGRES_LOCK_TIMEOUT="1", POSTGRES_POOL_SIZE="1", POSTGRES_MAX_OVERFLOW="0") as ledger:
        ledger.submit([shown("out-1")])  # this recorder now holds the tip: the next append is one statement
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(hashtext(%s))", (_lock_key(ledger, pg_schema),))
            with pytest.raises(StoreUnavailable):
                ledger.submit([shown("out-2")])
            other.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_lock_key(ledger, pg_schema),))
        assert ledger.head_seq() == 1
        with ledger.recorder.datastore.get_connection() as conn:
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert ledger.submit([shown("out-2")])[0].seq == 2
        assert verify_store(ledger).intact


@pytest.mark.postgres
def test_a_new_patients_key_stored_while_a_tip_append_waits_for_the_lock_makes_it_reseal(
    pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The statement's snapshot predates the lock, so the key stored meanwhile is not among the
    # keys it reads as taken; ON CONFLICT skips it, and no event sealed under the other key commits.
    patient = "Patient/race-3"
    with _ledger(pg_url) as tipped, _ledger(pg_url) as other:
        tipped.submit([generated("Patient/earlier", "out-0")])
        seals: list[int] = []
        original = tipped.keys.for_sealing

        def sealing(tokens: Any) -> Any:
            found = original(tokens)
            seals.append(len(found[1]))
            return found

        monkeypatch.setattr(tipped.keys, "for_sealing", sealing)
        done: list[Receipt] = []
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (_lock_key(tipped, pg_schema),))
            waiting = threading.Thread(target=lambda: done.extend(tipped.submit([generated(patient, "out-a")])))
            waiting.start()
            _waiting(admin, 1)
            other.facts([validate_event(generated(patient, "out-b"))])  # stores the patient's key, and commits
            admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_lock_key(tipped, pg_schema),))
            waiting.join(10)
        assert [r.seq for r in done] == [2] and seals == [1, 0]
        assert key_rows(tipped.keys, tipped.keys.token(f"patient:{patient}")) == 1
    assert opened_patients(pg_url) == ["Patient/earlier", patient]
