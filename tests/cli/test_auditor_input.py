"""Input the auditor or operator names that cannot be used: one line naming the file, exit 2 (or 3), never a
traceback, never "BROKEN".

Exit 1 is kept for well-formed evidence that the cryptography or the
recomputation contradicts: a file that is not UTF-8, not a checkpoint or not a
bundle proves nothing about the log, and the auditor must be told which file
and what is wrong with it. Every case runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests import sepsis_story as scenario
from tests.ledgers import env_settings

OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}
BINARY = bytes(range(256)) * 4  # byte 128 is the first that is not UTF-8
INCIDENT = "INC-2026-041"


@dataclass
class Setup:
    url: str
    tmp: Path
    keys: Path
    checkpoints: Path
    bundle: Path
    binary: Path

    @property
    def folders(self) -> list[str]:
        return ["--database-url", self.url, "--keys-dir", str(self.keys), "--checkpoint-dir", str(self.checkpoints)]

    @property
    def trusted(self) -> Path:
        return self.keys / "trusted.keys"

    def signed_checkpoint(self) -> Path:
        return sorted(self.checkpoints.glob("*.checkpoint"))[-1]


@pytest.fixture
def setup(store_url: str, tmp_path: Path) -> Setup:
    """A ledger holding the demo story, a signing key, a published checkpoint and an exported bundle."""
    keys, checkpoints, bundle, binary = (tmp_path / n for n in ("keys", "checkpoints", "bundle.json", "binary"))
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(scenario.story())
        KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None)
    binary.write_bytes(BINARY)
    done = Setup(store_url, tmp_path, keys, checkpoints, bundle, binary)
    assert main(["export", "--incident", INCIDENT, *done.folders, "--output", str(bundle)]) == 0
    return done


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], *, code: int = 2) -> str:
    """Run ``argv``; it must exit ``code`` with its error as the last line of stderr, and no verdict or traceback."""
    assert main(argv) == code
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "BROKEN" not in err and "INTACT" not in err and "VERIFIED" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("ledger"), err
    assert sum(line.startswith("ledger") for line in err.splitlines()) == 1, err  # one error line
    assert captured.out == ""
    return last


# -- 1. A binary file where text is expected ------------------------------------------------------


def test_binary_trusted_keys_for_verify_is_usage_naming_the_file(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(capsys, ["verify", *setup.folders, "--trusted-keys", str(setup.binary)])
    assert line == f"ledger: trusted keys file {setup.binary} is not UTF-8 text (byte 128 is not UTF-8)"


def test_binary_trusted_keys_for_verify_bundle_is_usage_naming_the_file(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(capsys, ["verify-bundle", str(setup.bundle), "--trusted-keys", str(setup.binary)])
    assert line == f"ledger: trusted keys file {setup.binary} is not UTF-8 text (byte 128 is not UTF-8)"


def test_binary_trusted_checkpoint_is_usage_naming_the_file(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, ["verify", *setup.folders, "--trusted-checkpoint", str(setup.binary)])
    assert line == f"ledger: trusted checkpoint {setup.binary} is not UTF-8 text (byte 128 is not UTF-8)"


def test_binary_file_in_the_published_checkpoint_folder_is_usage_naming_it(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    published = setup.checkpoints / f"{99:020d}.checkpoint"
    published.write_bytes(BINARY)
    line = refused(capsys, ["verify", *setup.folders, "--trusted-keys", str(setup.trusted)])
    assert line == f"ledger: published checkpoint {published} is not UTF-8 text (byte 128 is not UTF-8)"


def test_binary_master_key_file_is_usage_naming_the_file(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_MASTER_KEY")
    monkeypatch.setenv("LEDGER_MASTER_KEY_FILE", str(setup.binary))
    argv = ["erase", "--subject", "patient:Patient/pseud-5c2e", "--basis", "gdpr_art17", "--database-url", setup.url]
    line = refused(capsys, argv)
    assert line == f"ledger: master key file {setup.binary} is not UTF-8 text (byte 128 is not UTF-8)"


def test_binary_new_master_key_file_is_usage_and_nothing_is_rewrapped(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["master-key", "rotate", "--new-key-file", str(setup.binary), "--database-url", setup.url]
    line = refused(capsys, argv)
    assert line == f"ledger: master key file {setup.binary} is not UTF-8 text (byte 128 is not UTF-8)"
    assert setup.binary.read_bytes() == BINARY


def test_a_new_master_key_file_that_is_not_a_key_names_the_file(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    text = setup.tmp / "short.key"
    text.write_text("c2hvcnQ=\n")
    line = refused(capsys, ["master-key", "rotate", "--new-key-file", str(text), "--database-url", setup.url])
    assert line == f"ledger: master key file {text}: the master key must be 32 bytes (base64)"


# -- 2. Auditor input that does not parse is usage, not an integrity failure ----------------------


@pytest.mark.parametrize(
    ("content", "defect"),
    [
        (b"", "note is empty"),
        (b"garbage\n", "note has no blank line between its text and its signatures"),
        (b"origin\n5\n\n\xe2\x80\x94 k AAAA\n", "signature line 1: signature is too short"),
    ],
    ids=["empty", "garbage", "short-signature"],
)
def test_unparsable_trusted_checkpoint_is_usage_with_the_parsers_message(
    setup: Setup, capsys: pytest.CaptureFixture[str], content: bytes, defect: str
) -> None:
    mine = setup.tmp / "mine.checkpoint"
    mine.write_bytes(content)
    line = refused(capsys, ["verify", *setup.folders, "--trusted-checkpoint", str(mine)])
    assert line.startswith(f"ledger: trusted checkpoint {mine}: {defect}")


def test_garbage_in_the_published_checkpoint_folder_is_usage_naming_the_file(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    stray = setup.checkpoints / "stray.checkpoint"
    stray.write_text("not a checkpoint\n")
    line = refused(capsys, ["verify", *setup.folders, "--trusted-keys", str(setup.trusted)])
    assert line == f"ledger: published checkpoint {stray}: note has no blank line between its text and its signatures"


def test_a_well_formed_checkpoint_the_log_contradicts_is_still_a_finding(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other half of the rule: what parses and is contradicted by the log stays exit 1."""
    mine = setup.tmp / "mine.checkpoint"
    text = setup.signed_checkpoint().read_text()
    lines = text.split("\n")
    lines[1] = str(int(lines[1]) + 5)  # a larger tree: the log looks truncated; the signature no longer verifies
    mine.write_text("\n".join(lines))
    argv = ["verify", *setup.folders, "--trusted-keys", str(setup.trusted), "--trusted-checkpoint", str(mine)]
    assert main(argv) == 1
    assert "log truncated" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "defect"),
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b"[]", "the bundle is a JSON array, not an object"),
        (b"null", "the bundle is a JSON null, not an object"),
        (b'"text"', "the bundle is a JSON string, not an object"),
        (b"{}", "fields must be exactly"),
        (BINARY, "the bundle is not UTF-8 text (byte 128 is not UTF-8)"),
        (b"{\x00}", "not JSON"),
    ],
    ids=["empty", "blank", "array", "null", "string", "empty-object", "binary", "nul"],
)
def test_a_file_that_is_not_a_bundle_is_usage_naming_the_defect(
    setup: Setup, capsys: pytest.CaptureFixture[str], content: bytes, defect: str
) -> None:
    path = setup.tmp / "not-a-bundle.json"
    path.write_bytes(content)
    line = refused(capsys, ["verify-bundle", str(path), "--trusted-keys", str(setup.trusted)])
    assert line.startswith(f"ledger: {path} is not a well-formed bundle: {defect}")


def test_a_truncated_bundle_is_usage_at_every_cut(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    data = setup.bundle.read_bytes()
    path = setup.tmp / "cut.json"
    for cut in sorted({1, 2, len(data) // 3, len(data) // 2, len(data) - 3, len(data) - 2}):
        path.write_bytes(data[:cut])
        line = refused(capsys, ["verify-bundle", str(path), "--trusted-keys", str(setup.trusted)])
        assert line.startswith(f"ledger: {path} is not a well-formed bundle: not JSON"), cut


def test_a_bundle_whose_checkpoint_is_not_a_signed_note_is_usage(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    text = setup.bundle.read_text()
    start = text.index('"checkpoint": "') + len('"checkpoint": "')
    path = setup.tmp / "bad-checkpoint.json"
    path.write_text(text[:start] + "garbage\\n" + text[text.index('"', start) :])
    line = refused(capsys, ["verify-bundle", str(path), "--trusted-keys", str(setup.trusted)])
    assert line.endswith("is not a well-formed bundle: checkpoint: note has no blank line between its text and its "
                         "signatures")  # fmt: skip


# -- 5. --checkpoint-dir that is not a folder ------------------------------------------------------


def test_checkpoint_dir_naming_a_file_is_usage(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--database-url", setup.url, "--checkpoint-dir", str(setup.bundle)]
    line = refused(capsys, [*argv, "--trusted-keys", str(setup.trusted)])
    assert line == f"ledger: checkpoint folder {setup.bundle} is not a folder"


def test_checkpoint_dir_named_but_missing_cannot_run(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    missing = setup.tmp / "typo"
    argv = ["verify", "--database-url", setup.url, "--checkpoint-dir", str(missing)]
    line = refused(capsys, [*argv, "--trusted-keys", str(setup.trusted)], code=3)
    assert line == f"ledger: could not run: no such checkpoint folder: {missing}"


def test_an_empty_checkpoint_folder_is_said_to_hold_none(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    empty = setup.tmp / "empty"
    empty.mkdir()
    argv = ["verify", "--database-url", setup.url, "--checkpoint-dir", str(empty), "--trusted-keys", str(setup.trusted)]
    assert main(argv) == 0
    assert f"0 published checkpoints in {empty}" in capsys.readouterr().err
