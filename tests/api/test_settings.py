"""Settings from the environment: a malformed value is refused by name, and `ledger serve` says so in one line."""

from __future__ import annotations

import pytest

from api.settings import Settings
from ledger.errors import InputError
from scripts import serve
from scripts.cli import main


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("LEDGER_API_GROUP_MAX_WAIT_MS", "abc", "must be a number"),
        ("LEDGER_API_GROUP_MAX_EVENTS", "2.5", "must be an integer"),
        ("LEDGER_API_GROUP_MAX_EVENTS", "0", "must be at least 1"),
        ("LEDGER_API_APPEND_TIMEOUT_S", "0", "must be at least 0.001"),
        ("LEDGER_API_KEY_CACHE_S", "nan", "must be at least 0"),
        ("LEDGER_CHECKPOINT_INTERVAL", "-1", "must be at least 0"),
    ],
)
def test_a_malformed_setting_is_refused_naming_its_variable(variable: str, raw: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^{variable} {message}"):
        Settings.from_env({variable: raw})


def test_well_formed_settings_are_read() -> None:
    settings = Settings.from_env({"LEDGER_API_GROUP_MAX_EVENTS": "64", "LEDGER_API_GROUP_MAX_WAIT_MS": "2.5"})
    assert (settings.group_max_events, settings.group_max_wait_ms) == (64, 2.5)


def test_serve_with_a_malformed_setting_stops_before_uvicorn_with_one_line_and_exit_2(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("uvicorn started")

    monkeypatch.setattr(serve.uvicorn, "run", started)
    monkeypatch.setenv("LEDGER_DATABASE_URL", sqlite_url)  # serve sets it for its workers: restored after the test
    monkeypatch.setenv("LEDGER_API_GROUP_MAX_WAIT_MS", "abc")
    assert main(["serve", "--database-url", sqlite_url]) == 2
    err = capsys.readouterr().err
    assert "ledger: LEDGER_API_GROUP_MAX_WAIT_MS must be a number" in err and "Traceback" not in err
