"""The server's PostgreSQL role needs INSERT and SELECT on the log, and with them it can append and verify.

On the key table, the one mutable table, it also needs UPDATE: erasure destroys a key there.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ledger.audit import verify_store
from ledger.erasure import erase
from ledger.index import IndexStore, commit_index
from ledger.store import Ledger
from tests.conftest import PG_ADMIN_URL
from tests.factories import many_shown
from tests.integration.test_key_race import ACTOR, generated
from tests.ledgers import env_settings

GRANTS = """
GRANT USAGE ON SCHEMA "{schema}" TO {role};
GRANT SELECT, INSERT ON "{schema}".ledger_events, "{schema}".ledger_merkle_nodes,
    "{schema}".ledger_checkpoints TO {role};
GRANT USAGE ON SEQUENCE "{schema}".ledger_events_notification_id_seq TO {role};
GRANT SELECT, INSERT, UPDATE ON "{schema}".ledger_subject_keys TO {role};
GRANT SELECT, INSERT ON "{schema}".ledger_index_roots, "{schema}".ledger_index_versions,
    "{schema}".ledger_index_seqs TO {role};
GRANT SELECT, INSERT, UPDATE ON "{schema}".ledger_index_pages TO {role};
"""


@pytest.fixture
def app_role(pg_schema: str) -> str:
    """A login role with the grants of docs/operations.md, on tables an administrator created."""
    with Ledger(env_settings(f"{PG_ADMIN_URL}?schema={pg_schema}")) as admin:
        _ = admin.keys  # the key table too
        IndexStore(admin).create()  # and the completeness index's
    role = f"ledger_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")  # type: ignore[arg-type]
        conn.execute(GRANTS.format(schema=pg_schema, role=role))  # type: ignore[arg-type]
    yield role
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")  # type: ignore[arg-type]


def test_insert_and_select_suffice_to_append_and_verify(app_role: str, pg_schema: str) -> None:
    url = PG_ADMIN_URL.replace("postgres@", f"{app_role}@") + f"?schema={pg_schema}"
    with Ledger(env_settings(url), create_tables=False) as ledger:
        receipts = ledger.submit(many_shown(20))
        assert [r.seq for r in receipts] == list(range(1, 21))
        assert verify_store(ledger).intact


def test_with_the_key_table_granted_it_seals_new_patients_and_erases_them(app_role: str, pg_schema: str) -> None:
    url = PG_ADMIN_URL.replace("postgres@", f"{app_role}@") + f"?schema={pg_schema}"
    with Ledger(env_settings(url), create_tables=False) as ledger:
        receipt = ledger.submit([generated("Patient/lp-1", "out-1")])[0]  # a first-seen patient: a new key
        assert ledger.open(ledger.get(receipt.event_id)).envelope["data"]["patient_ref"] == "Patient/lp-1"
        erase(ledger, subject="patient:Patient/lp-1", legal_basis="gdpr_art17", actor=ACTOR)
        assert ledger.open(ledger.get(receipt.event_id)).erased
        assert verify_store(ledger).intact


@pytest.mark.parametrize("statement", ["UPDATE {t} SET hash = hash", "DELETE FROM {t}", "TRUNCATE {t}"])
def test_the_app_role_cannot_change_or_remove_rows(app_role: str, pg_schema: str, statement: str) -> None:
    url = PG_ADMIN_URL.replace("postgres@", f"{app_role}@")
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.format(t=f'"{pg_schema}".ledger_events'))  # type: ignore[arg-type]


def test_with_the_index_tables_granted_it_commits_the_completeness_index(app_role: str, pg_schema: str) -> None:
    """Every signing commits the index first: the role must manage that without creating anything (the tables
    exist), or no checkpoint is ever signed."""
    url = PG_ADMIN_URL.replace("postgres@", f"{app_role}@") + f"?schema={pg_schema}"
    with Ledger(env_settings(url), create_tables=False) as ledger:
        ledger.submit(many_shown(5))
        assert commit_index(ledger) is not None
        ledger.submit(many_shown(3))
        assert commit_index(ledger) is not None  # a second commit rewrites the pages it changed (UPDATE)
        assert verify_store(ledger).intact
