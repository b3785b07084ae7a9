"""Proofs for auditors over the API, on every store.

Nothing the server says is taken on trust: leaf hashes are recomputed from the
raw log's bytes (u64be(seq) || i64be(recorded_us) || canonical bytes, as
docs/ledger-format.md defines the entry), roots come from checkpoints opened with
the trusted keys, and every proof is checked twice: by ``ledger.proof.merkle`` and by
the independent verifier of tests/unit/test_merkle.py, written from RFC 9162
§2.1.3.2 and §2.1.4.2 alone.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.logging import JsonFormatter
from api.settings import Settings
from ledger.checkpointing import make_checkpoint
from ledger.config import DEFAULT_ORIGIN
from ledger.errors import IntegrityError, RootMismatch
from ledger.proof import merkle
from ledger.proof.bundle import parse_bundle, verify_bundle
from ledger.proof.checkpoint import Checkpoint, CheckpointDirectory, open_checkpoint, sign_checkpoint
from ledger.proof.keys import Keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests import sepsis_story as scenario
from tests.api.conftest import Keys, bearer
from tests.factories import many_shown
from tests.ledgers import env_settings
from tests.unit.test_merkle import rfc_verify_consistency, rfc_verify_inclusion

INCIDENT = "INC-2026-041"  # the demo story's incident
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}
ROUTES = (
    "/v1/checkpoint",
    "/v1/proofs/inclusion?seq=1",
    "/v1/proofs/consistency?from_size=1",
    f"/v1/incidents/{INCIDENT}/evidence",
)


@dataclass(frozen=True)
class Audited:
    """A running server over a log with checkpoints signed at ``sizes``, and the auditor's means."""

    client: TestClient
    auditor: dict[str, str]
    keyring: Keyring
    folder: CheckpointDirectory
    sizes: list[int]
    receipts: list[dict[str, Any]]

    def get(self, path: str, **params: int) -> Any:
        response = self.client.get(path, params=params, headers=self.auditor)
        assert response.status_code == 200, response.text
        return response.json()

    def signed(self, size: int) -> Checkpoint:
        """The published checkpoint of ``size``, opened with the trusted keys."""
        return open_checkpoint(self.folder.read(size), self.keyring, origin=DEFAULT_ORIGIN)


def sign_now(ledger: Ledger, keys_dir: Path, checkpoint_dir: Path) -> int:
    """What `ledger checkpoint` does: sign the head, keep it, publish it; the size signed."""
    key = KeyFolder(keys_dir).active_key()
    signed = make_checkpoint(ledger, key, origin=DEFAULT_ORIGIN, folder=CheckpointDirectory(checkpoint_dir))
    assert signed is not None and signed.new
    return signed.checkpoint.size


@pytest.fixture
def server_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The store's settings with this test's key and checkpoint folders; no schedule (signing is explicit)."""
    (tmp_path / "checkpoints").mkdir()
    return dataclasses.replace(
        settings,
        keys_dir=str(tmp_path / "keys"),
        checkpoint_dir=str(tmp_path / "checkpoints"),
        checkpoint_interval_s=0,
    )


@pytest.fixture
def audited(
    store_url: str, server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> Audited:
    """A key (seq 1), the demo story and events of an emitter, appended through the API with
    checkpoints signed at sizes 1, 20, 27 and 40."""
    keys_dir, checkpoint_dir = Path(str(server_settings.keys_dir)), Path(str(server_settings.checkpoint_dir))
    receipts: list[dict[str, Any]] = []
    batches = [(scenario.story(), keys.admin), (many_shown(7, prefix="a"), keys.emitter)]
    batches.append((many_shown(13, prefix="b"), keys.emitter))
    with Ledger(env_settings(store_url)) as ledger:  # the operator's own connection, as `ledger checkpoint` has
        KeyFolder(keys_dir).activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None)
        sizes = [sign_now(ledger, keys_dir, checkpoint_dir)]
        client = make_client(server_settings)
        for events, token in batches:
            response = client.post("/v1/events/batch", json={"events": events}, headers=bearer(token))
            assert response.status_code == 201, response.text
            receipts += response.json()["receipts"]
            sizes.append(sign_now(ledger, keys_dir, checkpoint_dir))
    assert sizes == [1, 20, 27, 40]
    keyring = KeyFolder(keys_dir).keyring()
    return Audited(client, bearer(keys.auditor), keyring, CheckpointDirectory(checkpoint_dir), sizes, receipts)


# -- The auditor's own computations, from the raw log --------------------------


def raw_log(audited: Audited) -> dict[int, bytes]:
    """Every entry's bytes, rebuilt from GET /v1/log: u64be(seq) || i64be(recorded_us) || body."""
    entries: dict[int, bytes] = {}
    after: int | None = 0
    while after is not None:
        page = audited.get("/v1/log", after_seq=after, limit=1000)
        for record in page["records"]:
            head = struct.pack(">Qq", record["seq"], record["recorded_us"])
            entries[record["seq"]] = head + base64.b64decode(record["body"])
        after = page["next_after_seq"]
    return entries


def leaf(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, MTH over leaf hashes, written out here."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def check_inclusion(answer: dict[str, Any], *, entry: bytes, checkpoint: Checkpoint) -> None:
    """The answer proves ``entry`` is in ``checkpoint``'s tree, two ways, with a leaf hash of our own."""
    own_leaf = leaf(entry)
    index, size, proof = answer["seq"] - 1, checkpoint.size, hashes(answer["proof"])
    assert answer["leaf_hash"] == own_leaf.hex()
    assert (answer["tree_size"], answer["leaf_index"], answer["root"]) == (size, index, checkpoint.root_hash.hex())
    merkle.verify_inclusion(index=index, size=size, leaf_hash=own_leaf, proof=proof, root=checkpoint.root_hash)
    assert rfc_verify_inclusion(index, size, own_leaf, proof, checkpoint.root_hash)


# -- Inclusion -----------------------------------------------------------------


def test_inclusion_proofs_verify_two_ways_against_the_latest_signed_checkpoint(audited: Audited) -> None:
    note = audited.client.get("/v1/checkpoint", headers=audited.auditor)
    assert note.status_code == 200 and note.headers["content-type"].startswith("text/plain")
    latest = open_checkpoint(note.text, audited.keyring, origin=DEFAULT_ORIGIN)
    assert note.text == audited.folder.read(40) and latest.size == 40
    entries = raw_log(audited)
    assert mth([leaf(entries[s]) for s in range(1, 41)]) == latest.root_hash
    from_receipts = [r["leaf_index"] + 1 for r in audited.receipts[::7]]
    for seq in sorted({1, 2, 3, 16, 17, 32, 33, 39, 40, *from_receipts}):
        answer = audited.get("/v1/proofs/inclusion", seq=seq)
        assert answer["seq"] == seq
        check_inclusion(answer, entry=entries[seq], checkpoint=latest)


def test_inclusion_proofs_at_an_earlier_size_verify_against_that_signed_checkpoint(audited: Audited) -> None:
    entries = raw_log(audited)
    for size in audited.sizes:
        earlier = audited.signed(size)
        for seq in sorted({1, (size + 1) // 2, size}):
            answer = audited.get("/v1/proofs/inclusion", seq=seq, tree_size=size)
            check_inclusion(answer, entry=entries[seq], checkpoint=earlier)


def test_an_inclusion_proof_for_another_entry_does_not_verify(audited: Audited) -> None:
    entries, latest = raw_log(audited), audited.signed(40)
    answer = audited.get("/v1/proofs/inclusion", seq=5)
    proof = hashes(answer["proof"])
    assert not rfc_verify_inclusion(4, 40, leaf(entries[6]), proof, latest.root_hash)
    with pytest.raises(RootMismatch):
        merkle.verify_inclusion(index=4, size=40, leaf_hash=leaf(entries[6]), proof=proof, root=latest.root_hash)


# -- Consistency ---------------------------------------------------------------


def test_consistency_proofs_between_signed_checkpoints_verify_two_ways(audited: Audited) -> None:
    signed = {size: audited.signed(size) for size in audited.sizes}
    pairs = [(a, b) for a in audited.sizes for b in audited.sizes if a <= b]
    for first, second in pairs:
        answer = audited.get("/v1/proofs/consistency", from_size=first, to_size=second)
        old, new, proof = signed[first].root_hash, signed[second].root_hash, hashes(answer["proof"])
        assert (answer["from_size"], answer["to_size"]) == (first, second)
        assert (answer["from_root"], answer["to_root"]) == (old.hex(), new.hex())
        merkle.verify_consistency(size1=first, size2=second, root1=old, root2=new, proof=proof)
        if first < second:  # RFC 9162 §2.1.4.2 step 1 fails an empty path; equal sizes have one
            assert rfc_verify_consistency(first, second, old, new, proof)
        else:
            assert proof == [] and old == new


def test_consistency_from_any_size_to_the_latest_checkpoint_matches_roots_recomputed_from_the_log(
    audited: Audited,
) -> None:
    entries, latest = raw_log(audited), audited.signed(40)
    leaves = [leaf(entries[s]) for s in range(1, 41)]
    for first in (2, 3, 8, 13, 31, 39):
        answer = audited.get("/v1/proofs/consistency", from_size=first)
        old, proof = mth(leaves[:first]), hashes(answer["proof"])
        assert answer["to_size"] == 40 and answer["from_root"] == old.hex()
        merkle.verify_consistency(size1=first, size2=40, root1=old, root2=latest.root_hash, proof=proof)
        assert rfc_verify_consistency(first, 40, old, latest.root_hash, proof)


def test_a_consistency_proof_does_not_verify_against_a_rewritten_earlier_root(audited: Audited) -> None:
    latest = audited.signed(40)
    proof = hashes(audited.get("/v1/proofs/consistency", from_size=20)["proof"])
    forged = hashlib.sha256(b"another history").digest()
    assert not rfc_verify_consistency(20, 40, forged, latest.root_hash, proof)
    with pytest.raises(IntegrityError):
        merkle.verify_consistency(size1=20, size2=40, root1=forged, root2=latest.root_hash, proof=proof)


# -- Refusals ------------------------------------------------------------------


REFUSED = [
    ("/v1/proofs/inclusion?seq=30&tree_size=27", "seq", "must be at most the tree size, 27"),
    ("/v1/proofs/inclusion?seq=3&tree_size=41", "tree_size", "must be at most the log's size, 40"),
    ("/v1/proofs/inclusion?seq=3&tree_size=0", "tree_size", "must be at least 1"),
    ("/v1/proofs/inclusion?seq=0", "seq", "must be at least 1"),
    ("/v1/proofs/inclusion?seq=x", "seq", "must be an integer"),
    ("/v1/proofs/consistency?from_size=0", "from_size", "must be at least 1"),
    ("/v1/proofs/consistency?from_size=28&to_size=27", "from_size", "must be at most to_size, 27"),
    ("/v1/proofs/consistency?from_size=3&to_size=41", "to_size", "must be at most the log's size, 40"),
    ("/v1/proofs/consistency", "from_size", "field required"),
]


def test_sizes_that_do_not_fit_the_log_get_422_naming_the_parameter(audited: Audited) -> None:
    for path, loc, msg in REFUSED:
        response = audited.client.get(path, headers=audited.auditor)
        assert response.status_code == 422, path
        body = response.json()
        assert body["code"] == "invalid_parameter", path
        assert body["errors"] == [{"index": None, "loc": loc, "msg": msg}], path


def test_a_seq_not_in_the_log_gets_404(audited: Audited) -> None:
    response = audited.client.get("/v1/proofs/inclusion?seq=41", headers=audited.auditor)
    assert response.status_code == 404
    assert response.json()["message"] == "no entry with this seq is in the log"


def test_before_any_checkpoint_the_checkpoint_and_default_sizes_get_404(
    server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    client = make_client(server_settings)
    client.post("/v1/events/batch", json={"events": many_shown(3)}, headers=bearer(keys.emitter))
    for path in ("/v1/checkpoint", "/v1/proofs/inclusion?seq=1", "/v1/proofs/consistency?from_size=1"):
        response = client.get(path, headers=bearer(keys.auditor))
        assert response.status_code == 404, path
        assert response.json()["message"] == "no checkpoint has been signed yet"
    explicit = client.get("/v1/proofs/consistency?from_size=1&to_size=3", headers=bearer(keys.auditor))
    assert explicit.status_code == 200 and explicit.json()["to_size"] == 3


def test_readers_and_emitters_get_403_no_key_401_admins_200(audited: Audited, keys: Keys) -> None:
    for path in ROUTES:
        assert audited.client.get(path).status_code == 401, path
        assert audited.client.get(path, headers=bearer("lk_nope_nope")).status_code == 401, path
        for token in (keys.reader, keys.emitter):
            response = audited.client.get(path, headers=bearer(token))
            assert response.status_code == 403 and response.json()["code"] == "forbidden", path
        assert audited.client.get(path, headers=bearer(keys.admin)).status_code == 200, path


# -- Evidence bundles ----------------------------------------------------------


def test_the_evidence_bundle_is_the_exported_file_and_verifies_offline(audited: Audited) -> None:
    response = audited.client.get(f"/v1/incidents/{INCIDENT}/evidence", headers=audited.auditor)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == f'attachment; filename="evidence-{INCIDENT}.json"'
    bundle = parse_bundle(response.content)
    report = verify_bundle(bundle, trusted=audited.keyring)
    assert report.ok, report.failures
    assert report.checkpoint is not None and report.checkpoint.size == 41  # the index committed at 40
    assert [key for key, _, size in report.complete if size == 40][0] == f"incident:{INCIDENT}"
    assert not report.keys_from_bundle
    types = {event_type for _, event_type in report.verified}
    assert {"incident.reported", "output.generated", "output.shown", "tool.approved"} <= types
    assert "ledger.signing_key_activated" in types


def test_evidence_signs_a_checkpoint_when_none_covers_the_log_yet(audited: Audited, keys: Keys) -> None:
    audited.client.post("/v1/events/batch", json={"events": many_shown(2, prefix="c")}, headers=bearer(keys.emitter))
    response = audited.client.get(f"/v1/incidents/{INCIDENT}/evidence", headers=audited.auditor)
    report = verify_bundle(parse_bundle(response.content), trusted=audited.keyring)
    assert report.ok and report.checkpoint is not None and report.checkpoint.size == 43  # 42, then the index
    assert audited.folder.sizes() == [*audited.sizes, 43]
    assert open_checkpoint(audited.client.get("/v1/checkpoint", headers=audited.auditor).text, audited.keyring).size


def test_evidence_for_an_unknown_incident_gets_404(audited: Audited) -> None:
    response = audited.client.get("/v1/incidents/INC-0000-000/evidence", headers=audited.auditor)
    assert response.status_code == 404
    assert response.json()["message"] == "no incident with this incident_id is recorded"


def test_evidence_without_a_signing_key_gets_503_saying_so(
    server_settings: Settings, keys: Keys, make_client: Callable[[Settings], TestClient]
) -> None:
    client = make_client(server_settings)
    client.post("/v1/events/batch", json={"events": scenario.story()}, headers=bearer(keys.admin))
    response = client.get(f"/v1/incidents/{INCIDENT}/evidence", headers=bearer(keys.auditor))
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "no_signing_key" and "signing-keys generate" in body["message"]


def test_a_published_checkpoint_the_log_does_not_extend_makes_evidence_an_integrity_alarm(
    audited: Audited, server_settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    key = KeyFolder(Path(str(server_settings.keys_dir))).active_key()
    audited.folder.write(sign_checkpoint(Checkpoint(DEFAULT_ORIGIN, 1000, bytes(32)), key))
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = audited.client.get(f"/v1/incidents/{INCIDENT}/evidence", headers=audited.auditor)
    assert response.status_code == 500 and response.json()["code"] == "integrity_failure"
    alarms = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.msg == "integrity alarm"]
    assert [a["exc_type"] for a in alarms] == ["InconsistentCheckpoint"]


def test_the_incident_id_never_reaches_the_log_only_the_route_template(
    audited: Audited, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        audited.client.get(f"/v1/incidents/{INCIDENT}/evidence", headers=audited.auditor)
        audited.client.get("/v1/incidents/INC-SECRET-9/evidence", headers=audited.auditor)
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert not any(INCIDENT in line or "INC-SECRET" in line for line in lines)
    routes = [json.loads(line).get("route") for line in lines]
    assert routes.count("/v1/incidents/{incident_id}/evidence") == 2


def test_every_route_documents_every_status_it_answers() -> None:
    paths = create_app(Settings(database_url="sqlite:///unused.sqlite3")).openapi()["paths"]  # opens no store
    expected = {
        "/v1/checkpoint": {"200", "401", "403", "404", "503"},
        "/v1/proofs/inclusion": {"200", "401", "403", "404", "422", "503"},
        "/v1/proofs/consistency": {"200", "401", "403", "404", "422", "503"},
        "/v1/incidents/{incident_id}/evidence": {"200", "401", "403", "404", "422", "500", "503"},
    }
    for path, statuses in expected.items():
        responses = paths[path]["get"]["responses"]
        assert set(responses) == statuses, path
        for status in statuses - {"200"}:
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    assert "text/plain" in paths["/v1/checkpoint"]["get"]["responses"]["200"]["content"]
