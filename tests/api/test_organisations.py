"""Several organisation ledgers in one deployment (api.organisations, ledger.organisations).

Three hospitals, each with its own ledger (database, signing key, checkpoint
folder, origin), and the deployment's top-level ledger, served by one app.
Emitters are routed by their key's organisation; one organisation's key cannot
write into another's ledger (403 naming ``organisation``); each ledger verifies
on its own; and the top-level ledger's record of the members' checkpoints
verifies against each member's key and log, and catches a checkpoint recorded
under the wrong member.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.organisations import create_deployment_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.audit import verify_store
from ledger.catalogue import RESERVED_SOURCE
from ledger.checkpointing import make_checkpoint
from ledger.organisations import Deployment, Member, recorded_checkpoints, verify_heads
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.api.conftest import EMITTER_SOURCE, bearer
from tests.factories import many_shown, shown
from tests.ledgers import env_settings

ORGANISATIONS = ("northside", "riverside", "hillcrest")
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@dataclass
class Network:
    """The deployment's app, each organisation's emitter token, and a way to open any of its ledgers."""

    client: TestClient
    tokens: dict[str, str]
    deployment: Deployment
    urls: dict[str, str]
    origins: dict[str, str]
    folders: dict[str, Path]

    def ledger(self, name: str) -> Ledger:
        return Ledger(env_settings(self.urls[name]))

    def sign(self, name: str) -> int:
        """Sign the organisation's head with its own key, into its own folder; the size signed."""
        with self.ledger(name) as ledger:
            key = KeyFolder(self.folders[name] / "keys").active_key()
            folder = CheckpointDirectory(self.folders[name] / "checkpoints")
            signed = make_checkpoint(ledger, key, origin=self.origins[name], folder=folder)
            assert signed is not None
            return signed.checkpoint.size


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """Three organisations and a top-level ledger on SQLite, each with its signing key and an emitter key."""
    names = (*ORGANISATIONS, "top")
    urls = {name: f"sqlite:///{tmp_path}/{name}.sqlite3" for name in names}
    origins = {name: f"ledger.{name}.example/ledger" for name in names}
    folders = {name: tmp_path / f"{name}.d" for name in names}
    tokens = {}
    for name in names:
        (folders[name] / "checkpoints").mkdir(parents=True)
        with Ledger(env_settings(urls[name])) as ledger:
            KeyFolder(folders[name] / "keys").activate_new(f"ledger.{name}", ledger=ledger, actor=OPERATOR, reason=None)
        store = KeyStore(urls[name])
        tokens[name] = store.create(Role.EMITTER, source=EMITTER_SOURCE, label=f"{name} emitter").token
        store.close()
    entry = {
        name: {"database_url": urls[name], "state_dir": str(folders[name]), "origin": origins[name]} for name in names
    }
    deployment = Deployment.from_json(
        orjson.dumps({"top": entry["top"], "organisations": {n: entry[n] for n in ORGANISATIONS}})
    )
    app = create_deployment_app(deployment, Settings(checkpoint_interval_s=0, key_cache_s=0))
    with TestClient(app) as client:
        yield Network(client, tokens, deployment, urls, origins, folders)


def _event_ids(network: Network, name: str) -> set[str]:
    with network.ledger(name) as ledger:
        return {record.event_id for record in ledger.records()}


def test_emitters_are_routed_by_their_keys_organisation_and_each_ledger_verifies_on_its_own(network: Network) -> None:
    """An append to /v1/events lands in the ledger of the key's organisation, and only there; each
    organisation's ledger then verifies on its own, with its own keys and checkpoints."""
    sent: dict[str, set[str]] = {}
    for name in ORGANISATIONS:
        events = many_shown(3, prefix=name)
        single = network.client.post("/v1/events", json=events[0], headers=bearer(network.tokens[name]))
        batch = network.client.post(
            "/v1/events/batch", json={"events": events[1:]}, headers=bearer(network.tokens[name])
        )
        assert (single.status_code, batch.status_code) == (201, 201), (single.text, batch.text)
        sent[name] = {e["event_id"] for e in events}
    for name in ORGANISATIONS:
        held = _event_ids(network, name)
        assert sent[name] <= held
        assert not held & set().union(*(sent[other] for other in ORGANISATIONS if other != name))
        network.sign(name)
        with network.ledger(name) as ledger:
            keyring = KeyFolder(network.folders[name] / "keys").keyring()
            report = verify_store(ledger, keyring=keyring, origin=network.origins[name])
        assert report.intact, report.findings
        assert report.checkpoints_checked == 1


def test_an_emitter_of_one_organisation_cannot_write_into_anothers_ledger(network: Network) -> None:
    """northside's key, sent to riverside's ledger, is refused with 403 naming `organisation`, and riverside's
    log is unchanged; at its own organisation's path the same key appends."""
    before = _event_ids(network, "riverside")
    event = shown("out-cross", event_id=str(uuid.uuid4()))
    refused = network.client.post("/orgs/riverside/v1/events", json=event, headers=bearer(network.tokens["northside"]))
    assert refused.status_code == 403
    assert [e["loc"] for e in refused.json()["errors"]] == ["organisation"]
    assert "organisation" in refused.json()["message"]
    assert _event_ids(network, "riverside") == before
    own = network.client.post("/orgs/northside/v1/events", json=event, headers=bearer(network.tokens["northside"]))
    assert own.status_code == 201
    assert event["event_id"] in _event_ids(network, "northside")
    unknown = network.client.post("/v1/events", json=event, headers=bearer("lk_nobody_" + "0" * 64))
    assert unknown.status_code == 401
    nowhere = network.client.get("/orgs/elsewhere/v1/log", headers=bearer(network.tokens["northside"]))
    assert nowhere.status_code == 404


def test_the_top_level_ledger_records_every_members_checkpoints_and_the_record_verifies(network: Network) -> None:
    """Checkpoints signed by each member, twice, are recorded once each in the top-level ledger (recording again
    adds nothing); every record verifies (signature, root, consistency with the member's log and its previous
    checkpoint); the top-level ledger verifies on its own; a member's checkpoint recorded under another member
    is caught."""
    router = network.client.app.app.state.router  # type: ignore[attr-defined]
    for round_ in range(2):
        for name in ORGANISATIONS:
            events = many_shown(2, prefix=f"{name}-{round_}")
            answer = network.client.post(
                "/v1/events/batch", json={"events": events}, headers=bearer(network.tokens[name])
            )
            assert answer.status_code == 201
            network.sign(name)
        assert router.record_heads_now() == len(ORGANISATIONS)
    assert router.record_heads_now() == 0
    ledgers = {name: network.ledger(name) for name in (*ORGANISATIONS, "top")}
    try:
        members = {
            name: Member(ledgers[name], KeyFolder(network.folders[name] / "keys").keyring(), network.origins[name])
            for name in ORGANISATIONS
        }
        top = ledgers["top"]
        assert len(recorded_checkpoints(top)) == 2 * len(ORGANISATIONS)
        assert verify_heads(top, members) == []
        assert verify_store(top).intact
        # A riverside checkpoint recorded as northside's: the signature does not verify under northside's keys.
        forged = recorded_checkpoints(top)[-1]
        top.submit([_recorded_as("northside", forged.note, forged.tree_size, forged.root_hash)])
        problems = verify_heads(top, members)
        assert len(problems) == 1 and "(northside, size" in problems[0] and "does not verify" in problems[0]
    finally:
        for ledger in ledgers.values():
            ledger.close()


def _recorded_as(organisation: str, note: str, size: int, root: str) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "ledger.organisation_checkpoint_recorded",
        "occurred_at": "2026-07-04T00:00:00Z",
        "source": RESERVED_SOURCE,
        "actor": {"id": "ledger", "role": "ledger_operator", "kind": "system"},
        "data": {
            "organisation": organisation,
            "origin": note.split("\n", 1)[0],
            "tree_size": size,
            "root_hash": root,
            "checkpoint": note,
        },
    }
