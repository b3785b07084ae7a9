"""An erasure cut off after its event was recorded and before the key was destroyed completes when run again.

Erasure records ``subject.erased`` (step 3), then destroys the key (step 4). A
crash or a lost database between the two leaves the log saying the subject was
erased while its key still opens its data. Running the erasure again must
finish the job, under the event already recorded, never refuse it as a
conflicting duplicate (the event's id is fixed by the subject; its time is not).
"""

from __future__ import annotations

import orjson
import pytest

from ledger import erasure
from ledger.erasure import ErasureRefused, erase
from ledger.errors import StoreUnavailable
from ledger.store import Ledger
from ledger.vault import Vault
from scripts.cli import main
from tests.integration.test_key_race import ACTOR, generated
from tests.ledgers import env_settings

PATIENT = "Patient/resume-1"


def _erased_events(ledger: Ledger) -> list[dict[str, object]]:
    return [orjson.loads(r.body) for r in ledger.records() if orjson.loads(r.body)["type"] == "subject.erased"]


def test_an_erasure_cut_off_before_the_key_was_destroyed_completes_when_run_again(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])

        def lost(self: Vault, token: str, *, erased_us: int) -> bool:
            raise StoreUnavailable("database unreachable: OSError")  # as if the process died here

        with monkeypatch.context() as patch:
            patch.setattr(Vault, "erase", lost)
            with pytest.raises(StoreUnavailable):
                erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR)
        recorded = _erased_events(ledger)
        assert len(recorded) == 1
        assert ledger.open(ledger.read(limit=1)[0]).envelope["data"]["patient_ref"] == PATIENT  # not erased yet

        done = erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR)

        assert done.key_destroyed and done.seq == ledger.get(str(recorded[0]["event_id"])).seq  # type: ignore[union-attr]
        assert _erased_events(ledger) == recorded  # the one event, unchanged
        assert ledger.open(ledger.read(limit=1)[0]).envelope["data"]["patient_ref"] == "[erased]"
        with pytest.raises(ErasureRefused, match="already erased"):
            erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR)


def test_the_dry_run_of_an_unfinished_erasure_says_it_would_finish_it(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        ledger.submit([erasure.erasure_event(token, kind="patient", legal_basis="gdpr_art17", actor=ACTOR)])
        plan = erase(ledger, subject=f"patient:{PATIENT}", legal_basis="gdpr_art17", actor=ACTOR, dry_run=True)
        assert not plan.key_destroyed and plan.seq == 2


def test_the_cli_says_it_finishes_an_unfinished_erasure(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(PATIENT, "out-1")])
        token = ledger.keys.token(f"patient:{PATIENT}")
        ledger.submit([erasure.erasure_event(token, kind="patient", legal_basis="gdpr_art17", actor=ACTOR)])
    argv = ["erase", "--subject", f"patient:{PATIENT}", "--basis", "gdpr_art17", "--database-url", store_url]
    assert main([*argv, "--dry-run"]) == 0
    assert "would finish erasing" in capsys.readouterr().err
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "finished erasing" in err and "recorded at seq 2" in err and PATIENT not in err
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.open(ledger.read(limit=1)[0]).envelope["data"]["patient_ref"] == "[erased]"
