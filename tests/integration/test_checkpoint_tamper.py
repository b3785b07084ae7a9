"""What the chain alone cannot catch, signed checkpoints do: a cut tail and a rewritten log."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from ledger.checkpointing import make_checkpoint
from ledger.errors import InconsistentCheckpoint
from ledger.proof import merkle
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests.attacker import Attacker
from tests.factories import many_shown
from tests.ledgers import env_settings

ACTOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@pytest.fixture
def setup(audited_url: str, tmp_path: Path) -> dict[str, object]:
    """40 events, a checkpoint at 30 that the auditor kept, another at 40 in the ledger and its folder."""
    keys, published = tmp_path / "keys", tmp_path / "published"
    published.mkdir()
    with Ledger(env_settings(audited_url)) as ledger:
        key = KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None).key
        ledger.submit(many_shown(29, prefix="a"))  # 1 key event + 29 = 30
        kept = make_checkpoint(ledger, key, origin="test/log", folder=CheckpointDirectory(published))
        ledger.submit(many_shown(10, prefix="b"))
        latest = make_checkpoint(ledger, key, origin="test/log", folder=CheckpointDirectory(published))
    assert kept is not None and latest is not None
    (tmp_path / "auditor-30.checkpoint").write_text(kept.note)
    (tmp_path / "auditor-40.checkpoint").write_text(latest.note)
    return {
        "url": audited_url,
        "keys": keys,
        "published": published,
        "kept": tmp_path / "auditor-30.checkpoint",
        "kept_latest": tmp_path / "auditor-40.checkpoint",
    }


def verify(setup: dict[str, object], tmp_path: Path, *extra: str) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    args = ["verify", "--database-url", str(setup["url"]), "--keys-dir", str(setup["keys"])]
    args += ["--checkpoint-dir", str(setup["published"]), "--origin", "test/log"]
    args += ["--format", "json", "--output", str(report), *extra]
    return main(args), json.loads(report.read_text())


def kinds(report: dict) -> set[str]:
    return {f["kind"] for f in report["findings"]}


def test_an_untouched_ledger_and_its_checkpoints_verify(setup: dict[str, object], tmp_path: Path) -> None:
    code, report = verify(setup, tmp_path, "--trusted-checkpoint", str(setup["kept"]))
    assert code == 0, report["findings"]
    assert report["events"] == 40 and report["checkpoints_checked"] == 5


def test_last_ten_events_removed_is_caught_by_the_auditors_checkpoint(setup: dict[str, object], tmp_path: Path) -> None:
    attacker = Attacker(str(setup["url"]))
    attacker.run("DELETE FROM {events} WHERE seq > 30")
    attacker.run("DELETE FROM {checkpoints} WHERE size > 30")
    for file in Path(str(setup["published"])).glob("*40.checkpoint"):
        file.unlink()  # the operator can reach the folder too; the auditor's own copy remains
    code, report = verify(setup, tmp_path)
    assert code == 0  # what the operator still holds is a whole, shorter log: only an outside copy can tell
    code, report = verify(setup, tmp_path, "--trusted-checkpoint", str(setup["kept_latest"]))
    assert code == 1
    assert [(f["seq"], f["kind"]) for f in report["findings"]] == [(31, "log truncated")]


def test_log_rewritten_from_a_seq_with_every_hash_recomputed_is_caught_by_signed_checkpoints(
    setup: dict[str, object], tmp_path: Path
) -> None:
    _rewrite_from(Attacker(str(setup["url"])), first=12, last=40)
    code, report = verify(setup, tmp_path)
    assert code == 1
    assert kinds(report) == {"root mismatch"}  # the chain itself verifies: only the checkpoints can tell
    assert {f["seq"] for f in report["findings"]} == {30, 40}
    code, report = verify(setup, tmp_path, "--trusted-checkpoint", str(setup["kept"]))
    assert code == 1 and any("trusted checkpoint" in f["detail"] for f in report["findings"])


def test_the_ledger_refuses_to_sign_a_rewritten_log(setup: dict[str, object], tmp_path: Path) -> None:
    _rewrite_from(Attacker(str(setup["url"])), first=35, last=40)
    with Ledger(env_settings(str(setup["url"]))) as ledger:
        ledger.submit(many_shown(1, prefix="c"))
        key = KeyFolder(Path(str(setup["keys"]))).active_key()
        with pytest.raises(InconsistentCheckpoint, match="no longer matches the checkpoint at size 40"):
            make_checkpoint(ledger, key, origin="test/log", folder=CheckpointDirectory(Path(str(setup["published"]))))


def test_a_checkpoint_with_a_forged_signature_is_reported(setup: dict[str, object], tmp_path: Path) -> None:
    forged = tmp_path / "forged.checkpoint"
    text = Path(str(setup["kept"])).read_text()
    body, _, signature_line = text.rpartition("\n— ")
    name, _, blob = signature_line.strip().partition(" ")
    flipped = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    forged.write_text(f"{body}\n— {name} {flipped}\n")
    code, report = verify(setup, tmp_path, "--trusted-checkpoint", str(forged))
    assert code == 1
    assert any(f["kind"] in {"checkpoint signature", "checkpoint malformed"} for f in report["findings"])


def _rewrite_from(attacker: Attacker, *, first: int, last: int) -> None:
    """Change the event at ``first`` and recompute every hash after it, as an insider with the formula would."""
    rows = attacker.run("SELECT seq, recorded_us, state, hash FROM {events} WHERE seq >= %s ORDER BY seq",
                        params=(first - 1,))  # fmt: skip
    prev = bytes(rows[0][3])
    for seq, recorded_us, state, _ in rows[1:]:
        body = bytes(state)
        if seq == first:
            body = body.replace(b"epic.sepsis_banner", b"epic.sepsis_bannex")
        entry = struct.pack(">Qq", seq, recorded_us) + body
        digest = hashlib.sha256(b"\x02" + prev + entry).digest()
        attacker.run(
            "UPDATE {events} SET state = %s, prev_hash = %s, hash = %s, leaf_hash = %s, digest = %s WHERE seq = %s",
            params=(body, prev, digest, hashlib.sha256(b"\x00" + entry).digest(), hashlib.sha256(body).digest(), seq),
        )
        prev = digest
    assert rows[-1][0] == last
    # ... and the Merkle subtrees above the leaves, so the stored tree agrees with the forged entries.
    leaves = [bytes(r[0]) for r in attacker.run("SELECT leaf_hash FROM {events} ORDER BY seq")]
    nodes = [n for n in merkle.nodes_for_append(start_index=0, leaf_hashes=leaves, reader=merkle.MemoryNodes())
             if n[0] > 0]  # fmt: skip
    attacker.run("DELETE FROM {nodes}")
    for level, index, node in nodes:
        attacker.run("INSERT INTO {nodes} (level, idx, hash) VALUES (%s, %s, %s)", params=(level, index, node))
