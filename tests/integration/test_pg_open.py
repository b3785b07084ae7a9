"""Server workers and commands open a brand-new PostgreSQL ledger at the same moment: all of them start."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from ledger.store import Ledger
from tests.conftest import PG_ADMIN_URL


def _open_at_once(url: str, handles: int) -> list[Exception]:
    """Open ``handles`` ledgers on ``url`` from as many threads released together; what they raised."""
    barrier, errors = threading.Barrier(handles), []

    def open_ledger() -> None:
        barrier.wait()
        try:
            Ledger(url).close()
        except Exception as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_ledger) for _ in range(handles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


@pytest.mark.postgres
def test_four_handles_opening_an_empty_schema_at_once_all_open_it(pg_schema: str) -> None:
    # eventsourcing makes its composite types before the tables, each in a transaction of its
    # own; made at the same moment they collided on pg_type's unique index (6 trials in 10).
    del pg_schema  # the fixture's check that PostgreSQL is there; each trial makes its own schema
    for _ in range(5):
        schema = f"t_open_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            errors = _open_at_once(f"{PG_ADMIN_URL}?schema={schema}", 4)
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        assert not errors, [repr(e.__cause__ or e) for e in errors]
