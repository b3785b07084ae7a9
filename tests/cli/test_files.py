"""A file named on the command line that cannot be read or written: one line, exit 3 (could not run), no traceback.

Exit 1 means the evidence failed a check; a missing file is not evidence of anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests import sepsis_story as scenario
from tests.ledgers import env_settings

OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


@pytest.mark.parametrize(
    "arguments",
    [
        ["verify", "--trusted-checkpoint", "{missing}"],
        ["verify", "--trusted-keys", "{missing}"],
        ["export", "--incident", "INC-2026-041", "--output", "{missing}/bundle.json"],
    ],
)
def test_a_missing_file_is_could_not_run_in_one_line(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(scenario.story())
        KeyFolder(tmp_path / "keys").activate_new("ledger.test.example", ledger=ledger, actor=OPERATOR, reason=None)
    missing = str(tmp_path / "absent")
    argv = [a.replace("{missing}", missing) for a in arguments]
    (tmp_path / "checkpoints").mkdir()  # a --checkpoint-dir named must exist (another test checks that)
    folders = ["--keys-dir", str(tmp_path / "keys"), "--checkpoint-dir", str(tmp_path / "checkpoints")]
    assert main([*argv, "--database-url", sqlite_url, *folders]) == 3
    err = capsys.readouterr().err
    assert "ledger: could not run: No such file or directory: " + missing in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["verify"], ["master-key", "status"], ["erase", "--subject", "patient:P-1",
                                                                            "--basis", "gdpr_art17"]])  # fmt: skip
def test_a_file_that_is_not_a_database_is_could_not_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(bytes(range(256)) * 20)
    assert main([*command, "--database-url", f"sqlite:///{junk}"]) == 3
    err = capsys.readouterr().err
    assert "ledger: could not run: database error: InterfaceError (file is not a database)" in err
    assert "Traceback" not in err
