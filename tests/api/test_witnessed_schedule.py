"""The server's scheduled checkpoints go to the witnesses of $LEDGER_WITNESS_POLICY, over real HTTP.

Cosigned once the quorum is met (published beside the checkpoint); a witness that cannot be reached leaves
the checkpoint uncosigned, said by a warning, and the next checkpoint is sent again. On both stores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.checkpoints import CheckpointSchedule, Signer
from api.runtime import Store
from api.settings import Settings
from ledger.config import DEFAULT_ORIGIN, LedgerPaths
from ledger.errors import InputError
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.proof.cosignature import check_quorum, parse_policy
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.factories import many_shown
from tests.ledgers import env_settings
from tests.witnesses import WitnessFiles, running, witness_files

OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


class _Runtime:
    def __init__(self, store: Store) -> None:
        self._store = store

    def store(self) -> Store:
        return self._store


@pytest.fixture
def paths(tmp_path: Path) -> LedgerPaths:
    return LedgerPaths(tmp_path / "keys", tmp_path / "checkpoints", DEFAULT_ORIGIN)


@pytest.fixture
def ledger_and_witness(store_url: str, paths: LedgerPaths, tmp_path: Path) -> Iterator[tuple[Ledger, WitnessFiles]]:
    with Ledger(env_settings(store_url)) as ledger:
        folder = KeyFolder(paths.keys_dir)
        key = folder.activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None).key
        yield ledger, witness_files(tmp_path / "w1", "w1.example", origin=DEFAULT_ORIGIN, log_keys=[key])


def _schedule(ledger: Ledger, paths: LedgerPaths, policy: str) -> CheckpointSchedule:
    store = Store(ledger, committer=None, keys=None, holds=None)  # type: ignore[arg-type]
    signer = Signer(paths, witnesses=parse_policy(policy))
    return CheckpointSchedule(_Runtime(store), signer, interval=60)  # type: ignore[arg-type]


def test_scheduled_checkpoints_are_cosigned_and_an_unreachable_witness_is_a_warning(
    ledger_and_witness: tuple[Ledger, WitnessFiles], paths: LedgerPaths, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, w1 = ledger_and_witness
    with running(w1) as url, caplog.at_level(logging.INFO, logger="api.checkpoints"):
        policy = f"{w1.policy_line('w1', url)}\nquorum w1\n"
        first = _schedule(ledger, paths, policy).tick()
    assert first is not None
    folder = CheckpointDirectory(paths.checkpoint_dir)
    cosigned = folder.read_cosigned(first.checkpoint.size)
    assert cosigned is not None and check_quorum(cosigned, parse_policy(policy)).met
    ledger.submit(many_shown(2))
    with caplog.at_level(logging.INFO, logger="api.checkpoints"):
        second = _schedule(ledger, paths, policy).tick()  # the witness has stopped: its URL answers no more
    assert second is not None and second.checkpoint.size > first.checkpoint.size
    assert folder.read_cosigned(second.checkpoint.size) is None
    assert "checkpoint cosigned by its witnesses" in caplog.messages
    assert "witness quorum not met: checkpoint published without cosignatures" in caplog.messages


def test_a_bad_witness_policy_file_stops_the_schedule_from_being_made_naming_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "policy.txt"
    bad.write_text("quorum w1\n")
    monkeypatch.setenv("LEDGER_WITNESS_POLICY", str(bad))
    with pytest.raises(InputError, match=f"witness policy file {bad}: policy line 1"):
        CheckpointSchedule.of(None, settings)  # type: ignore[arg-type]
