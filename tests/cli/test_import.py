"""`ledger import FILE`: every line checked before any is appended; reruns append nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.store import Ledger
from scripts.cli import main
from tests.factories import many_shown, shown
from tests.ledgers import env_settings


def write_jsonl(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def run(*args: str) -> int:
    return main(list(args))


def test_import_appends_every_line_and_a_rerun_appends_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write_jsonl(tmp_path / "history.jsonl", many_shown(25))
    assert run("import", str(file), "--database-url", store_url, "--batch-size", "10") == 0
    assert "25 appended, 0 already recorded" in capsys.readouterr().err
    assert run("import", str(file), "--database-url", store_url) == 0
    assert "0 appended, 25 already recorded" in capsys.readouterr().err
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.head_seq() == 25


def test_an_invalid_line_is_named_with_its_field_and_nothing_is_appended(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = many_shown(5)
    events[3]["data"]["surface"] = ""  # type: ignore[index]
    file = write_jsonl(tmp_path / "bad.jsonl", events)
    assert run("import", str(file), "--database-url", sqlite_url) == 2
    err = capsys.readouterr().err
    assert "line 4: data.surface" in err and "nothing was appended" in err
    with Ledger(env_settings(sqlite_url)) as ledger:
        assert ledger.head_seq() == 0


def test_a_line_that_is_not_json_is_named(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "garbled.jsonl"
    file.write_text(json.dumps(shown()) + "\n{not json\n")
    assert run("import", str(file), "--database-url", sqlite_url) == 2
    assert "line 2" in capsys.readouterr().err


def test_a_line_conflicting_with_the_ledger_appends_nothing(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = shown()
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit([recorded])
    later = [*many_shown(3), shown(event_id=recorded["event_id"], clinician_id="dr-other")]
    file = write_jsonl(tmp_path / "conflict.jsonl", later)
    assert run("import", str(file), "--database-url", sqlite_url) == 2
    assert "line 4: event_id" in capsys.readouterr().err
    with Ledger(env_settings(sqlite_url)) as ledger:
        assert ledger.head_seq() == 1


def test_two_lines_with_one_event_id_and_different_content_append_nothing(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = shown()
    file = write_jsonl(tmp_path / "dup.jsonl", [first, shown(event_id=first["event_id"], clinician_id="x")])
    assert run("import", str(file), "--database-url", sqlite_url) == 2
    assert "also on line 1" in capsys.readouterr().err


def test_an_unreadable_file_cannot_run(sqlite_url: str, tmp_path: Path) -> None:
    assert run("import", str(tmp_path / "missing.jsonl"), "--database-url", sqlite_url) == 3
