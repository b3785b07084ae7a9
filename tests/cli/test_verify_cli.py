"""`ledger verify` exit codes as the auditor sees them, through the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ledger.store import Ledger
from tests.factories import many_shown
from tests.ledgers import env_settings


def ledger_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_intact_ledger_exits_0_with_a_json_report_on_stdout(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(3))
    done = ledger_cmd("verify", "--database-url", sqlite_url, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["intact"] is True and report["events"] == 3 and report["head"]["seq"] == 3
    assert "INTACT: 3 events" in done.stderr


def test_usage_error_exits_2() -> None:
    assert ledger_cmd("verify", "--format", "yaml").returncode == 2


def test_missing_sqlite_file_cannot_run(tmp_path: Path) -> None:
    done = ledger_cmd("verify", "--database-url", f"sqlite:///{tmp_path}/nothing.sqlite3")
    assert done.returncode == 3
    assert "no ledger database" in done.stderr
    assert not (tmp_path / "nothing.sqlite3").exists()  # verification never creates a ledger


def test_unreachable_postgres_cannot_run() -> None:
    done = ledger_cmd("verify", "--database-url", "postgresql://postgres@127.0.0.1:9/ledger")
    assert done.returncode == 3
    assert "could not run" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_database_url_is_a_usage_error() -> None:
    done = ledger_cmd("verify", "--database-url", "mysql://x/y")
    assert done.returncode == 2
    assert "sqlite:///" in done.stderr
