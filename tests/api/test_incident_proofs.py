"""The proofs a reader's browser verifies an incident page with, and the keys the hospital publishes, on every store.

Checked here the way verify.js checks them (tests/e2e runs verify.js itself): the
checkpoint is opened with the key published at /v1/verifier-keys, each leaf is
recomputed from the entry's bytes, and each path must lead to the signed root.
"""

from __future__ import annotations

import base64
import dataclasses
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from ledger.config import DEFAULT_ORIGIN
from ledger.proof import merkle
from ledger.proof.checkpoint import open_checkpoint
from ledger.proof.keys import parse_keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests import sepsis_story as scenario
from tests.api.conftest import Keys, bearer
from tests.api.test_proofs import OPERATOR, sign_now
from tests.factories import shown
from tests.ledgers import env_settings

INCIDENT = "INC-2026-041"  # the demo story's incident
PATH = f"/v1/incidents/{INCIDENT}/proofs"


@pytest.fixture
def server_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The store's settings with this test's key and checkpoint folders; signing only when the test says."""
    (tmp_path / "checkpoints").mkdir()
    return dataclasses.replace(
        settings, keys_dir=str(tmp_path / "keys"), checkpoint_dir=str(tmp_path / "checkpoints"), checkpoint_interval_s=0
    )


def _story(
    store_url: str, settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient], *, sign: bool
) -> TestClient:
    """A signing key (seq 1), then the demo story through the API; a checkpoint of it all if ``sign``. The client."""
    keys_dir, checkpoint_dir = Path(str(settings.keys_dir)), Path(str(settings.checkpoint_dir))
    with Ledger(env_settings(store_url)) as ledger:  # the operator's own connection, as `ledger checkpoint` has
        KeyFolder(keys_dir).activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None)
        client = make_client(settings)
        posted = client.post("/v1/events/batch", json={"events": scenario.story()}, headers=bearer(keys.admin))
        assert posted.status_code == 201, posted.text
        if sign:
            sign_now(ledger, keys_dir, checkpoint_dir)
    return client


def _shown_seqs(client: TestClient, reader: dict[str, str]) -> set[int]:
    """Every evidence seq of the incident's timeline and accountability report, read as the pages read them."""
    found: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("seq"), int) and "event_id" in value:
                found.add(value["seq"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for suffix in ("timeline", "accountability"):
        response = client.get(f"/v1/incidents/{INCIDENT}/{suffix}", headers=reader)
        assert response.status_code == 200, response.text
        walk(response.json())
    return found


def test_every_event_the_incident_shows_is_proven_against_the_published_key(
    store_url: str, server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    """Each event named by the timeline or the report comes with its entry and a path to the signed root,
    which verifies under the key /v1/verifier-keys publishes (to any key holder, an emitter's too)."""
    client, reader = _story(store_url, server_settings, keys, make_client, sign=True), bearer(keys.reader)
    assert client.get("/v1/verifier-keys").status_code == 401
    published = client.get("/v1/verifier-keys", headers=bearer(keys.emitter))
    assert published.status_code == 200 and published.headers["content-type"].startswith("text/plain")
    keyring = parse_keyring(published.text)
    assert [k.label for k in keyring] == [k.label for k in KeyFolder(Path(str(server_settings.keys_dir))).keyring()]

    answer = client.get(PATH, headers=reader).json()

    checkpoint = open_checkpoint(answer["checkpoint"], keyring, origin=DEFAULT_ORIGIN)
    assert answer["tree_size"] == checkpoint.size
    assert [e["seq"] for e in answer["events"]] == sorted(_shown_seqs(client, reader))
    assert len(answer["events"]) >= 10
    for event in answer["events"]:
        entry = base64.b64decode(event["entry"], validate=True)
        assert struct.unpack(">Q", entry[:8])[0] == event["seq"]
        leaf = merkle.leaf_hash(entry)
        assert event["leaf_hash"] == leaf.hex()
        proof = [bytes.fromhex(node) for node in event["proof"]]
        merkle.verify_inclusion(
            index=event["seq"] - 1, size=checkpoint.size, leaf_hash=leaf, proof=proof, root=checkpoint.root_hash
        )


def test_an_event_recorded_after_the_latest_checkpoint_has_no_proof_yet(
    store_url: str, server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    """Without any checkpoint, every event is listed with its entry and a null proof, and the checkpoint is null."""
    client = _story(store_url, server_settings, keys, make_client, sign=False)
    answer = client.get(PATH, headers=bearer(keys.reader)).json()
    assert answer["checkpoint"] is None and answer["tree_size"] is None
    assert answer["events"] and all(e["proof"] is None and e["entry"] for e in answer["events"])


def test_proofs_of_an_unknown_incident_are_a_404_and_a_malformed_id_a_422(
    store_url: str, server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    """The route says what it cannot answer, never a 500, and never echoes the id."""
    client, reader = _story(store_url, server_settings, keys, make_client, sign=True), bearer(keys.reader)
    missing = client.get("/v1/incidents/INC-NOBODY-7/proofs", headers=reader)
    assert missing.status_code == 404 and "INC-NOBODY-7" not in missing.text
    assert client.get("/v1/incidents/%20bad%20/proofs", headers=reader).status_code == 422


def test_the_verifier_keys_are_a_404_before_any_key_is_generated(
    server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    """No key folder yet: nothing is published, and the answer says so rather than an empty list."""
    client = make_client(server_settings)
    response = client.get("/v1/verifier-keys", headers=bearer(keys.reader))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_new_event_is_listed_with_a_null_proof_until_the_next_checkpoint(
    store_url: str, server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    """An output shown after the checkpoint, named by the incident, has its entry but no proof yet."""
    client, reader = _story(store_url, server_settings, keys, make_client, sign=True), bearer(keys.reader)
    size = client.get(PATH, headers=reader).json()["tree_size"]
    late = shown(output_id="out-ed-1001")  # the incident's output, shown again
    posted = client.post("/v1/events", json=late, headers=bearer(keys.emitter))
    assert posted.status_code == 201, posted.text
    events = {e["seq"]: e for e in client.get(PATH, headers=reader).json()["events"]}
    assert events[size + 1]["proof"] is None
    assert all(e["proof"] for seq, e in events.items() if seq <= size)
