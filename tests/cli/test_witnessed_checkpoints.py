"""The ledger's checkpoints cosigned by two witnesses over real HTTP, and the quorum checked by verification.

`ledger checkpoint --witness-policy` sends each new checkpoint to the policy's witnesses and publishes the
cosigned note beside the checkpoint; `ledger verify` and `ledger verify-bundle --witness-policy` check the
quorum (short of it: exit 1; a bad policy file: exit 2 naming it). On both stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.checkpointing import body_of
from ledger.config import DEFAULT_ORIGIN
from ledger.errors import InconsistentCheckpoint
from ledger.proof.checkpoint import CheckpointDirectory, sign_checkpoint
from ledger.proof.cosignature import check_quorum, cosign, parse_policy
from ledger.proof.keys import generate
from ledger.proof.note import parse_note
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests import sepsis_story as scenario
from tests.factories import many_shown
from tests.ledgers import env_settings
from tests.witnesses import WitnessFiles, running, witness_files

INCIDENT = "INC-2026-041"  # the sepsis story's
ACTOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@dataclass
class Setup:
    url: str
    keys: Path
    checkpoints: Path
    w1: WitnessFiles
    w2: WitnessFiles
    tmp: Path

    def args(self, *more: str) -> list[str]:
        return ["--database-url", self.url, "--keys-dir", str(self.keys), "--checkpoint-dir", str(self.checkpoints),
                *more]  # fmt: skip

    def policy(self, url1: str, url2: str, quorum: str = "both") -> Path:
        path = self.tmp / f"policy-{quorum}.txt"
        path.write_text(f"# the hospital's witnesses\n{self.w1.policy_line('w1', url1)}\n"
                        f"{self.w2.policy_line('w2', url2)}\ngroup both all w1 w2\nquorum {quorum}\n")  # fmt: skip
        return path

    def grow(self, count: int) -> None:
        with Ledger(env_settings(self.url)) as ledger:
            ledger.submit(many_shown(count))


@pytest.fixture
def setup(store_url: str, tmp_path: Path) -> Setup:
    keys = tmp_path / "keys"
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(scenario.story())
        key = KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None).key
    origin = env_settings(store_url).paths.origin
    assert origin == DEFAULT_ORIGIN
    w1 = witness_files(tmp_path / "w1", "w1.example", origin=origin, log_keys=[key])
    w2 = witness_files(tmp_path / "w2", "w2.example", origin=origin, log_keys=[key])
    return Setup(store_url, keys, tmp_path / "checkpoints", w1, w2, tmp_path)


@pytest.fixture
def two(setup: Setup) -> Iterator[tuple[str, str]]:
    with running(setup.w1) as url1, running(setup.w2) as url2:
        yield url1, url2


def _cosigned(setup: Setup) -> dict[int, str]:
    folder = CheckpointDirectory(setup.checkpoints)
    return {size: note for size in folder.sizes() if (note := folder.read_cosigned(size)) is not None}


def test_two_witnesses_cosign_a_growing_ledger_and_two_of_two_verifies(
    setup: Setup, two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = setup.policy(*two)
    for growth in (0, 3, 2):
        setup.grow(growth)
        assert main(["checkpoint", *setup.args("--witness-policy", str(policy))]) == 0
    cosigned = _cosigned(setup)
    assert len(cosigned) == 3
    folder = CheckpointDirectory(setup.checkpoints)
    for size, note in cosigned.items():
        assert note.startswith(folder.read(size))  # the ledger's bytes, then the witnesses' lines
        assert [s.name for s in parse_note(note).signatures] == ["ledger.test.example", "w1.example", "w2.example"]
        assert check_quorum(note, parse_policy(policy.read_text())).met
    capsys.readouterr()
    assert main(["verify", *setup.args("--witness-policy", str(policy))]) == 0
    assert "quorum both met; cosigned by w1 at" in capsys.readouterr().err


def test_checkpoint_short_of_its_quorum_fails_verification_with_exit_1(
    setup: Setup, two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    only_w1 = setup.tmp / "only-w1.txt"
    only_w1.write_text(f"{setup.w1.policy_line('w1', two[0])}\nquorum w1\n")
    assert main(["checkpoint", *setup.args("--witness-policy", str(only_w1))]) == 0
    capsys.readouterr()
    assert main(["verify", *setup.args("--witness-policy", str(setup.policy(*two)))]) == 1
    assert "witness quorum" in capsys.readouterr().err


def test_uncosigned_head_fails_verification_under_a_policy(
    setup: Setup, two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = setup.policy(*two)
    assert main(["checkpoint", *setup.args("--witness-policy", str(policy))]) == 0
    setup.grow(2)
    assert main(["checkpoint", *setup.args()]) == 0  # signed without witnesses: the head has no cosignature
    capsys.readouterr()
    assert main(["verify", *setup.args("--witness-policy", str(policy))]) == 1
    assert "quorum both NOT met; cosigned by no witness" in capsys.readouterr().err


def test_witness_unreachable_leaves_the_checkpoint_uncosigned_and_exit_3(
    setup: Setup, two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = setup.policy(two[0], "http://127.0.0.1:9")
    assert main(["checkpoint", *setup.args("--witness-policy", str(policy))]) == 3
    assert "w2: could not reach" in capsys.readouterr().err
    assert _cosigned(setup) == {}
    assert main(["checkpoint", *setup.args("--witness-policy", str(setup.policy(*two)))]) == 0  # sent again
    assert len(_cosigned(setup)) == 1


def test_bundle_carries_the_cosigned_checkpoint_and_verify_bundle_checks_the_quorum(
    setup: Setup, two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy, bundle = setup.policy(*two), setup.tmp / "bundle.json"
    export = ["export", "--incident", INCIDENT, *setup.args("--witness-policy", str(policy))]
    assert main([*export, "--output", str(bundle)]) == 0
    trusted = str(setup.keys / "trusted.keys")
    assert main(["verify-bundle", str(bundle), "--trusted-keys", trusted, "--witness-policy", str(policy)]) == 0
    assert "quorum both met" in capsys.readouterr().err
    assert main(["verify-bundle", str(bundle), "--trusted-keys", trusted]) == 0  # cosignatures ignored without one
    stranger = setup.tmp / "stranger.txt"
    other = witness_files(setup.tmp / "w3", "w3.example", origin=DEFAULT_ORIGIN, log_keys=[])
    stranger.write_text(f"witness w3 {other.vkey}\nquorum w3\n")
    assert main(["verify-bundle", str(bundle), "--trusted-keys", trusted, "--witness-policy", str(stranger)]) == 1


@pytest.mark.parametrize("command", ["verify", "verify-bundle", "checkpoint"])
def test_bad_policy_file_is_exit_2_naming_the_file(
    setup: Setup, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = setup.tmp / "bad-policy.txt"
    bad.write_text("witness w1 not-a-key\nquorum w1\n")
    argv = (
        [command, *setup.args()]
        if command != "verify-bundle"
        else [command, str(bad), "--trusted-keys", str(setup.keys / "trusted.keys")]
    )
    assert main([*argv, "--witness-policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"witness policy file {bad}: policy line 1" in err and "Traceback" not in err


def test_altered_cosignature_in_the_folder_is_a_finding(
    setup: Setup, two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = setup.policy(*two)
    assert main(["checkpoint", *setup.args("--witness-policy", str(policy))]) == 0
    ((size, note),) = _cosigned(setup).items()
    path = CheckpointDirectory(setup.checkpoints).cosigned_file_for(size)
    path.chmod(0o644)
    last = parse_note(note).signatures[-1]
    flipped = bytearray(last.signature)
    flipped[30] ^= 0x01
    path.write_text(note.replace(last.line(), type(last)(last.name, last.key_id, bytes(flipped)).line()))
    capsys.readouterr()
    assert main(["verify", *setup.args("--witness-policy", str(policy))]) == 1
    assert "witness cosignature: cosigned checkpoint: invalid cosignature by witness key w2.example" in (
        capsys.readouterr().err
    )


def test_cosigned_note_that_does_not_begin_with_the_published_checkpoint_is_refused(setup: Setup) -> None:
    assert main(["checkpoint", *setup.args()]) == 0
    folder = CheckpointDirectory(setup.checkpoints)
    (size,) = folder.sizes()
    published = folder.read(size)
    text = parse_note(published).text
    witness_line = cosign(text, setup.w1.key, timestamp=1).line()
    ledger_line = published[len(text) + 1 :]
    for note in (text + "\n" + witness_line + ledger_line, sign_checkpoint(body_of(published), generate("other"))):
        with pytest.raises(InconsistentCheckpoint, match=f"cosigned note of size {size} does not extend"):
            folder.write_cosigned(note + witness_line)
    assert folder.read_cosigned(size) is None
