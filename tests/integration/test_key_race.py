"""A new subject's data key is stored in the append's own transaction, on both stores.

Sealing happens before the append lock, so two writers can both see no key for a
new patient and each seal under a fresh one. Only one key may be kept, and no
event sealed under the other may commit: the writer that finds a stored key
under the lock writes nothing, seals again under the stored key and appends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from ledger.audit import verify_store
from ledger.catalogue import validate_event
from ledger.erasure import erase
from ledger.errors import EventConflict, InputError
from ledger.privacy import Keys, NewKey
from ledger.store import Ledger
from tests.factories import envelope
from tests.ledgers import env_settings

ACTOR = {"id": "privacy-officer", "role": "privacy_officer", "kind": "person"}


def generated(patient: str, output_id: str) -> dict[str, Any]:
    return envelope("output.generated", {
        "output_id": output_id, "tool_id": "sepsis-watch", "model_version": "3.2.0", "site": "northside",
        "unit": "ed", "population": "adults_18_plus", "patient_ref": patient, "encounter_ref": f"Encounter/{output_id}",
        "score": 0.64, "label": "low", "priority": "routine", "threshold_in_effect": 0.7,
        "explanation": "lactate rising",
    })  # fmt: skip


def after_first_seal(monkeypatch: pytest.MonkeyPatch, ledger: Ledger, action: Callable[[], object]) -> list[int]:
    """Run ``action`` once, after ``ledger`` has sealed its first batch and before it takes the append lock.

    Returns a list that grows by one each time ``ledger`` seals for an append.
    """
    original = ledger.keys.for_sealing
    seals: list[int] = []

    def sealing(tokens: Any) -> tuple[dict[str, bytes | None], list[NewKey]]:
        found = original(tokens)
        seals.append(len(found[1]))
        if len(seals) == 1:
            action()
        return found

    monkeypatch.setattr(ledger.keys, "for_sealing", sealing)
    return seals


def key_rows(keys: Keys, token: str) -> int:
    return sum(1 for row in keys.vault.all() if row.subject == token)


def opened_patients(url: str) -> list[str]:
    with Ledger(env_settings(url)) as fresh:  # no cached key: every event opens with what the key table holds
        return [fresh.open(r).envelope["data"]["patient_ref"] for r in fresh.records()]


def test_the_writer_that_loses_the_race_for_a_new_patients_key_reseals_under_the_stored_one(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = "Patient/race-1"
    with Ledger(env_settings(store_url)) as a, Ledger(env_settings(store_url)) as b:
        seals = after_first_seal(monkeypatch, a, lambda: b.submit([generated(patient, "out-b")]))
        a.submit([generated(patient, "out-a")])
        assert seals == [1, 0]  # a fresh key the first time; the second time the stored one, no fresh key
        assert key_rows(a.keys, a.keys.token(f"patient:{patient}")) == 1
        assert verify_store(a).intact
    assert opened_patients(store_url) == [patient, patient]


def test_a_key_stored_outside_an_append_after_sealing_stops_the_append_on_the_tip(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer holds the chain head, so it appends on its tip in one step; the head does not
    # move (``facts`` stores the key in a transaction of its own), only the key table does.
    patient = "Patient/race-2"
    with Ledger(env_settings(store_url)) as a, Ledger(env_settings(store_url)) as b:
        a.submit([generated("Patient/earlier", "out-0")])
        event = validate_event(generated(patient, "out-b"))
        seals = after_first_seal(monkeypatch, a, lambda: b.facts([event]))
        a.submit([generated(patient, "out-a")])
        assert seals == [1, 0]
        assert key_rows(a.keys, a.keys.token(f"patient:{patient}")) == 1
    assert opened_patients(store_url) == ["Patient/earlier", patient]


def test_a_patient_erased_between_sealing_and_the_lock_is_refused_and_nothing_is_written(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = "Patient/race-3"

    def append_then_erase(b: Ledger) -> None:
        b.submit([generated(patient, "out-b")])
        erase(b, subject=f"patient:{patient}", legal_basis="gdpr_art17", actor=ACTOR)

    with Ledger(env_settings(store_url)) as a, Ledger(env_settings(store_url)) as b:
        after_first_seal(monkeypatch, a, lambda: append_then_erase(b))
        head = a.head_seq()
        with pytest.raises(InputError, match="has been erased"):
            a.submit([generated(patient, "out-a")])
        assert a.head_seq() == head + 2  # b's event and its erasure, nothing of a's


def test_the_key_of_a_failed_append_is_neither_stored_nor_cached(store_url: str) -> None:
    patient = "Patient/never-kept"
    with Ledger(env_settings(store_url)) as ledger:
        first = generated("Patient/earlier", "out-0")
        ledger.submit([first])
        changed = {**first, "data": {**first["data"], "score": 0.99}}
        with pytest.raises(EventConflict):
            ledger.submit([generated(patient, "out-1"), changed])
        token = ledger.keys.token(f"patient:{patient}")
        assert key_rows(ledger.keys, token) == 0
        ledger.submit([generated(patient, "out-2")])  # sealed under a key made now, and stored with it
        assert key_rows(ledger.keys, token) == 1
    assert opened_patients(store_url) == ["Patient/earlier", patient]


def test_two_writers_appending_the_same_new_patients_at_once_both_commit_and_every_event_opens(
    store_url: str,
) -> None:
    batches, per_batch = 15, 8
    start = threading.Barrier(2, timeout=30)
    failures: list[BaseException] = []

    def write(ledger: Ledger, name: str) -> None:
        try:
            start.wait()
            for i in range(batches):
                ledger.submit([generated(f"Patient/p-{i}-{j}", f"out-{name}-{i}-{j}") for j in range(per_batch)])
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)

    settings = env_settings(store_url)
    with Ledger(settings) as a, Ledger(settings) as b:  # opened one after the other: only the appends race
        threads = [threading.Thread(target=write, args=pair) for pair in ((a, "a"), (b, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    patients = opened_patients(store_url)
    assert sorted(patients) == sorted([f"Patient/p-{i}-{j}" for i in range(batches) for j in range(per_batch)] * 2)
    with Ledger(env_settings(store_url)) as ledger:
        rows = [r.subject for r in ledger.keys.vault.all()]
        assert len(rows) == len(set(rows)) == batches * per_batch + 1  # one key per patient, and the index key
        assert verify_store(ledger).intact
