"""The completeness index: exported with a bundle, checked offline, recomputed by `ledger verify` on both stores."""

from __future__ import annotations

import base64
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from ledger.index import IndexStore, catch_up, commit_index
from ledger.proof.bundle import parse_bundle, verify_bundle
from ledger.proof.index import IndexBuilder, index_keys, verify_index_proof
from ledger.proof.keys import parse_keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests import sepsis_story as scenario
from tests.attacker import Attacker
from tests.factories import shown
from tests.ledgers import env_settings

INCIDENT = "INC-2026-041"
ACTOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@pytest.fixture
def exported(store_url: str, tmp_path: Path) -> dict[str, Path | str]:
    """The demo story, a signing key, and the incident exported (which commits the index first)."""
    keys, bundle = tmp_path / "keys", tmp_path / "bundle.json"
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(scenario.story())
        KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None)
    args = ["export", "--incident", INCIDENT, "--database-url", store_url, "--keys-dir", str(keys)]
    assert main([*args, "--checkpoint-dir", str(tmp_path / "cp"), "--output", str(bundle)]) == 0
    return {"url": store_url, "keys": keys, "bundle": bundle, "trusted": keys / "trusted.keys", "cp": tmp_path / "cp"}


def _verify_bundle(document: dict, trusted: Path) -> tuple[bool, list[str], list[tuple[str, int, int]]]:
    report = verify_bundle(parse_bundle(json.dumps(document).encode()), trusted=parse_keyring(trusted.read_text()))
    return report.ok, report.failures, report.complete


def _verify(setup: dict[str, Path | str], tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    args = ["verify", "--database-url", str(setup["url"]), "--keys-dir", str(setup["keys"])]
    code = main([*args, "--checkpoint-dir", str(setup["cp"]), "--format", "json", "--output", str(out)])
    return code, json.loads(out.read_text())


def test_an_exported_bundle_proves_its_incident_and_outputs_complete(
    exported: dict[str, Path | str], capsys: pytest.CaptureFixture[str]
) -> None:
    """verify-bundle says COMPLETE for the incident and each output its events name, among the committed N."""
    assert main(["verify-bundle", str(exported["bundle"]), "--trusted-keys", str(exported["trusted"])]) == 0
    err = capsys.readouterr().err
    assert f"COMPLETE: incident:{INCIDENT}: these 7 events are all that name it among the first 20 entries" in err
    assert "COMPLETE: output:out-ed-1001: these 4 events" in err


def test_with_patient_the_bundle_proves_every_event_about_the_patient_and_only_then(
    exported: dict[str, Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--with-patient adds the patient's lookup-token key, proven complete; the default bundle names no patient key."""
    plain = json.loads(Path(exported["bundle"]).read_text())
    assert [p["key"] for p in plain["index"]["proofs"] if p["key"].startswith("subject:")] == []
    bundle = tmp_path / "with-patient.json"
    args = [
        "export",
        "--incident",
        INCIDENT,
        "--database-url",
        str(exported["url"]),
        "--keys-dir",
        str(exported["keys"]),
    ]
    assert main([*args, "--checkpoint-dir", str(exported["cp"]), "--output", str(bundle), "--with-patient"]) == 0
    document = json.loads(bundle.read_text())
    (proof,) = [p for p in document["index"]["proofs"] if p["key"].startswith("subject:")]
    token = proof["key"].removeprefix("subject:")
    about = [e["seq"] for e in plain["entries"] if f'"subject":"{token}"' in _event_text(e)]
    assert about and set(about) <= set(proof["seqs"]) <= {e["seq"] for e in document["entries"]}
    capsys.readouterr()
    assert main(["verify-bundle", str(bundle), "--trusted-keys", str(exported["trusted"])]) == 0
    assert f"COMPLETE: subject:{token}: these {len(proof['seqs'])} events" in capsys.readouterr().err


def _event_text(entry: dict) -> str:
    return base64.b64decode(entry["event"]).decode()


def test_removing_one_of_the_incidents_events_is_a_finding_naming_its_seq(exported: dict[str, Path | str]) -> None:
    """An event the index names for the incident, left out of the bundle, is named by seq."""
    document = json.loads(Path(exported["bundle"]).read_text())
    proof = next(p for p in document["index"]["proofs"] if p["key"] == f"incident:{INCIDENT}")
    dropped = proof["seqs"][2]
    document["entries"] = [e for e in document["entries"] if e["seq"] != dropped]
    ok, failures, _ = _verify_bundle(document, Path(exported["trusted"]))
    assert not ok
    assert failures == [f"seq {dropped}, named by the index for incident:{INCIDENT}, is missing from the bundle"]


def test_a_shortened_seq_list_in_the_proof_does_not_verify(exported: dict[str, Path | str]) -> None:
    """Dropping the event and its seq from the proof too: the list no longer matches the committed leaf."""
    document = json.loads(Path(exported["bundle"]).read_text())
    proof = next(p for p in document["index"]["proofs"] if p["key"] == f"incident:{INCIDENT}")
    dropped = proof["seqs"].pop(2)
    document["entries"] = [e for e in document["entries"] if e["seq"] != dropped]
    ok, failures, _ = _verify_bundle(document, Path(exported["trusted"]))
    assert not ok and failures == [f"index proof for incident:{INCIDENT}: its 6 seqs are not the committed list"]


def test_the_index_proof_for_a_key_with_no_events_proves_absence(exported: dict[str, Path | str]) -> None:
    """A key no event names has an empty list, and its proof leads to the committed root."""
    with Ledger(env_settings(str(exported["url"]))) as ledger:
        store = IndexStore(ledger)
        size, root = store.commits()[-1]
        proof = store.prove("incident:INC-NEVER-REPORTED", tree_size=size)
        assert proof.seqs == [] and verify_index_proof(proof, root=root) == []
        present = store.prove(f"incident:{INCIDENT}", tree_size=size)
    forged = type(proof)(proof.key, proof.tree_size, present.seqs[:1], proof.bucket, proof.leaves, proof.path)
    with pytest.raises(Exception, match="not the committed list"):
        verify_index_proof(forged, root=root)


def test_ledger_verify_recomputes_the_index_and_passes_an_untouched_log(
    exported: dict[str, Path | str], tmp_path: Path
) -> None:
    """Step 11 runs and finds nothing on an honest log."""
    code, report = _verify(exported, tmp_path)
    assert code == 0, report["findings"]
    assert "completeness index: 2 committed roots recomputed" in report["notes"]


def test_an_index_root_altered_in_the_database_is_found_by_verify(
    exported: dict[str, Path | str], tmp_path: Path
) -> None:
    """The index's own table says another root: exit 1, stored index root mismatch at its size."""
    attacker = Attacker(str(exported["url"]))
    table = (
        "ledger_index_roots"
        if attacker.backend == "sqlite"
        else f'"{attacker.db.settings["POSTGRES_SCHEMA"]}".ledger_index_roots'
    )
    attacker.run(f"UPDATE {table} SET root = %s", params=(b"\x01" * 32,))
    code, report = _verify(exported, tmp_path)
    assert code == 1
    assert [(f["seq"], f["kind"]) for f in report["findings"]] == [(20, "stored index root mismatch")]


def test_an_index_committed_event_with_another_root_is_found_by_verify(
    exported: dict[str, Path | str], tmp_path: Path
) -> None:
    """A well-chained index.committed whose root is not the recomputed one: exit 1, at the event's seq."""
    with Ledger(env_settings(str(exported["url"]))) as ledger:
        receipts = ledger.submit([_commit_event(size=5, root="ab" * 32)])
    code, report = _verify(exported, tmp_path)
    assert code == 1
    assert [(f["seq"], f["kind"]) for f in report["findings"]] == [(receipts[0].seq, "index root mismatch")]


def test_a_commit_with_nothing_new_records_nothing(exported: dict[str, Path | str]) -> None:
    """After a commit, the log holds only its own event: committing again adds no event."""
    with Ledger(env_settings(str(exported["url"]))) as ledger:
        head = ledger.head_seq()
        assert commit_index(ledger) is None and ledger.head_seq() == head


def _commit_event(*, size: int, root: str) -> dict:
    return {
        "event_id": "6f1c2b7e-3d4a-4c8e-9a10-0000000000ff",
        "type": "index.committed",
        "occurred_at": "2026-12-07T10:00:00Z",
        "source": "ledger",
        "actor": {"id": "ledger", "role": "ledger", "kind": "system"},
        "data": {"tree_size": size, "root": root},
    }


@pytest.mark.parametrize("search", ["list", "bytes"])
def test_proofs_at_every_committed_size_match_the_index_recomputed_from_the_log(
    store_url: str, search: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys named again and again across five commits (one key by 70 events in one, whose seqs are kept apart):
    each stored proof, at each size, is the in-memory one; whether a commit finds the changed leaves in a list
    of a page's key hashes or by bisecting the page's bytes (what a large index does)."""
    monkeypatch.setattr("ledger.index.LIST_SEARCH", 10**9 if search == "list" else 0)
    rng = random.Random(20)
    keys = [f"output:o-{i}" for i in range(40)] + [f"clinician:c-{i}" for i in range(6)] + ["output:never"]
    sizes = []
    with Ledger(env_settings(store_url)) as ledger:
        for _ in range(5):
            ledger.submit(
                [shown(f"o-{rng.randrange(40)}", f"c-{rng.randrange(6)}") for _ in range(rng.randrange(5, 30))]
            )
            sizes.append(catch_up(IndexStore(ledger), head=ledger.head_seq()))
        store, builder, named = IndexStore(ledger), IndexBuilder(), defaultdict(list)
        for record in ledger.records():
            names = index_keys(json.loads(record.body)["data"])
            builder.add(record.seq, names)
            for key in names:
                named[key].append(record.seq)
            for size, root in [c for c in sizes if c and c[0] == record.seq]:
                for key in keys:
                    expected = builder.prove(key, named[key])
                    assert store.prove(key, tree_size=size) == expected, (key, size)
                    assert verify_index_proof(expected, root=root) == named[key]
    assert len({size for size, _ in sizes}) == 5
