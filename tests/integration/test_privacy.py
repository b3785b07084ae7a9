"""Patient privacy in an immutable ledger, on both stores: sealed at rest, erasable, held, rotatable."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ledger.audit import verify_store
from ledger.erasure import ErasureRefused, erase, retention_due, rotate_master_key
from ledger.errors import IntegrityError, KeyNotConfigured
from ledger.privacy import ERASED, INDEX_SUBJECT, LocalMasterKey
from ledger.proof.bundle import parse_bundle, verify_bundle
from ledger.proof.keys import parse_keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests.conftest import PG_ADMIN_URL
from tests.factories import envelope
from tests.ledgers import env_settings

PATIENT = "Patient/SECRET-PT-9931"
ENCOUNTER = "Encounter/SECRET-ENC-5521"
COMMENT = "SECRET-COMMENT tachycardia explained by pain"
DESCRIPTION = "SECRET-DESCRIPTION sepsis found six hours late"
MARKERS = [PATIENT, ENCOUNTER, COMMENT, DESCRIPTION, "SECRET-PT-9931", "SECRET-COMMENT"]
ACTOR = {"id": "privacy-officer", "role": "privacy_officer", "kind": "person"}


def story() -> list[dict[str, object]]:
    generated = envelope("output.generated", {
        "output_id": "out-p1", "tool_id": "sepsis-watch", "model_version": "3.2.0", "site": "northside",
        "unit": "ed", "population": "adults_18_plus", "patient_ref": PATIENT, "encounter_ref": ENCOUNTER,
        "score": 0.64, "label": "low", "priority": "routine", "threshold_in_effect": 0.7,
        "explanation": "SECRET-COMMENT lactate rising",
    })  # fmt: skip
    acted = envelope("output.acted", {"output_id": "out-p1", "clinician_id": "clin-bob", "action": "overridden",
                                       "reason_code": "clinical_judgement", "comment": COMMENT})  # fmt: skip
    incident = envelope("incident.reported", {
        "incident_id": "INC-P1", "category": "false_negative", "output_ids": ["out-p1"], "patient_ref": PATIENT,
        "harm": "moderate_harm", "aware_at": "2026-04-09T11:30:00Z", "description": DESCRIPTION,
    })  # fmt: skip
    return [generated, acted, incident]


@pytest.fixture
def filled(store_url: str) -> str:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(story())
    return store_url


def raw_database_bytes(url: str, tmp_path: Path) -> bytes:
    """Everything the database holds, as an attacker who copies it would see it."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    schema = url.split("schema=")[1]
    dump = subprocess.run(["pg_dump", "--schema", schema, PG_ADMIN_URL], capture_output=True, check=True)
    return dump.stdout


def test_no_clear_patient_reference_or_free_text_is_stored(filled: str, tmp_path: Path) -> None:
    raw = raw_database_bytes(filled, tmp_path)
    assert len(raw) > 1000
    for marker in MARKERS:
        assert marker.encode() not in raw, marker
        assert base64.b64encode(marker.encode()) not in raw
    with Ledger(env_settings(filled)) as ledger:
        for record in ledger.records():
            assert not any(marker.encode() in record.body for marker in MARKERS)


def test_sealed_fields_open_with_the_key_and_lookup_uses_a_token(filled: str) -> None:
    with Ledger(env_settings(filled)) as ledger:
        first = ledger.read(limit=1)[0]
        opened = ledger.open(first)
        assert opened.envelope["data"]["patient_ref"] == PATIENT
        token = ledger.keys.token(f"patient:{PATIENT}")
        assert opened.subjects["patient_ref"] == token and PATIENT not in token
        assert ledger.open(first, reveal=False).envelope["data"]["patient_ref"] == "[sealed]"


def test_an_erased_lookup_token_key_is_an_integrity_error_not_new_tokens(sqlite_url: str) -> None:
    # Only an edit of the key table can empty it; fresh tokens would orphan every patient lookup.
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(story())
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ledger_subject_keys SET wrapped = NULL WHERE subject = ?", (INDEX_SUBJECT,))
    settings = env_settings(sqlite_url)
    with Ledger(settings) as ledger, pytest.raises(IntegrityError, match="lookup-token key has been erased"):
        ledger.keys.token(f"patient:{PATIENT}")


def test_retrying_sealed_events_returns_the_original_receipts(store_url: str) -> None:
    events = story()
    with Ledger(env_settings(store_url)) as ledger:
        first = ledger.submit(events)
    with Ledger(env_settings(store_url)) as ledger:  # another process: sealing is deterministic, so the bytes match
        again = ledger.submit(events)
    assert [(r.seq, r.hash, r.created) for r in again] == [(r.seq, r.hash, False) for r in first]


def test_after_erasure_everything_verifies_and_reads_as_erased(filled: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with Ledger(env_settings(filled)) as ledger:
        KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None)
    bundle_file = tmp_path / "before.json"
    export = ["export", "--incident", "INC-P1", "--database-url", filled, "--keys-dir", str(keys),
              "--checkpoint-dir", str(tmp_path / "cp"), "--output", str(bundle_file)]  # fmt: skip
    assert main(export) == 0
    with Ledger(env_settings(filled)) as ledger:
        done = erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR)
        assert done.key_destroyed
    trusted = parse_keyring((keys / "trusted.keys").read_text())
    with Ledger(env_settings(filled)) as ledger:  # a fresh process: no cached key
        assert verify_store(ledger, keyring=trusted).intact
        data = ledger.open(ledger.read(limit=1)[0]).envelope["data"]
        assert data["patient_ref"] == ERASED and data["explanation"] == ERASED and data["score"] == 0.64
        acted = ledger.open(ledger.read(after_seq=1, limit=1)[0]).envelope["data"]
        assert acted["comment"] == COMMENT  # the clinician's comment is the clinician's, not erased with the patient
    verify_args = [
        "verify",
        "--database-url",
        filled,
        "--keys-dir",
        str(keys),
        "--checkpoint-dir",
        str(tmp_path / "cp"),
    ]
    assert main(verify_args) == 0
    assert verify_bundle(parse_bundle(bundle_file.read_bytes()), trusted=trusted).ok


def test_erasure_under_a_legal_hold_is_refused_until_released(filled: str) -> None:
    hold = {"hold_id": "HOLD-1", "incident_id": "INC-P1", "authority": "litigation_counsel"}
    with Ledger(env_settings(filled)) as ledger:
        ledger.submit([envelope("legal_hold.placed", hold)])
        with pytest.raises(ErasureRefused, match=r"under legal hold \(HOLD-1\)"):
            erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR)
        assert ledger.open(ledger.read(limit=1)[0]).envelope["data"]["patient_ref"] == PATIENT
        release = {"hold_id": "HOLD-1", "authority": "litigation_counsel"}
        ledger.submit([envelope("legal_hold.released", release)])
        assert erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR).key_destroyed


def test_a_hold_on_the_subject_itself_blocks_its_erasure(filled: str) -> None:
    with Ledger(env_settings(filled)) as ledger:
        token = ledger.keys.token("clinician:clin-bob")
        ledger.submit([envelope("legal_hold.placed", {"hold_id": "H2", "subject": token, "authority": "counsel"})])
        with pytest.raises(ErasureRefused, match="H2"):
            erase(ledger, subject="clinician:clin-bob", legal_basis="gdpr_art17", actor=ACTOR)


def test_retention_lists_what_is_due_and_names_holds(filled: str) -> None:
    with Ledger(env_settings(filled)) as ledger:
        assert retention_due(ledger, years=6) == []
        due = retention_due(ledger, years=6, now_us=2**62)
        assert {d.token for d in due} == {ledger.keys.token(f"patient:{PATIENT}"),
                                          ledger.keys.token("clinician:clin-bob")}  # fmt: skip


def test_master_key_rotation_rewraps_keys_and_touches_no_event(filled: str, tmp_path: Path) -> None:
    with Ledger(env_settings(filled)) as ledger:
        before = [(r.seq, r.hash, r.body) for r in ledger.records()]
        new = LocalMasterKey.create(tmp_path / "new.key")
        rotation = rotate_master_key(ledger, new, actor=ACTOR)
        assert rotation.rewrapped >= 3 and rotation.remaining == {}
    with Ledger(env_settings(filled), master_key=new) as ledger:
        after = [(r.seq, r.hash, r.body) for r in ledger.records()]
        assert after[: len(before)] == before
        assert ledger.open(ledger.read(limit=1)[0]).envelope["data"]["patient_ref"] == PATIENT
        assert verify_store(ledger).intact
    settings = env_settings(filled)
    with pytest.raises(KeyNotConfigured, match="which is not configured"), Ledger(settings) as stale:  # the old key
        stale.open(stale.read(limit=1)[0])


def test_cli_erase_refuses_clearly_and_exits_2(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["erase", "--subject", "patient:Patient/NOBODY", "--basis", "gdpr_art17",
                 "--database-url", filled]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "nothing to erase" in err and "NOBODY" not in err
