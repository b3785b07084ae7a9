"""`ledger witness`: its key's vkey is the policy's, and a bad logs file stops it before it serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.proof.cosignature import parse_cosigner_key
from scripts.cli import main


def test_generate_key_prints_the_cosigner_vkey_that_vkey_prints_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "w1.key"
    assert main(["witness", "generate-key", "--name", "witness.example/w1", "--key-file", str(key_file)]) == 0
    made = capsys.readouterr().out.strip()
    assert main(["witness", "vkey", "--key-file", str(key_file)]) == 0
    assert capsys.readouterr().out.strip() == made
    assert parse_cosigner_key(made).name == "witness.example/w1"
    assert key_file.stat().st_mode & 0o077 == 0


def test_generate_key_never_replaces_a_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "w1.key"
    key_file.write_text("kept")
    assert main(["witness", "generate-key", "--name", "w1", "--key-file", str(key_file)]) == 3
    assert key_file.read_text() == "kept"


def test_serve_refuses_a_malformed_logs_file_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file, logs = tmp_path / "w1.key", tmp_path / "logs.txt"
    assert main(["witness", "generate-key", "--name", "w1", "--key-file", str(key_file)]) == 0
    logs.write_text("# the ledgers we watch\nlog hospital.example/ledger not-a-vkey\n")
    state = tmp_path / "w1.sqlite3"
    code = main(["witness", "serve", "--key-file", str(key_file), "--logs", str(logs), "--state", str(state)])
    assert code == 2
    assert "logs file line 2" in capsys.readouterr().err
    assert not state.exists()
