"""`ledger projections status | rebuild | run`: what they print and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ledger.store import Ledger
from tests.attacker import Attacker
from tests.factories import many_shown
from tests.ledgers import env_settings


def ledger_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "projections", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_then_status_shows_every_view_current_with_exit_0(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(12))
    done = ledger_cmd("run", "--database-url", sqlite_url)
    assert done.returncode == 0, done.stderr
    assert "views current up to seq 12" in done.stderr
    status = ledger_cmd("status", "--database-url", sqlite_url, "--format", "json")
    assert status.returncode == 0, status.stderr
    views = json.loads(status.stdout)
    assert {(v["name"], v["position"], v["head"], v["lag_events"], v["state"]) for v in views} == {
        ("events", 12, 12, 0, "current"),
        ("outputs", 12, 12, 0, "current"),
        ("incidents", 12, 12, 0, "current"),
    }
    assert "events" in status.stderr and "current" in status.stderr


def test_status_shows_the_lag_of_views_behind_the_log(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(3))
        assert ledger_cmd("run", "--database-url", sqlite_url).returncode == 0
        ledger.submit(many_shown(2, prefix="new"))
    status = ledger_cmd("status", "--database-url", sqlite_url, "--format", "json")
    assert {(v["position"], v["lag_events"], v["state"]) for v in json.loads(status.stdout)} == {(3, 2, "behind")}


def test_rebuild_reports_its_rate(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(40))
    done = ledger_cmd("rebuild", "--database-url", sqlite_url, "--batch-size", "7")
    assert done.returncode == 0, done.stderr
    assert "rebuilt: 40 records" in done.stderr and "records/s" in done.stderr


def test_a_failed_projection_exits_1_naming_the_seq_and_status_keeps_saying_so(sqlite_url: str) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(many_shown(6))
    Attacker(sqlite_url).run("UPDATE {events} SET state = %s WHERE seq = 5", params=(b"garbage",))
    done = ledger_cmd("run", "--database-url", sqlite_url)
    assert done.returncode == 1
    assert "stopped at seq 5 (output.shown)" in done.stderr and "will not skip" in done.stderr
    status = ledger_cmd("status", "--database-url", sqlite_url)
    assert status.returncode == 1
    assert "FAILED at seq 5 (output.shown)" in status.stderr
    assert "Traceback" not in done.stderr + status.stderr


def test_usage_errors_exit_2_and_a_missing_database_exits_3(tmp_path: Path) -> None:
    assert ledger_cmd("frobnicate").returncode == 2
    assert ledger_cmd("rebuild", "--batch-size", "0").returncode == 2
    missing = ledger_cmd("status", "--database-url", f"sqlite:///{tmp_path}/none.sqlite3")
    assert missing.returncode == 3 and "no ledger database" in missing.stderr
    assert not (tmp_path / "none.sqlite3").exists()
