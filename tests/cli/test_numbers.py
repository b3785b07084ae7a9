"""Numbers on the command line: finite and in range, or one line and exit 2 (never a traceback from date or
sleep arithmetic on nan, inf or 1e308)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.store import Ledger
from scripts.cli import main
from scripts.common import counted
from tests.factories import many_shown
from tests.ledgers import env_settings


@pytest.mark.parametrize("years", ["nan", "1e308", "inf", "-inf", "-1", "0", "1000.5", "abc", ""])
def test_retention_years_outside_0_to_1000_is_one_line_and_exit_2(
    years: str, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["retention", f"--years={years}", "--database-url", sqlite_url])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ledger retention: argument --years: ")
    assert "greater than 0 and at most 1000" in err and "Traceback" not in err


@pytest.mark.parametrize("years", ["0.5", "1000", "6"])
def test_retention_years_in_range_are_taken(years: str, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retention", f"--years={years}", "--database-url", store_url]) == 0
    assert f"0 subjects past {float(years):g} years" in capsys.readouterr().err


def test_retention_help_says_which_years_are_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["retention", "--help"])
    assert "greater than 0 and at most 1000" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("option", "value"), [("--interval", "1e308"), ("--interval", "nan"), ("--interval", "0"),
                                               ("--pause", "inf"), ("--pause", "-1")])  # fmt: skip
def test_projection_intervals_outside_their_range_are_one_line_and_exit_2(
    option: str, value: str, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["projections", "run", "--follow", f"{option}={value}", "--database-url", sqlite_url])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ledger projections run: argument {option}: ")


def test_any_usage_error_is_one_line_pointing_at_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--format", "yaml"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice" in err and "(see `ledger verify --help`)" in err


@pytest.mark.parametrize(("number", "text"), [(0, "0 problems"), (1, "1 problem"), (2, "2 problems")])
def test_counts_agree_with_their_noun(number: int, text: str) -> None:
    assert counted(number, "problem") == text


def test_verify_counts_one_event_and_one_published_checkpoint_in_the_singular(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(many_shown(1))
    keys, published = tmp_path / "keys", tmp_path / "published"
    published.mkdir()
    folders = ["--database-url", store_url, "--keys-dir", str(keys), "--checkpoint-dir", str(published)]
    assert main(["verify", *folders]) == 0
    err = capsys.readouterr().err
    assert "INTACT: 1 event," in err and "0 published checkpoints in" in err and "0 checkpoints checked" in err
    assert main(["signing-keys", "generate", "--name", "ledger.test.example", *folders[:4]]) == 0
    assert main(["checkpoint", *folders]) == 0
    capsys.readouterr()
    assert main(["verify", *folders]) == 0
    err = capsys.readouterr().err
    assert "1 published checkpoint in" in err and "2 checkpoints checked" in err  # the database's and the folder's
