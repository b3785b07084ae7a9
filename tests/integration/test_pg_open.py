"""Server workers and commands open a brand-new PostgreSQL ledger at the same moment: all of them start."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import psycopg
import pytest

from ledger.store import Ledger
from tests.conftest import PG_ADMIN_URL
from tests.factories import shown
from tests.ledgers import env_settings


def _open_at_once(url: str, handles: int) -> list[Exception]:
    """Open ``handles`` ledgers on ``url`` from as many threads released together; what they raised."""
    barrier, errors = threading.Barrier(handles), []

    def open_ledger() -> None:
        barrier.wait()
        try:
            Ledger(env_settings(url)).close()
        except Exception as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_ledger) for _ in range(handles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def _opens_beside(statement: str, open_store: Callable[[], object]) -> bool:
    """Whether ``open_store`` returns within 10 s while another transaction, having run ``statement``, is open."""
    opened = threading.Event()
    with psycopg.connect(PG_ADMIN_URL) as other:
        other.execute(statement)  # type: ignore[arg-type]
        opener = threading.Thread(target=lambda: (open_store(), opened.set()))
        opener.start()
        try:
            return opened.wait(10)
        finally:
            other.rollback()
            opener.join(30)


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


@pytest.mark.postgres
def test_opening_a_complete_ledger_runs_no_ddl_so_a_long_read_holds_nothing_up(pg_url: str, pg_schema: str) -> None:
    # The DDL locks the tables ACCESS EXCLUSIVE: behind a reader's transaction it would wait,
    # and every append would queue behind it.
    Ledger(env_settings(pg_url)).close()
    reading = f'SELECT 1 FROM "{pg_schema}".ledger_events LIMIT 1'  # ACCESS SHARE until rollback
    settings = env_settings(pg_url)
    assert _opens_beside(reading, lambda: Ledger(settings).close()), "opening the ledger waited for a reader"


@pytest.mark.postgres
def test_opening_a_ledger_missing_a_trigger_makes_it_again(pg_url: str, pg_schema: str) -> None:
    with Ledger(env_settings(pg_url)) as ledger:
        ledger.submit([shown()])
    events = f'"{pg_schema}".ledger_events'
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP TRIGGER ledger_refuse_change_row ON {events}")  # type: ignore[arg-type]
    Ledger(env_settings(pg_url)).close()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"):
            admin.execute(f"DELETE FROM {events}")  # type: ignore[arg-type]


@pytest.mark.postgres
def test_opening_the_key_vault_of_a_complete_ledger_waits_for_no_writer(pg_url: str, pg_schema: str) -> None:
    # CREATE INDEX takes a SHARE lock on the key table even when the index exists: behind a
    # writer's transaction that stores a new subject's key it would wait, and hold up every
    # append that stores one after it.
    def open_vault() -> None:
        with Ledger(env_settings(pg_url)) as ledger:
            _ = ledger.keys

    open_vault()
    storing = (  # ROW EXCLUSIVE on the key table until rollback
        f'INSERT INTO "{pg_schema}".ledger_subject_keys (subject, wrapped, master_key_id, created_us) '
        "VALUES ('in-flight', '\\x00', 'k', 1)"
    )
    assert _opens_beside(storing, open_vault), "opening the key vault waited for a writer's transaction"
