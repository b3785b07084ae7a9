"""An erasure made by another process (``ledger erase`` beside a running server) is honoured by this one.

Each process caches subjects' data keys. A process that had a key cached kept
revealing an erased subject's fields, and kept sealing new events under the
destroyed key, until it restarted.
"""

from __future__ import annotations

import pytest

from ledger import privacy
from ledger.erasure import erase
from ledger.errors import InputError
from ledger.store import Ledger
from tests.integration.test_key_race import ACTOR, generated


def test_a_subject_erased_by_another_process_is_not_revealed_by_one_that_cached_its_key(store_url: str) -> None:
    with Ledger(store_url) as server, Ledger(store_url) as command:
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
    with Ledger(store_url) as server, Ledger(store_url) as command:
        server.submit([generated("Patient/el-2", "out-1")])  # the key is now cached by the server
        erase(command, subject="patient:Patient/el-2", legal_basis="gdpr_art17", actor=ACTOR)
        with pytest.raises(InputError, match="erased"):
            server.submit([generated("Patient/el-2", "out-2")])
        assert server.head_seq() == 2  # the event and the erasure, nothing more
