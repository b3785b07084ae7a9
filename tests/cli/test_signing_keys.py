"""`ledger signing-keys`: rotation is recorded, old checkpoints keep verifying, a cut-off rotation is finished.

Rotating records the old key's retirement and the new key's activation, then
lists the new verifier key as trusted and points ``active`` at it. If the
process stops between the two, the log says the old key was retired while it
kept signing; running the command again finishes that rotation instead of
making yet another key.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ledger.signing import KeyFolder, key_activations
from ledger.store import Ledger
from scripts.cli import main
from tests.factories import many_shown
from tests.ledgers import env_settings


def _keys(store_url: str, keys: Path, action: str, name: str = "ledger.test.example") -> int:
    return main(["signing-keys", action, "--name", name, "--database-url", store_url, "--keys-dir", str(keys)])


def _key_events(store_url: str) -> list[tuple[str, str]]:
    with Ledger(env_settings(store_url)) as ledger:
        bodies = [orjson.loads(r.body) for r in ledger.records()]
    return [(b["type"], b["data"]["key_id"]) for b in bodies if b["type"].startswith("ledger.signing_key")]


def test_rotation_is_recorded_and_checkpoints_signed_before_it_still_verify(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, published = tmp_path / "keys", tmp_path / "published"
    folders = ["--database-url", store_url, "--keys-dir", str(keys), "--checkpoint-dir", str(published)]
    checkpoint = ["checkpoint", *folders]
    assert _keys(store_url, keys, "generate") == 0
    first = KeyFolder(keys).active_key().verifier()
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(many_shown(3))
    assert main(checkpoint) == 0
    assert _keys(store_url, keys, "rotate", "ledger.test2.example") == 0
    second = KeyFolder(keys).active_key().verifier()
    assert main(checkpoint) == 0

    ids = [f"{first.key_id:08x}", f"{second.key_id:08x}"]
    assert _key_events(store_url) == [
        ("ledger.signing_key_activated", ids[0]),
        ("ledger.signing_key_retired", ids[0]),
        ("ledger.signing_key_activated", ids[1]),
    ]
    assert len((keys / "trusted.keys").read_text().splitlines()) == 2
    capsys.readouterr()
    assert main(["verify", *folders]) == 0


@pytest.mark.parametrize("action", ["generate", "rotate"])
def test_a_key_change_cut_off_after_it_was_recorded_is_finished_by_running_it_again(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    keys = tmp_path / "keys"
    if action == "rotate":
        assert _keys(store_url, keys, "generate") == 0
    before = sorted(p.name for p in keys.glob("*.key"))

    def cut_off(self: KeyFolder, file: Path) -> None:
        raise KeyboardInterrupt  # the process stops after the log recorded the change

    with monkeypatch.context() as patch:
        patch.setattr(KeyFolder, "_make_active", cut_off)
        assert _keys(store_url, keys, action, "ledger.new.example") == 130
    made = sorted(set(p.name for p in keys.glob("*.key")) - set(before))
    assert len(made) == 1 and (not before or (keys / "active").read_text().strip() == before[0])
    recorded = _key_events(store_url)
    capsys.readouterr()

    assert _keys(store_url, keys, action, "ledger.new.example") == 0

    assert "finished the rotation" in capsys.readouterr().err
    assert (keys / "active").read_text().strip() == made[0]  # the recorded key, and no other was made
    assert sorted(p.name for p in keys.glob("*.key")) == sorted(before + made)
    assert _key_events(store_url) == recorded
    trusted = (keys / "trusted.keys").read_text().splitlines()
    assert len(trusted) == len(before) + 1 and len(set(trusted)) == len(trusted)
    with Ledger(env_settings(store_url)) as ledger:
        assert len(key_activations(ledger)) == len(before) + 1


def test_listing_shows_only_signing_keys_and_says_nothing_of_the_master_key(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert _keys(store_url, keys, "generate") == 0
    assert _keys(store_url, keys, "rotate", "ledger.test2.example") == 0
    master = keys / "master.key"  # where the master key lives by default
    master.write_text("3vxU6oeIvQpEozSTtwJ4N0F2wrkuqgAVQD62DL6+PbA=\n")
    master.chmod(0o600)
    capsys.readouterr()

    assert main(["signing-keys", "list", "--keys-dir", str(keys)]) == 0

    lines = capsys.readouterr().err.splitlines()
    active = KeyFolder(keys).active_key().verifier()
    assert len(lines) == 2 and "master" not in "".join(lines)
    assert [line[0] for line in lines].count("*") == 1
    assert any(line.startswith(f"* ledger.test2.example+{active.key_id:08x}+") for line in lines)


def test_listing_an_empty_keys_folder_says_there_are_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signing-keys", "list", "--keys-dir", str(tmp_path)]) == 0
    assert f"no signing keys in {tmp_path}" in capsys.readouterr().err


@pytest.mark.parametrize("damaged", ["active", "trusted.keys", "ledger.test.example-00000000.key"])
def test_a_binary_file_in_the_keys_folder_is_one_line_naming_it(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], damaged: str
) -> None:
    keys = tmp_path / "keys"
    assert _keys(store_url, keys, "generate") == 0
    target = keys / damaged if damaged != "ledger.test.example-00000000.key" else next(keys.glob("*-*.key"))
    target.chmod(0o600)
    target.write_bytes(bytes(range(256)))
    capsys.readouterr()
    folders = ["--database-url", store_url, "--keys-dir", str(keys), "--checkpoint-dir", str(tmp_path)]
    command = ["verify", *folders] if damaged == "trusted.keys" else ["checkpoint", *folders]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"{target} is not UTF-8 text (byte 128 is not UTF-8)" in err.strip().splitlines()[-1]
    assert "Traceback" not in err
