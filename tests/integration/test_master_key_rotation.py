"""Rotating the master key while servers run: old keys keep opening until every data key is rewrapped.

A server started with the old master key wraps every new subject's key under it.
If a rotation rewrapped the table and the old key were then retired, those keys
would no longer unwrap: their subjects' sealed fields would be lost. So a handle
unwraps with the master key each row names (the current one, or one listed as
previous), rotation rewraps until no live key is left under another, and what
is left is reported, never silently orphaned.
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger import erasure
from ledger.audit import verify_store
from ledger.erasure import master_key_use, rotate_master_key
from ledger.errors import KeyNotConfigured
from ledger.privacy import PREVIOUS_KEYS_ENV, LocalMasterKey
from ledger.store import Ledger
from scripts.cli import main
from tests.integration.test_key_race import ACTOR, generated
from tests.ledgers import env_settings

OLD = LocalMasterKey(bytes(range(32)))
NEW = LocalMasterKey(bytes(range(32, 64)))


def _patient(ledger: Ledger, seq: int) -> str:
    return str(ledger.open(ledger.read(after_seq=seq - 1, limit=1)[0]).envelope["data"]["patient_ref"])


def test_a_server_given_the_new_key_and_the_old_as_previous_opens_both_and_wraps_new_keys_under_the_new(
    store_url: str,
) -> None:
    with Ledger(env_settings(store_url), master_key=OLD) as before:
        before.submit([generated("Patient/rot-1", "out-1")])
    with Ledger(env_settings(store_url), master_key=NEW, previous_master_keys=[OLD]) as server:
        server.submit([generated("Patient/rot-2", "out-2")])
        assert [_patient(server, 1), _patient(server, 2)] == ["Patient/rot-1", "Patient/rot-2"]
        assert master_key_use(server) == {OLD.key_id: 2, NEW.key_id: 1}  # the lookup-token key, rot-1; rot-2


def test_rotation_rewraps_every_key_under_any_configured_master_key_and_reports_none_left(store_url: str) -> None:
    with Ledger(env_settings(store_url), master_key=OLD) as before:
        before.submit([generated("Patient/rot-3", "out-1")])
    with Ledger(env_settings(store_url), master_key=NEW, previous_master_keys=[OLD]) as server:
        server.submit([generated("Patient/rot-4", "out-2")])
        rotation = rotate_master_key(server, NEW, actor=ACTOR)
        assert (rotation.rewrapped, rotation.remaining) == (2, {})
        recorded = orjson.loads(server.read(after_seq=server.head_seq() - 1)[0].body)["data"]
        assert recorded == {"old_key_id": OLD.key_id, "new_key_id": NEW.key_id, "keys_rewrapped": 2}
    with Ledger(env_settings(store_url), master_key=NEW, previous_master_keys=[]) as after:
        assert [_patient(after, 1), _patient(after, 2)] == ["Patient/rot-3", "Patient/rot-4"]
        assert verify_store(after).intact


def test_a_key_wrapped_under_a_retired_master_key_is_reported_and_named_never_opened_as_something_else(
    store_url: str,
) -> None:
    settings = env_settings(store_url)
    with Ledger(settings, master_key=OLD) as stale_server, Ledger(settings, master_key=OLD) as command:
        stale_server.submit([generated("Patient/rot-5", "out-1")])
        assert rotate_master_key(command, NEW, actor=ACTOR).remaining == {}
        stale_server.submit([generated("Patient/rot-6", "out-2")])  # not restarted: wraps under OLD still
        assert master_key_use(command, besides=NEW.key_id) == {OLD.key_id: 1}
    with Ledger(env_settings(store_url), master_key=NEW, previous_master_keys=[]) as after:
        assert _patient(after, 1) == "Patient/rot-5"
        with pytest.raises(KeyNotConfigured, match=f"master key {OLD.key_id}, which is not configured"):
            _patient(after, 3)
    with Ledger(env_settings(store_url), master_key=LocalMasterKey(bytes(32)), previous_master_keys=[]) as lost:
        assert master_key_use(lost) == {NEW.key_id: 2, OLD.key_id: 1}  # read with no key that unwraps any
    with Ledger(env_settings(store_url), master_key=NEW, previous_master_keys=[OLD]) as again:
        assert rotate_master_key(again, NEW, actor=ACTOR).remaining == {}
        assert _patient(again, 3) == "Patient/rot-6"


def test_previous_master_keys_come_from_the_environment_and_a_missing_file_is_refused(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(env_settings(store_url), master_key=OLD) as before:
        before.submit([generated("Patient/rot-7", "out-1")])
    old_file = tmp_path / "old.key"
    old_file.write_text(base64.b64encode(OLD.secret).decode())
    monkeypatch.setenv(PREVIOUS_KEYS_ENV, str(old_file))
    with Ledger(env_settings(store_url), master_key=NEW) as server:
        assert _patient(server, 1) == "Patient/rot-7"
    monkeypatch.setenv(PREVIOUS_KEYS_ENV, str(tmp_path / "absent.key"))
    settings = env_settings(store_url)
    with Ledger(settings, master_key=NEW) as server, pytest.raises(KeyNotConfigured, match="do not exist"):
        _ = server.keys


def test_cli_rotation_that_leaves_keys_under_another_master_key_says_so_and_exits_3(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit([generated("Patient/rot-8", "out-1")])
    monkeypatch.setattr(erasure, "ROTATION_PASSES", 0)  # as if writers kept wrapping under the old key
    new_file = tmp_path / "new.key"
    assert main(["master-key", "rotate", "--new-key-file", str(new_file), "--database-url", store_url]) == 3
    assert "still wrapped under other master keys" in capsys.readouterr().err
    assert main(["master-key", "status", "--database-url", store_url]) == 0
    use = orjson.loads(capsys.readouterr().out)
    assert sum(use.values()) == 2 and LocalMasterKey.from_file(new_file).key_id not in use


def test_a_server_whose_previous_master_key_file_is_missing_does_not_start(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PREVIOUS_KEYS_ENV, str(tmp_path / "absent.key"))
    app = create_app(Settings(database_url=store_url, db_connect_timeout_s=2))
    with pytest.raises(Exception, match="do not exist"), TestClient(app):
        pass


def test_cli_status_of_a_ledger_that_never_sealed_says_none(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    Ledger(env_settings(store_url)).close()  # the events' tables, and no key table: nothing was ever sealed
    assert main(["master-key", "status", "--database-url", store_url]) == 0
    assert orjson.loads(capsys.readouterr().out) == {}


def _sealed_then_only_the_new_key(store_url: str, monkeypatch: pytest.MonkeyPatch, patient: str) -> None:
    """A ledger sealed under OLD, and an environment that configures NEW alone."""
    with Ledger(env_settings(store_url), master_key=OLD) as before:
        before.submit([generated(patient, "out-1")])
    monkeypatch.setenv("LEDGER_MASTER_KEY", base64.b64encode(NEW.secret).decode())
    monkeypatch.delenv(PREVIOUS_KEYS_ENV, raising=False)


def test_cli_without_the_master_key_its_keys_are_wrapped_under_could_not_run_and_exits_3_not_1(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Exit 1 tells an auditor the evidence failed a check; a missing key file is the operator's to fix.
    _sealed_then_only_the_new_key(store_url, monkeypatch, "Patient/rot-9")
    argv = ["erase", "--subject", "patient:Patient/rot-9", "--basis", "gdpr_art17", "--dry-run"]
    assert main([*argv, "--database-url", store_url]) == 3
    err = capsys.readouterr().err
    assert f"could not run: a data key is wrapped under master key {OLD.key_id}" in err
    assert "rot-9" not in err
    with Ledger(env_settings(store_url), master_key=OLD) as after:  # nothing was changed
        assert _patient(after, 1) == "Patient/rot-9"


def test_serve_without_the_master_key_the_ledger_needs_stops_before_uvicorn_with_one_line_and_exit_3(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import serve

    _sealed_then_only_the_new_key(store_url, monkeypatch, "Patient/rot-10")

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("uvicorn started")

    monkeypatch.setattr(serve.uvicorn, "run", started)
    monkeypatch.setenv("LEDGER_DATABASE_URL", store_url)  # serve sets it for its workers: restored after the test
    assert main(["serve", "--database-url", store_url]) == 3
    err = capsys.readouterr().err
    assert f"could not run: a data key is wrapped under master key {OLD.key_id}" in err and "Traceback" not in err
