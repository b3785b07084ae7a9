"""State that belongs to one ledger stays with it: two ledgers on one machine never check each other's heads.

Each ledger's keys and published checkpoints default to its own state folder
(beside the SQLite file, or one per PostgreSQL schema), and a checkpoint folder
names the ledger it belongs to, so a folder shared by mistake is refused as bad
input (exit 2), never reported as tampering (exit 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from ledger.config import CHECKPOINT_DIR_ENV, KEYS_DIR_ENV, STATE_DIR_ENV, default_state_dir
from ledger.ownership import IDENTITY_FILE
from ledger.store import Ledger, parse_database_url
from scripts import serve
from scripts.cli import main
from tests import sepsis_story
from tests.conftest import PG_ADMIN_URL
from tests.ledgers import env_settings


@pytest.fixture
def in_a_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder is an empty one and nothing is configured: the defaults a new user gets."""
    monkeypatch.chdir(tmp_path)
    for variable in ("LEDGER_DATABASE_URL", STATE_DIR_ENV, KEYS_DIR_ENV, CHECKPOINT_DIR_ENV):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def _record_story(url: str | None = None) -> None:
    """The small sepsis story (19 events) recorded at ``url`` (else the default ledger), as `ledger demo` once did."""
    with Ledger(env_settings(url)) as ledger:
        ledger.submit(sepsis_story.story())


def _publish(*database: str) -> None:
    """Record the sepsis story, make a signing key and publish a checkpoint, all in the default folders."""
    _record_story(*database[1:])
    assert main(["signing-keys", "generate", "--name", "ledger.test.example", *database]) == 0
    assert main(["checkpoint", *database]) == 0


def _wipe(url: str) -> None:
    """The database at ``url`` emptied in place (the same file, the same schema)."""
    parsed = parse_database_url(url)
    if parsed.sqlite_path is not None:
        parsed.sqlite_path.unlink()
        return
    schema = parsed.settings["POSTGRES_SCHEMA"]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


def test_a_ledger_beside_one_that_published_checkpoints_verifies_intact_not_truncated(
    in_a_fresh_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish()  # the README's ledger, var/ledger.sqlite3, with a checkpoint of size 20
    _record_story("sqlite:///other.sqlite3")  # 19 events, no checkpoint
    capsys.readouterr()

    code = main(["verify", "--database-url", "sqlite:///other.sqlite3"])

    err = capsys.readouterr().err
    assert (code, "BROKEN" in err, "truncated" in err) == (0, False, False)
    assert "INTACT: 19 events" in err
    assert main(["verify"]) == 0  # and the first ledger still checks its own (the database's, the folder's)
    assert "2 checkpoints checked" in capsys.readouterr().err


def test_two_ledgers_run_from_one_folder_each_verify_intact_against_their_own_checkpoints(
    in_a_fresh_folder: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "sqlite:///other.sqlite3"
    _publish("--database-url", store_url)
    _publish("--database-url", other)
    capsys.readouterr()

    codes = [main(["verify", "--database-url", url]) for url in (store_url, other)]

    err = capsys.readouterr().err
    assert codes == [0, 0] and "BROKEN" not in err and err.count("2 checkpoints checked") == 2
    assert env_settings(store_url).paths.state_dir != env_settings(other).paths.state_dir


def test_each_sqlite_ledger_keeps_its_keys_and_checkpoints_beside_its_file(
    in_a_fresh_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_MASTER_KEY")  # the master key's default place too
    _publish()
    _publish("--database-url", "sqlite:///other.sqlite3")

    for state in (Path("var/ledger.d"), Path("other.d")):
        assert (state / "keys" / "trusted.keys").is_file()
        assert [p.name for p in (state / "checkpoints").glob("*.checkpoint")] == [
            "00000000000000000021.checkpoint"
        ]  # 20 events and the index commit
    assert not Path("var/keys").exists() and not Path("var/checkpoints").exists()
    assert Path("var/ledger.d/keys/master.key").read_bytes() != Path("other.d/keys/master.key").read_bytes()


def test_a_checkpoint_folder_of_another_ledger_is_refused_with_exit_2_never_broken(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared-checkpoints"
    ours = ["--database-url", store_url, "--checkpoint-dir", str(shared), "--keys-dir", str(tmp_path / "keys")]
    _record_story(store_url)
    assert main(["signing-keys", "generate", "--name", "ledger.test.example", *ours[:2], *ours[4:]]) == 0
    assert main(["checkpoint", *ours]) == 0
    other = f"sqlite:///{tmp_path}/other.sqlite3"
    _record_story(other)
    capsys.readouterr()

    code = main(["verify", "--database-url", other, "--checkpoint-dir", str(shared)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"the checkpoint folder {shared} belongs to another ledger" in err
    lines = err.strip().splitlines()
    assert "BROKEN" not in err and len(lines) == 3  # "1 published checkpoint in DIR", "verifying ...", the refusal
    assert "belongs to another ledger" in lines[-1]
    assert main(["verify", *ours]) == 0  # its own ledger still verifies against it


def test_signing_into_another_ledgers_checkpoint_folder_is_refused_and_writes_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, shared = ["--keys-dir", str(tmp_path / "keys")], tmp_path / "shared"
    other = f"sqlite:///{tmp_path}/other.sqlite3"
    for url in (other, store_url):
        _record_story(url)
    assert main(["signing-keys", "generate", "--name", "ledger.test.example", "--database-url", other, *keys]) == 0
    assert main(["checkpoint", "--database-url", other, *keys, "--checkpoint-dir", str(shared)]) == 0
    before = sorted(p.name for p in shared.iterdir())
    capsys.readouterr()

    code = main(["checkpoint", "--database-url", store_url, *keys, "--checkpoint-dir", str(shared)])

    assert (code, sorted(p.name for p in shared.iterdir())) == (2, before)
    assert "belongs to another ledger" in capsys.readouterr().err


def test_serve_with_another_ledgers_checkpoint_folder_stops_before_uvicorn_with_exit_2(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, shared = ["--keys-dir", str(tmp_path / "keys")], tmp_path / "shared"
    other = f"sqlite:///{tmp_path}/other.sqlite3"
    for url in (other, store_url):
        _record_story(url)
    assert main(["signing-keys", "generate", "--name", "ledger.test.example", "--database-url", other, *keys]) == 0
    assert main(["checkpoint", "--database-url", other, *keys, "--checkpoint-dir", str(shared)]) == 0
    monkeypatch.setattr(serve.uvicorn, "run", _uvicorn_must_not_start)
    monkeypatch.setenv("LEDGER_DATABASE_URL", store_url)  # serve sets it for its workers: restored after the test
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(shared))
    capsys.readouterr()

    assert main(["serve", "--database-url", store_url]) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint folder {shared} belongs to another ledger" in err and "Traceback" not in err


def _uvicorn_must_not_start(*args: object, **kwargs: object) -> None:
    raise AssertionError("uvicorn started")


def test_the_same_database_emptied_and_refilled_is_reported_broken_not_foreign(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = ["--checkpoint-dir", str(tmp_path / "published"), "--keys-dir", str(tmp_path / "keys")]
    _record_story(store_url)
    assert main(["signing-keys", "generate", "--name", "ledger.test.example", "--database-url", store_url,
                 folders[2], folders[3]]) == 0  # fmt: skip
    assert main(["checkpoint", "--database-url", store_url, *folders]) == 0
    _wipe(store_url)
    _record_story(store_url)  # the same place, a log rewritten from its first entry
    capsys.readouterr()

    code = main(["verify", "--database-url", store_url, *folders])

    err = capsys.readouterr().err
    assert code == 1 and "BROKEN" in err and "another ledger" not in err


def test_the_identity_file_names_the_first_entry_and_the_database(sqlite_url: str, tmp_path: Path) -> None:
    folders = ["--checkpoint-dir", str(tmp_path / "published"), "--keys-dir", str(tmp_path / "keys")]
    _record_story(sqlite_url)
    assert main(["signing-keys", "generate", "--name", "n.example", "--database-url", sqlite_url, *folders[2:]]) == 0
    assert main(["checkpoint", "--database-url", sqlite_url, *folders]) == 0

    text = (tmp_path / "published" / IDENTITY_FILE).read_text()

    assert f'"database":"sqlite:///{tmp_path.resolve()}/ledger.sqlite3"' in text
    assert '"first_entry_hash":"' in text


def test_a_garbled_identity_file_is_bad_input_exit_2(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = tmp_path / "published"
    published.mkdir()
    (published / IDENTITY_FILE).write_bytes(b"\x00\xffnot json")
    _record_story(sqlite_url)
    capsys.readouterr()

    code = main(["verify", "--database-url", sqlite_url, "--checkpoint-dir", str(published)])

    assert code == 2
    assert "is not a ledger identity file" in capsys.readouterr().err


def test_default_state_folders_are_derived_from_the_database() -> None:
    def state(url: str) -> Path:
        return default_state_dir(parse_database_url(url))

    assert state("sqlite:///var/ledger.sqlite3") == Path("var/ledger.d")
    assert state("sqlite:////srv/a/north.db") == Path("/srv/a/north.d")
    assert state("sqlite:///x.d") == Path("x.d.d")  # never the database file itself
    assert state("postgresql://u:secret@db.example:5433/ledger") == Path("var/postgresql/db.example_5433_ledger_public")
    assert state("postgresql://db.example/ledger?schema=north") == Path("var/postgresql/db.example_5432_ledger_north")
    unsafe = state("postgresql://db.example/le%2Fdger?schema=n")
    assert unsafe.parent == Path("var/postgresql") and unsafe.name.startswith("db.example_5432_le-dger_n-")
    assert "secret" not in str(state("postgresql://u:secret@db.example:5433/ledger"))


def test_explicit_folders_win_over_the_environment_which_wins_over_the_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/a.sqlite3"
    monkeypatch.delenv(STATE_DIR_ENV)
    assert env_settings(url).paths.keys_dir == tmp_path / "a.d" / "keys"
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    assert env_settings(url).paths.checkpoint_dir == tmp_path / "state" / "checkpoints"
    monkeypatch.setenv(KEYS_DIR_ENV, str(tmp_path / "env-keys"))
    assert env_settings(url).paths.keys_dir == tmp_path / "env-keys"
    assert env_settings(url, keys_dir="given").paths.keys_dir == Path("given")


def test_a_clone_with_the_earlier_shared_folders_keeps_them_for_the_default_ledger_only(
    in_a_fresh_folder: Path,
) -> None:
    Path("var/keys").mkdir(parents=True)
    Path("var/checkpoints").mkdir()

    default, other = env_settings().paths, env_settings("sqlite:///other.sqlite3").paths

    assert (default.keys_dir, default.checkpoint_dir) == (Path("var/keys"), Path("var/checkpoints"))
    assert (other.keys_dir, other.checkpoint_dir) == (Path("other.d/keys"), Path("other.d/checkpoints"))
    Path("var/ledger.d").mkdir()  # once moved into its state folder, the state folder is used
    assert env_settings().paths.keys_dir == Path("var/ledger.d/keys")


def test_no_test_sees_the_working_folders_var(request: pytest.FixtureRequest) -> None:
    paths = env_settings().paths
    root = Path(str(request.config.rootpath)).resolve()
    for folder in (paths.state_dir, paths.keys_dir, paths.checkpoint_dir):
        assert root not in folder.resolve().parents
    assert root not in Path(os.environ["LEDGER_DATABASE_URL"].removeprefix("sqlite:///")).resolve().parents
