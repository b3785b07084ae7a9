"""The server signs checkpoints on a schedule: when the log has grown and a key is active, never
otherwise; failures are logged by type and retried; an inconsistency is an integrity alarm."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.checkpoints import CheckpointSchedule, Signer
from api.logging import JsonFormatter
from api.runtime import Store
from api.settings import Settings
from ledger.config import DEFAULT_ORIGIN, LedgerPaths
from ledger.errors import InputError, StoreUnavailable
from ledger.proof.checkpoint import Checkpoint, CheckpointDirectory, open_checkpoint, sign_checkpoint
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.api.conftest import Keys, bearer
from tests.factories import many_shown
from tests.ledgers import env_settings

INTERVAL = 0.2
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@pytest.fixture
def paths(tmp_path: Path) -> LedgerPaths:
    """This test's key and checkpoint folders."""
    return LedgerPaths(tmp_path / "keys", tmp_path / "checkpoints", DEFAULT_ORIGIN)


@pytest.fixture
def ticking(settings: Settings, paths: LedgerPaths) -> Settings:
    """Settings that sign every 0.2 s into this test's folders."""
    return dataclasses.replace(
        settings,
        checkpoint_interval_s=INTERVAL,
        keys_dir=str(paths.keys_dir),
        checkpoint_dir=str(paths.checkpoint_dir),
    )


@pytest.fixture
def ledger(store_url: str, paths: LedgerPaths) -> Iterator[Ledger]:
    """The store, with a signing key activated (its event is seq 1)."""
    with Ledger(env_settings(store_url)) as opened:
        KeyFolder(paths.keys_dir).activate_new("ledger.test.example", ledger=opened, actor=OPERATOR, reason=None)
        yield opened


def wait_for_size(ledger: Ledger, size: int, *, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stored = ledger.checkpoints()
        if stored and stored[-1].size == size:
            return
        time.sleep(INTERVAL / 4)
    raise AssertionError(f"no checkpoint of size {size} within {seconds} s: {[c.size for c in ledger.checkpoints()]}")


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == logger]


def test_a_checkpoint_of_the_head_appears_after_appends(
    ledger: Ledger, ticking: Settings, keys: Keys, paths: LedgerPaths, make_client: Callable[[Settings], TestClient]
) -> None:
    client = make_client(ticking)
    wait_for_size(ledger, 2)  # the key's event, then the index committed at 1
    client.post("/v1/events/batch", json={"events": many_shown(5)}, headers=bearer(keys.emitter))
    wait_for_size(ledger, 8)  # 3..7, then the index committed at 7
    note = client.get("/v1/checkpoint", headers=bearer(keys.auditor)).text
    assert open_checkpoint(note, KeyFolder(paths.keys_dir).keyring(), origin=DEFAULT_ORIGIN).size == 8
    assert CheckpointDirectory(paths.checkpoint_dir).latest() == note  # published outside the database too


def test_no_checkpoint_is_signed_while_the_log_has_not_grown(
    ledger: Ledger, ticking: Settings, keys: Keys, paths: LedgerPaths, make_client: Callable[[Settings], TestClient]
) -> None:
    client = make_client(ticking)
    wait_for_size(ledger, 2)  # the key's event, then the index committed at 1
    client.post("/v1/events/batch", json={"events": many_shown(3)}, headers=bearer(keys.emitter))
    wait_for_size(ledger, 6)  # 3..5, then the index committed at 5: its own event is no growth
    before = ledger.checkpoints()
    time.sleep(INTERVAL * 5)
    assert ledger.checkpoints() == before
    assert CheckpointDirectory(paths.checkpoint_dir).sizes() == [c.size for c in before]


def test_without_a_signing_key_nothing_is_signed_and_it_is_said_once(
    store_url: str, ticking: Settings, keys: Keys, caplog: pytest.LogCaptureFixture,
    make_client: Callable[[Settings], TestClient],
) -> None:  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="api.checkpoints"):
        client = make_client(ticking)
        client.post("/v1/events/batch", json={"events": many_shown(3)}, headers=bearer(keys.emitter))
        time.sleep(INTERVAL * 4)
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.checkpoints() == []
    warnings = [line["msg"] for line in lines(caplog, "api.checkpoints")]
    assert warnings == ["no active signing key: checkpoints are not signed until one is generated"]


def test_a_checkpoint_the_log_does_not_extend_is_an_integrity_alarm_at_every_tick(
    ledger: Ledger, ticking: Settings, paths: LedgerPaths, caplog: pytest.LogCaptureFixture,
    make_client: Callable[[Settings], TestClient],
) -> None:  # fmt: skip
    paths.checkpoint_dir.mkdir()
    forged = Checkpoint(DEFAULT_ORIGIN, 1000, bytes(32))  # "published" by someone with the key, never by this log
    CheckpointDirectory(paths.checkpoint_dir).write(sign_checkpoint(forged, KeyFolder(paths.keys_dir).active_key()))
    with caplog.at_level(logging.ERROR, logger="api.checkpoints"):
        make_client(ticking)
        time.sleep(INTERVAL * 4)
    alarms = lines(caplog, "api.checkpoints")
    assert len(alarms) >= 2
    assert {(a["level"], a["msg"], a["exc_type"]) for a in alarms} == {
        ("error", "integrity alarm: refusing to sign a checkpoint", "InconsistentCheckpoint")
    }
    assert ledger.checkpoints() == []


class FlakyRuntime:
    """A runtime whose store is unavailable for the first ``failures`` calls."""

    def __init__(self, store: Store, *, failures: int) -> None:
        self._store, self.failures = store, failures

    def store(self) -> Store:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("database unreachable at db.internal:5432 for Patient/pseud-LEAK")
        return self._store


def test_a_failed_tick_is_logged_by_type_only_and_retried_at_the_next(
    ledger: Ledger, paths: LedgerPaths, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(ledger, committer=None, keys=None, holds=None)  # type: ignore[arg-type]
    schedule = CheckpointSchedule(FlakyRuntime(store, failures=1), Signer(paths), interval=INTERVAL)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="api.checkpoints"):
        assert schedule.tick() is None
        signed = schedule.tick()
        assert schedule.tick() is None  # not grown since
    assert signed is not None and signed.new and signed.checkpoint.size == 2  # the key's event and the index
    logged = lines(caplog, "api.checkpoints")
    assert [(line["level"], line.get("exc_type")) for line in logged] == [
        ("warning", "StoreUnavailable"),
        ("info", None),
    ]
    assert logged[1]["seq"] == 2
    assert "LEAK" not in json.dumps(logged) and "db.internal" not in json.dumps(logged)


def test_the_schedule_runs_while_the_app_serves_and_stops_at_shutdown(ticking: Settings) -> None:
    with TestClient(create_app(ticking)) as client:
        schedule: CheckpointSchedule = client.app.state.checkpoints  # type: ignore[attr-defined]
        assert schedule.running
    assert not schedule.running


def test_an_interval_of_0_signs_only_on_demand(ticking: Settings) -> None:
    with TestClient(create_app(dataclasses.replace(ticking, checkpoint_interval_s=0))) as client:
        assert not client.app.state.checkpoints.running  # type: ignore[attr-defined]


def test_the_interval_comes_from_the_environment_and_defaults_to_60_s() -> None:
    assert Settings.from_env({}).checkpoint_interval_s == 60
    assert Settings.from_env({"LEDGER_CHECKPOINT_INTERVAL": "0.5"}).checkpoint_interval_s == 0.5


def _commit_seqs(ledger: Ledger) -> list[int]:
    return [record.seq for record in ledger.events_of_types(["index.committed"])]


def test_with_an_index_interval_a_signing_commits_the_index_only_once_its_last_commit_is_that_old(
    ledger: Ledger, paths: LedgerPaths
) -> None:
    """LEDGER_API_INDEX_INTERVAL_S: a signing commits the index when it never was, or was that long ago; the
    signings between sign the head alone."""
    store = Store(ledger, committer=None, keys=None, holds=None)  # type: ignore[arg-type]
    signer = Signer(paths, index_interval=3600)
    schedule = CheckpointSchedule(FlakyRuntime(store, failures=0), signer, interval=INTERVAL)  # type: ignore[arg-type]
    assert schedule.tick() is not None and _commit_seqs(ledger) == [2]  # never committed: committed now
    ledger.submit(many_shown(3))
    signed = schedule.tick()
    assert signed is not None and signed.checkpoint.size == 5 and _commit_seqs(ledger) == [2]
    signer.index_interval = 0  # every signing commits it
    ledger.submit(many_shown(2))
    signed = schedule.tick()
    assert signed is not None and signed.checkpoint.size == 8 and _commit_seqs(ledger) == [2, 8]  # 8: the commit at 7


def test_the_index_interval_comes_from_the_environment_and_defaults_to_every_signing() -> None:
    assert Settings.from_env({}).index_interval_s == 0
    assert Settings.from_env({"LEDGER_API_INDEX_INTERVAL_S": "600"}).index_interval_s == 600
    with pytest.raises(InputError, match="LEDGER_API_INDEX_INTERVAL_S must be at least 0"):
        Settings.from_env({"LEDGER_API_INDEX_INTERVAL_S": "-1"})
