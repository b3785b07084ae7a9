"""An erasure made by another process (``ledger erase`` beside a running server) is honoured by this one.

Each process caches subjects' data keys. A process that had a key cached kept
revealing an erased subject's fields, and kept sealing new events under the
destroyed key, until it restarted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import psycopg
import pytest

from ledger import privacy
from ledger.erasure import erase
from ledger.errors import InputError
from ledger.store import Ledger
from ledger.vault import ERASED_INDEX
from tests.conftest import PG_ADMIN_URL
from tests.integration.test_key_race import ACTOR, generated
from tests.ledgers import env_settings


def test_a_subject_erased_by_another_process_is_not_revealed_by_one_that_cached_its_key(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as server, Ledger(env_settings(store_url)) as command:
        receipt = server.submit([generated("Patient/el-1", "out-1")])[0]
        assert server.open(server.get(receipt.event_id)).envelope["data"]["patient_ref"] == "Patient/el-1"
        erase(command, subject="patient:Patient/el-1", legal_basis="gdpr_art17", actor=ACTOR)
        opened = server.open(server.get(receipt.event_id))
        assert opened.envelope["data"]["patient_ref"] == "[erased]"
        assert set(opened.erased) == {"patient_ref", "encounter_ref", "explanation"}


def test_an_append_for_a_subject_erased_by_another_process_is_refused_once_the_key_is_read_again(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy, "RECHECK_S", 0.0)  # every append reads the key table again (1 s by default)
    with Ledger(env_settings(store_url)) as server, Ledger(env_settings(store_url)) as command:
        server.submit([generated("Patient/el-2", "out-1")])  # the key is now cached by the server
        erase(command, subject="patient:Patient/el-2", legal_basis="gdpr_art17", actor=ACTOR)
        with pytest.raises(InputError, match="erased"):
            server.submit([generated("Patient/el-2", "out-2")])
        assert server.head_seq() == 2  # the event and the erasure, nothing more


def _key_reads(monkeypatch: pytest.MonkeyPatch, ledger: Ledger) -> list[list[str]]:
    """The tokens of each read of the key table that ``ledger`` makes from now on."""
    reads: list[list[str]] = []
    original = ledger.keys.vault.get

    def get(subjects: Any) -> Any:
        reads.append(list(subjects))
        return original(subjects)

    monkeypatch.setattr(ledger.keys.vault, "get", get)
    return reads


def test_a_cached_key_is_not_read_again_while_no_key_has_been_erased(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy, "RECHECK_S", 0.0)  # the erased keys are counted before every append
    with Ledger(env_settings(store_url)) as server:
        server.submit([generated("Patient/el-3", "out-1")])
        reads = _key_reads(monkeypatch, server)
        server.submit([generated("Patient/el-3", "out-2")])
        assert reads == []


def test_an_erasure_of_another_subject_makes_cached_keys_be_read_again_and_still_used(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy, "RECHECK_S", 0.0)
    with Ledger(env_settings(store_url)) as server, Ledger(env_settings(store_url)) as command:
        server.submit([generated("Patient/el-4", "out-1"), generated("Patient/el-5", "out-2")])
        erase(command, subject="patient:Patient/el-5", legal_basis="gdpr_art17", actor=ACTOR)
        reads = _key_reads(monkeypatch, server)
        receipt = server.submit([generated("Patient/el-4", "out-3")])[0]
        assert reads == [[server.keys.token("patient:Patient/el-4")]]
        assert server.open(server.get(receipt.event_id)).envelope["data"]["patient_ref"] == "Patient/el-4"


def test_within_recheck_s_of_the_last_count_sealing_trusts_its_cache(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented window: an erasure by another process reaches appends after at most RECHECK_S.
    monkeypatch.setattr(privacy, "RECHECK_S", 3600.0)
    with Ledger(env_settings(store_url)) as server, Ledger(env_settings(store_url)) as command:
        server.submit([generated("Patient/el-6", "out-1")])
        erase(command, subject="patient:Patient/el-6", legal_basis="gdpr_art17", actor=ACTOR)
        server.submit([generated("Patient/el-6", "out-2")])  # within the window: not yet known here
        monkeypatch.setattr(privacy, "RECHECK_S", 0.0)
        with pytest.raises(InputError, match="erased"):
            server.submit([generated("Patient/el-6", "out-3")])


def _erased_index(ledger: Ledger, *, drop: bool = False) -> bool:
    """Whether the key table's index of erased keys exists (dropped first if asked), read from the catalog."""
    if ledger.url.sqlite_path is not None:
        with contextlib.closing(sqlite3.connect(ledger.url.sqlite_path)) as db, db:
            if drop:
                db.execute(f"DROP INDEX {ERASED_INDEX}")
            return db.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (ERASED_INDEX,)).fetchone() == (1,)
    schema = ledger.recorder.datastore.schema
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP INDEX "{schema}".{ERASED_INDEX}')
        found = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
                             (schema, ERASED_INDEX)).fetchone()  # fmt: skip
        return found == (1,)


def test_a_key_table_made_before_its_index_of_erased_keys_gets_it_when_next_opened(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated("Patient/el-7", "out-1")])
        assert _erased_index(ledger)
        assert not _erased_index(ledger, drop=True)
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.keys.vault.erased_count() == 0
        assert _erased_index(ledger)
