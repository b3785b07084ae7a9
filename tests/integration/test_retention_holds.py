"""A retention run under an incident's legal hold: the log is read once for the run, and holds stay current.

A hold on an incident covers every subject sealed in the incident's events.
Finding those subjects reads the log; before, every erasure of a retention run
read all of it again, so a run erasing thousands of subjects read the log
thousands of times. The index reads it once, then only what is appended, and
asks for the holds in force (a few rows by topic) at every erasure.
"""

from __future__ import annotations

import pytest

from ledger.erasure import ErasureRefused, HoldIndex, erase, retention_due
from ledger.store import Ledger
from tests.factories import envelope
from tests.integration.test_key_race import ACTOR, generated
from tests.ledgers import env_settings

FAR_FUTURE = 2**62


def _incident(incident_id: str, patient: str) -> dict[str, object]:
    return envelope("incident.reported", {
        "incident_id": incident_id, "category": "false_negative", "output_ids": ["out-0"], "patient_ref": patient,
        "harm": "moderate_harm", "aware_at": "2026-04-09T11:30:00Z", "description": "found late",
    })  # fmt: skip


def _hold(hold_id: str, incident_id: str) -> dict[str, object]:
    return envelope("legal_hold.placed", {"hold_id": hold_id, "incident_id": incident_id, "authority": "counsel"})


def test_a_retention_run_reads_the_log_once_and_spares_the_held_incidents_patients(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated(f"Patient/ret-{i}", f"out-{i}") for i in range(20)])
        ledger.submit([_incident("INC-R1", "Patient/ret-3"), _hold("HOLD-R1", "INC-R1")])
        reads: list[int] = []
        records = Ledger.records

        def counted(self: Ledger, *, after_seq: int = 0, page: int = 5000):  # type: ignore[no-untyped-def]
            reads.append(after_seq)
            return records(self, after_seq=after_seq, page=page)

        monkeypatch.setattr(Ledger, "records", counted)
        holds = HoldIndex(ledger)
        due = retention_due(ledger, years=6, now_us=FAR_FUTURE, holds=holds)
        held = {d.token for d in due if d.held}
        assert held == {ledger.keys.token("patient:Patient/ret-3")}
        for item in (d for d in due if not d.held):
            erase(ledger, subject=f"token:{item.token}", legal_basis="retention_policy", actor=ACTOR, holds=holds)

        assert reads.count(0) == 2  # retention's own scan of last events, and the index's one full read
        assert all(after > 0 for after in reads if after) and len(reads) <= 2 + len(due)
        with pytest.raises(ErasureRefused, match="HOLD-R1"):
            erase(ledger, subject="patient:Patient/ret-3", legal_basis="retention_policy", actor=ACTOR, holds=holds)


def test_the_index_sees_events_and_holds_recorded_after_it_was_made(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated("Patient/late-1", "out-1"), generated("Patient/late-2", "out-2")])
        ledger.submit([_hold("HOLD-L1", "INC-L1")])  # a hold on an incident not reported yet
        holds = HoldIndex(ledger)
        assert holds.covering(ledger.keys.token("patient:Patient/late-1")) == []

        ledger.submit([_incident("INC-L1", "Patient/late-1")])  # the held incident now names the patient
        ledger.submit([_hold("HOLD-L2", "INC-L2"), _incident("INC-L2", "Patient/late-2")])

        assert holds.covering(ledger.keys.token("patient:Patient/late-1")) == ["HOLD-L1"]
        assert holds.covering(ledger.keys.token("patient:Patient/late-2")) == ["HOLD-L2"]
        ledger.submit([envelope("legal_hold.released", {"hold_id": "HOLD-L1", "authority": "counsel"})])
        assert holds.covering(ledger.keys.token("patient:Patient/late-1")) == []
