"""A ledger that does not exist yet: commands that write create it (a PostgreSQL ``?schema=`` included), commands
that only read create nothing and say so in one line (exit 3), never "database error: ProgrammingError"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.proof.keys import generate, save_signing_key
from scripts.cli import main
from tests.conftest import PG_ADMIN_URL, require_postgres


def _schema_exists(name: str) -> bool:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone() is not None


@pytest.fixture(params=["sqlite", "postgres"])
def absent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(a URL naming a ledger that does not exist, what the read-only refusal says of it); removed afterwards."""
    if request.param == "sqlite":
        path = tmp_path / "not-yet" / "ledger.sqlite3"
        yield f"sqlite:///{path}", f"no ledger database at {path}"
        return
    require_postgres(request.node.nodeid)
    schema = f"t_absent_{uuid.uuid4().hex[:10]}"
    yield f"{PG_ADMIN_URL}?schema={schema}", f"schema {schema} does not exist"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _exists(url: str) -> bool:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return _schema_exists(url.rsplit("?schema=", 1)[1])


def _a_signing_key(folder: Path) -> None:
    """An active signing key made without a ledger (`ledger checkpoint` and `export` look for it first)."""
    folder.mkdir()
    save_signing_key(generate("ledger.test.example"), folder / "ledger.test.example-00000000.key")
    (folder / "active").write_text("ledger.test.example-00000000.key\n")


READ_ONLY = [
    ["verify"],
    ["export", "--incident", "INC-1"],
    ["checkpoint"],
    ["master-key", "status"],
    ["projections", "status"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=[" ".join(c[:2]) for c in READ_ONLY])
def test_a_read_only_command_on_an_absent_ledger_creates_nothing_and_says_so_in_one_line(
    absent: tuple[str, str], command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, says = absent
    folders = ["--keys-dir", str(tmp_path / "keys"), "--checkpoint-dir", str(tmp_path / "cps")]
    folders = folders if command[0] in ("export", "checkpoint") else []
    (tmp_path / "cps").mkdir()
    _a_signing_key(tmp_path / "keys")
    assert main([*command, "--database-url", url, *folders]) == 3
    err = capsys.readouterr().err
    assert f"ledger: could not run: {says}" in err and "ProgrammingError" not in err and "Traceback" not in err
    assert not _exists(url)


WRITING = [
    ["legal-hold", "place", "--incident", "INC-1", "--hold-id", "h-1", "--authority", "counsel"],
    ["retention", "--years", "6"],
    ["signing-keys", "generate", "--name", "ledger.test.example"],
]


@pytest.mark.parametrize("command", WRITING, ids=[c[0] for c in WRITING])
def test_a_writing_command_creates_the_ledger_where_the_url_says_then_it_verifies(
    absent: tuple[str, str], command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = absent
    keys = ["--keys-dir", str(tmp_path / "keys")] if command[0] == "signing-keys" else []
    assert main([*command, "--database-url", url, *keys]) == 0, capsys.readouterr().err
    assert _exists(url)
    empty = tmp_path / "no-checkpoints"
    empty.mkdir()
    assert main(["verify", "--database-url", url, "--checkpoint-dir", str(empty)]) == 0


def test_a_read_only_command_on_a_schema_without_a_ledger_says_so(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--database-url", pg_url]) == 3
    err = capsys.readouterr().err
    assert "ledger: could not run: no ledger at postgresql://" in err and "ProgrammingError" not in err
