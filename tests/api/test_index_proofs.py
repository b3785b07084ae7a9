"""GET /v1/proofs/index on every store: the completeness proof for a key, checked as an auditor checks it.

Nothing the server says is taken on trust: the ``index.committed`` entry is
re-framed from its bytes and proven against a checkpoint opened with the trusted
keys, the index root is read from that entry's own bytes, and the seqs a proof
names are compared with those found by reading the whole raw log.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.checkpointing import make_checkpoint
from ledger.config import DEFAULT_ORIGIN
from ledger.proof import merkle
from ledger.proof.checkpoint import CheckpointDirectory, open_checkpoint
from ledger.proof.index import parse_index_proof, verify_index_proof
from ledger.proof.keys import Keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests import sepsis_story as scenario
from tests.api.conftest import Keys, bearer
from tests.attacker import Attacker
from tests.factories import many_shown
from tests.ledgers import env_settings

INCIDENT = "INC-2026-041"  # the demo story's incident
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}
ROUTE = "/v1/proofs/index"


@dataclass(frozen=True)
class Indexed:
    """A server over the demo story, its index committed twice, each time under a signed checkpoint."""

    client: TestClient
    auditor: dict[str, str]
    keyring: Keyring
    folder: CheckpointDirectory
    bodies: dict[int, dict[str, Any]]  # every entry's event, parsed, by seq
    committed: list[int]  # the sizes the index was committed at

    def get(self, **params: Any) -> Any:
        return self.client.get(ROUTE, params=params, headers=self.auditor)

    def naming(self, field: str, value: str, *, size: int) -> list[int]:
        """The seqs whose event's data has ``field`` = ``value``, among the first ``size``: read off the raw log."""
        return [s for s, body in sorted(self.bodies.items()) if s <= size and body["data"].get(field) == value]


@pytest.fixture
def indexed(store_url: str, settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient],
            tmp_path: Path) -> Indexed:  # fmt: skip
    """The demo story and a key (20 entries), a checkpoint committing the index; 5 more events, another."""
    keys_dir, checkpoint_dir = tmp_path / "keys", tmp_path / "checkpoints"
    checkpoint_dir.mkdir()
    folder = CheckpointDirectory(checkpoint_dir)
    committed = []
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(scenario.story())
        KeyFolder(keys_dir).activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None)
        key = KeyFolder(keys_dir).active_key()
        for events in ([], many_shown(5, prefix="late")):
            if events:
                ledger.submit(events)
            committed.append(ledger.head_seq())
            signed = make_checkpoint(ledger, key, origin=DEFAULT_ORIGIN, folder=folder, index=True)
            assert signed is not None and signed.checkpoint.size == committed[-1] + 1  # covers index.committed
        bodies = {r.seq: json.loads(r.body) for r in ledger.records()}
    server = dataclasses.replace(settings, keys_dir=str(keys_dir), checkpoint_dir=str(checkpoint_dir),
                                 checkpoint_interval_s=0)  # fmt: skip
    client = make_client(server)
    return Indexed(client, bearer(keys.auditor), KeyFolder(keys_dir).keyring(), folder, bodies, committed)


def verified(indexed: Indexed, answer: dict[str, Any]) -> tuple[int, list[int]]:
    """(the size the index was committed at, the key's seqs), once the answer verifies as an auditor checks it."""
    checkpoint = open_checkpoint(indexed.folder.read(answer["checkpoint_size"]), indexed.keyring, origin=DEFAULT_ORIGIN)
    commit = answer["commit"]
    body = base64.b64decode(commit["event"])
    entry = struct.pack(">Qq", commit["seq"], commit["recorded_us"]) + body
    path = [bytes.fromhex(h) for h in commit["inclusion_proof"]]
    merkle.verify_inclusion(index=commit["seq"] - 1, size=checkpoint.size, leaf_hash=merkle.leaf_hash(entry),
                            proof=path, root=checkpoint.root_hash)  # fmt: skip
    event = json.loads(body)
    assert (event["type"], event["source"]) == ("index.committed", "ledger")
    proof = parse_index_proof(answer["proof"], "proof")
    assert proof.tree_size == event["data"]["tree_size"]
    return proof.tree_size, verify_index_proof(proof, root=bytes.fromhex(event["data"]["root"]))


def test_the_latest_index_proof_verifies_and_lists_every_event_naming_the_incident(indexed: Indexed) -> None:
    response = indexed.get(key=f"incident:{INCIDENT}")
    assert response.status_code == 200, response.text
    size, seqs = verified(indexed, response.json())
    assert size == indexed.committed[-1] and response.json()["checkpoint_size"] == size + 1
    assert seqs == indexed.naming("incident_id", INCIDENT, size=size) and len(seqs) == 7


def test_an_earlier_committed_size_proves_the_list_as_of_that_size(indexed: Indexed) -> None:
    """An output named again after the first commit: the earlier proof lists only the events up to it."""
    late = "late-0"
    sizes = []
    for size in indexed.committed:
        response = indexed.get(key=f"output:{late}", tree_size=size)
        assert response.status_code == 200, response.text
        proven, seqs = verified(indexed, response.json())
        assert proven == size and seqs == indexed.naming("output_id", late, size=size)
        sizes.append(len(seqs))
    assert sizes == [0, 1]


def test_a_key_no_event_names_gets_a_proof_of_absence(indexed: Indexed) -> None:
    response = indexed.get(key="incident:INC-NEVER-REPORTED")
    assert response.status_code == 200, response.text
    assert verified(indexed, response.json())[1] == []


def test_a_patients_lookup_token_proves_every_event_sealed_under_it(indexed: Indexed) -> None:
    """subject:<token> lists the events whose ciphertext is sealed under the token, read off the raw log."""
    holders = {s: v for s, b in indexed.bodies.items() for v in b["data"].values() if isinstance(v, dict)
               and "subject" in v}  # fmt: skip
    token = holders[min(holders)]["subject"]
    response = indexed.get(key=f"subject:{token}")
    assert response.status_code == 200, response.text
    size, seqs = verified(indexed, response.json())
    assert seqs == [s for s, v in sorted(holders.items()) if s <= size and v["subject"] == token] and len(seqs) > 1


def test_an_altered_seq_list_no_longer_verifies(indexed: Indexed) -> None:
    """The proof binds the list: one seq dropped from a verified answer fails against the same root."""
    answer = indexed.get(key=f"incident:{INCIDENT}").json()
    answer["proof"]["seqs"].pop(3)
    with pytest.raises(Exception, match="not the committed list"):
        verified(indexed, answer)


def test_a_size_the_index_was_not_committed_at_gets_404_without_echoing_it(indexed: Indexed) -> None:
    for size in (indexed.committed[0] - 1, indexed.committed[-1] + 1, 10**9):
        response = indexed.get(key=f"incident:{INCIDENT}", tree_size=size)
        assert response.status_code == 404, size
        assert response.json()["message"] == "the index was not committed at this size under the latest signed " \
            "checkpoint"  # fmt: skip
        said = {k: v for k, v in response.json().items() if k != "request_id"}  # its hex may hold the digits
        assert str(size) not in json.dumps(said)


def test_before_any_checkpoint_the_route_gets_404(client: TestClient, auditor: dict[str, str]) -> None:
    response = client.get(ROUTE, params={"key": f"incident:{INCIDENT}"}, headers=auditor)
    assert response.status_code == 404 and response.json()["message"] == "no checkpoint has been signed yet"


REFUSED = [
    ({"key": "patient:Patient/MRN-4471"}, "key", "must match ^(incident|output|tool|clinician|subject):.+$"),
    ({"key": "INC-2026-041"}, "key", "must match ^(incident|output|tool|clinician|subject):.+$"),
    ({"key": "incident:" + "x" * 300}, "key", "must have at most 210 characters"),
    ({}, "key", "field required"),
    ({"key": f"incident:{INCIDENT}", "tree_size": 0}, "tree_size", "must be at least 1"),
    ({"key": f"incident:{INCIDENT}", "tree_size": "twenty"}, "tree_size", "must be an integer"),
]


@pytest.mark.parametrize(("params", "loc", "msg"), REFUSED)
def test_a_malformed_key_or_size_gets_422_naming_the_parameter_and_not_its_value(
    indexed: Indexed, params: dict[str, Any], loc: str, msg: str
) -> None:
    """A clear patient identifier is no key (a patient's key is its lookup token): refused like any kind the index
    lacks, and never echoed."""
    response = indexed.get(**params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_parameter" and body["errors"] == [{"index": None, "loc": loc, "msg": msg}]
    assert [v for v in params.values() if len(str(v)) > 2 and str(v) in response.text] == []


def test_the_route_documents_each_status_it_answers_with_a_problem() -> None:
    paths = create_app(Settings(database_url="sqlite:///unused.sqlite3")).openapi()["paths"]  # opens no store
    responses = paths[ROUTE]["get"]["responses"]
    assert set(responses) == {"200", "401", "403", "404", "422", "500", "503"}
    assert responses["200"]["content"]["application/json"]["example"]["proof"]["key"].startswith("incident:")
    for status in set(responses) - {"200"}:
        assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_a_commit_the_index_table_lost_is_an_integrity_alarm_not_a_proof(indexed: Indexed, store_url: str) -> None:
    """The log records the commit, the index's own table no longer holds it: 500 integrity_failure, no proof."""
    attacker = Attacker(store_url)
    schema = "" if attacker.backend == "sqlite" else f'"{attacker.db.settings["POSTGRES_SCHEMA"]}".'
    attacker.run(f"DELETE FROM {schema}ledger_index_roots WHERE tree_size = %s", params=(indexed.committed[-1],))
    response = indexed.get(key=f"incident:{INCIDENT}")
    assert response.status_code == 500 and response.json()["code"] == "integrity_failure"
    assert indexed.get(key=f"incident:{INCIDENT}", tree_size=indexed.committed[0]).status_code == 200
