"""The sealed form of an event, byte for byte: what docs/privacy.md promises a reader of the raw log."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from ledger.catalogue import EXAMPLES, sensitive_fields, validate_event
from ledger.errors import InputError
from ledger.privacy import Keys, LocalMasterKey, Sealer, subject_of
from ledger.proof.sealed import open_event
from ledger.store import Ledger
from tests.ledgers import env_settings

MASTER = LocalMasterKey(bytes(range(32)))


@pytest.fixture
def keys(tmp_path: Path) -> Any:
    with Ledger(env_settings(f"sqlite:///{tmp_path}/ledger.sqlite3"), master_key=MASTER) as ledger:
        yield ledger.keys


def canonical(event_type: str) -> dict[str, Any]:
    return validate_event(copy.deepcopy(EXAMPLES[event_type])).to_canonical_dict()


def expected_sealing(keys: Keys, event: dict[str, Any]) -> dict[str, Any]:
    """The documented form, computed independently: one AES-256-GCM-SIV over the fields in catalogue order."""
    data = event["data"]
    fields = [f for f in sensitive_fields(event["type"]) if f in data]
    subject = subject_of(event["type"], data, event_id=event["event_id"], actor_id=event["actor"]["id"])
    token = keys.token(subject)
    key = keys.data_keys([token], create=False)[token]
    assert key is not None
    aad = f"{event['event_id']}\x00{fields[0]}\x00{token}".encode()
    ciphertext = AESGCMSIV(key).encrypt(bytes(12), orjson.dumps({f: data[f] for f in fields}), aad)
    kinds = {f: "array" if isinstance(data[f], list) else "string" for f in fields}
    sealed = dict(data)
    sealed[fields[0]] = {"as": kinds[fields[0]], "sealed": base64.b64encode(ciphertext).decode(), "subject": token}
    sealed.update({f: {"as": kinds[f], "sealed_with": fields[0]} for f in fields[1:]})
    return {**event, "data": sealed}


@pytest.mark.parametrize("event_type", ["output.generated", "incident.reported", "incident.reviewed", "output.acted"])
def test_sealing_gives_exactly_the_documented_bytes(keys: Keys, event_type: str) -> None:
    event = canonical(event_type)
    (sealed,) = Sealer(keys).seal_all([event])
    assert orjson.dumps(sealed, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        expected_sealing(keys, event), option=orjson.OPT_SORT_KEYS
    )


def test_sealing_leaves_its_input_and_events_without_sensitive_fields_as_they_were(keys: Keys) -> None:
    events = [canonical("output.generated"), canonical("output.shown")]
    before = copy.deepcopy(events)
    sealed = Sealer(keys).seal_all(events)
    assert events == before
    assert sealed[1] == before[1]
    assert sealed[0]["data"]["explanation"] == {"as": "string", "sealed_with": "patient_ref"}


def test_a_batch_seals_each_event_under_its_own_subject_and_opens_back(keys: Keys) -> None:
    events = [canonical("output.generated") for _ in range(3)]
    for i, event in enumerate(events):
        event["event_id"] = f"6f1c2b7e-3d4a-4c8e-9a10-00000000010{i}"
        event["data"]["patient_ref"] = f"Patient/p-{i % 2}"
    sealed = Sealer(keys).seal_all(events)
    tokens = [s["data"]["patient_ref"]["subject"] for s in sealed]
    assert tokens[0] == tokens[2] != tokens[1]
    for event, stored in zip(events, sealed, strict=True):
        assert open_event(orjson.dumps(stored), keys).envelope["data"] == event["data"]


def test_an_erased_subject_cannot_be_sealed_again(keys: Keys) -> None:
    event = canonical("output.generated")
    (sealed,) = Sealer(keys).seal_all([event])
    token = sealed["data"]["patient_ref"]["subject"]
    keys.vault.erase(token, erased_us=1)
    keys.forget(token)
    with pytest.raises(InputError, match="has been erased"):
        Sealer(keys).seal_all([event])
