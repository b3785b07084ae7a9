"""The readers of the ledger's control facts believe only what the ledger recorded itself.

Holds, erasures and key activations steer the ledger: a hold forbids an
erasure, a recorded erasure is finished by the next run, a recorded activation
is completed by the next rotation. Since the control-plane rule
(ledger.catalogue.control) no such event of another source can be appended, but
a ledger older than the rule may hold some: an emitter's forgeries. Each test
plants one the way that older version stored it (canonical bytes appended as a
fact, with no catalogue rule in the way) and shows the reader ignores it, on
both stores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.catalogue import RESERVED_SOURCE, canonical_bytes, validate_event
from ledger.erasure import ErasureRefused, erase, erasure_event, holds_in_force
from ledger.errors import EventConflict, InvalidEvent
from ledger.proof.keys import format_key_id, format_verifier_key, generate
from ledger.signing import KeyFolder, key_activations
from ledger.store import Ledger
from ledger.store.app import Fact
from ledger.store.records import event_uuid
from scripts.cli import main
from scripts.trust import recorded_keyring
from tests.factories import envelope
from tests.integration.test_key_race import ACTOR, generated
from tests.ledgers import env_settings

PATIENT = "Patient/control-1"
FOREIGN = "ehr.epic-prod"


def plant(ledger: Ledger, raw: dict[str, Any], *, source: str = FOREIGN) -> int:
    """Store ``raw`` under ``source`` as a ledger older than the control-plane rule would have: its seq."""
    event = validate_event({**raw, "source": RESERVED_SOURCE}).model_copy(update={"source": source})
    fact = Fact(event_uuid(event.event_id), 1, event.type, canonical_bytes(event))
    return ledger.append_facts([fact])[0].seq


def _erase(ledger: Ledger) -> bool:
    return erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR).key_destroyed


def _revealed(ledger: Ledger) -> object:
    return ledger.open(ledger.read(limit=1)[0]).envelope["data"]["patient_ref"]


def test_the_catalogue_refuses_a_control_event_of_another_source_even_on_the_ledgers_own_path(store_url: str) -> None:
    hold = envelope("legal_hold.placed", {"hold_id": "H-0", "subject": "0" * 32, "authority": "c"}, source=FOREIGN)
    with Ledger(env_settings(store_url)) as ledger:
        with pytest.raises(InvalidEvent, match="event 0: source: a control event's source must be"):
            ledger.submit([hold])
        assert ledger.head_seq() == 0


def test_a_release_of_another_source_does_not_lift_the_ledgers_hold(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        ledger.submit([envelope("legal_hold.placed", {"hold_id": "HOLD-C", "subject": token, "authority": "counsel"})])
        plant(ledger, envelope("legal_hold.released", {"hold_id": "HOLD-C", "authority": "counsel"}))
        assert [h.hold_id for h in holds_in_force(ledger)] == ["HOLD-C"]
        with pytest.raises(ErasureRefused, match=r"under legal hold \(HOLD-C\)"):
            _erase(ledger)
        assert _revealed(ledger) == PATIENT


def test_a_hold_of_another_source_does_not_block_a_lawful_erasure(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        plant(ledger, envelope("legal_hold.placed", {"hold_id": "HOLD-F", "subject": token, "authority": "counsel"}))
        assert holds_in_force(ledger) == []
        assert _erase(ledger)
        assert _revealed(ledger) == "[erased]"


def test_an_erasure_record_of_another_source_is_a_conflict_not_a_finished_erasure(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        forged = erasure_event(token, kind="patient", legal_basis="gdpr_art17", actor=ACTOR)
        seq = plant(ledger, forged)
        with pytest.raises(EventConflict, match=f"at seq {seq}"):
            _erase(ledger)
        with pytest.raises(EventConflict):
            erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR, dry_run=True)
        assert _revealed(ledger) == PATIENT  # the key was not destroyed under the forged record
        assert ledger.head_seq() == seq


def test_another_event_under_the_erasures_id_is_a_conflict_not_a_finished_erasure(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        squatter = generated("Patient/other", "out-2")  # any emitter may choose any event_id
        squatter["event_id"] = erasure_event(token, kind="patient", legal_basis="x_basis", actor=ACTOR)["event_id"]
        ledger.submit([squatter])
        with pytest.raises(EventConflict):
            _erase(ledger)
        assert _revealed(ledger) == PATIENT


def test_the_ledgers_own_erasure_record_is_still_finished_by_the_next_run(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        recorded = ledger.submit([erasure_event(token, kind="patient", legal_basis="gdpr_art17", actor=ACTOR)])[0]
        done = erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR)
        assert done.resumed and done.key_destroyed and done.seq == recorded.seq


def _rotate(store_url: str, keys: Path, action: str, name: str) -> int:
    return main(["signing-keys", action, "--name", name, "--database-url", store_url, "--keys-dir", str(keys)])


def test_an_activation_of_another_source_does_not_bring_a_retired_key_back(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert _rotate(store_url, keys, "generate", "ledger.one.example") == 0
    with Ledger(env_settings(store_url)) as ledger:
        retired_file = next(keys.glob("*.key"))
        first = orjson.loads(key_activations(ledger)[-1].body)
    assert _rotate(store_url, keys, "rotate", "ledger.two.example") == 0
    second_file = (keys / "active").read_text().strip()
    with Ledger(env_settings(store_url)) as ledger:
        plant(ledger, envelope("ledger.signing_key_activated", first["data"]))  # names the retired key
        assert [orjson.loads(r.body)["source"] for r in key_activations(ledger)] == [RESERVED_SOURCE] * 2
    capsys.readouterr()
    assert _rotate(store_url, keys, "rotate", "ledger.three.example") == 0
    assert "finish" not in capsys.readouterr().err.lower()
    active = (keys / "active").read_text().strip()
    assert active not in (retired_file.name, second_file)
    assert KeyFolder(keys).active_key().name == "ledger.three.example"


def test_events_of_types_reads_only_those_types_in_seq_order_across_pages(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(f"Patient/p-{i}", f"out-{i}") for i in range(3)])
        holds = [envelope("legal_hold.placed", {"hold_id": f"H-{i}", "subject": "0" * 32, "authority": "c"})
                 for i in range(5)]  # fmt: skip
        for hold in holds:
            ledger.submit([hold, generated("Patient/between", f"out-b-{hold['data']['hold_id']}")])
        found = list(ledger.events_of_types(["legal_hold.placed", "legal_hold.released"], page=2))
        assert [r.event_id for r in found] == [h["event_id"] for h in holds]
        assert [r.seq for r in found] == sorted(r.seq for r in found)
        after = list(ledger.events_of_types(["legal_hold.placed"], after_seq=found[2].seq))
        assert [r.event_id for r in after] == [h["event_id"] for h in holds[3:]]
        assert list(ledger.events_of_types(["subject.erased"])) == []
        with pytest.raises(ValueError, match="at least one event type"):
            list(ledger.events_of_types([]))


def test_verify_falling_back_to_the_logs_keys_trusts_no_activation_of_another_source(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert _rotate(store_url, keys, "generate", "ledger.one.example") == 0
    own = KeyFolder(keys).active_key().verifier()
    forged = generate("ledger.one.example").verifier()  # the forger's key, under the ledger's key name
    key_id, verifier_key = format_key_id(forged.key_id), format_verifier_key(forged)
    data = {"key_name": forged.name, "key_id": key_id, "verifier_key": verifier_key}
    with Ledger(env_settings(store_url)) as ledger:
        plant(ledger, envelope("ledger.signing_key_activated", data))
        keyring = recorded_keyring(ledger)  # what verify falls back to with no trusted.keys to hand
    assert keyring is not None and keyring.lookup(own.name, own.key_id) == own
    assert keyring.lookup(forged.name, forged.key_id) is None
