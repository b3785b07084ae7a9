"""Fixtures shared by every suite: a fresh store per test, on SQLite and on PostgreSQL.

PostgreSQL is real, never mocked. Each test gets its own schema in the database
named by $LEDGER_TEST_POSTGRES_URL (default: the machine's local server,
database ``test``), dropped afterwards. Where no server answers, PostgreSQL
tests are skipped and the run says so plainly at the end; with
LEDGER_REQUIRE_POSTGRES=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest

from ledger.config import CHECKPOINT_DIR_ENV, KEYS_DIR_ENV, STATE_DIR_ENV

# A fixed master key for every test (and the commands they start), so no test writes
# var/keys/master.key into the working tree. Tests of key handling set their own.
os.environ.setdefault("LEDGER_MASTER_KEY", "3vxU6oeIvQpEozSTtwJ4N0F2wrkuqgAVQD62DL6+PbA=")

PG_ADMIN_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
_skipped_postgres: list[str] = []


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_ADMIN_URL.split('@')[-1]} unreachable ({type(exc).__name__})"
    return None


def require_postgres(nodeid: str) -> None:
    """Skip (or, under CI, fail) the current test when PostgreSQL is unavailable."""
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem}, and LEDGER_REQUIRE_POSTGRES=1 forbids skipping", pytrace=False)
    _skipped_postgres.append(nodeid)
    pytest.skip(problem)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


@pytest.fixture(autouse=True)
def state_outside_the_working_tree(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's default database and state folder are its own, never the working folder's var/.

    Set in the environment, so the commands a test starts inherit them. A test
    of the defaults themselves deletes them (monkeypatch.delenv) or sets its own.
    Whatever the shell running pytest exported is left out: no test touches
    the user's own ledger.
    """
    home = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{home}/default.sqlite3")
    monkeypatch.setenv(STATE_DIR_ENV, str(home / "default.d"))
    monkeypatch.delenv(KEYS_DIR_ENV, raising=False)
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)


@pytest.fixture
def pg_schema(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema; dropped after the test."""
    require_postgres(request.node.nodeid)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with _admin() as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A ledger URL on the fresh schema."""
    return f"{PG_ADMIN_URL}?schema={pg_schema}"


@pytest.fixture
def sqlite_url(tmp_path: pytest.TempPathFactory) -> str:
    """A ledger URL on a fresh SQLite file."""
    return f"sqlite:///{tmp_path}/ledger.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on every store: one contract, two backends."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgres", "postgres in chunks"])
def audited_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """store_url, and PostgreSQL once more verified in chunks of 4 seqs by 2 processes.

    A tamper test's log holds a few dozen events, one chunk at the real chunk size:
    the third case puts the chunk boundaries, the worker process and the merge
    under the same attacks.
    """
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    if request.param == "postgres in chunks":
        from ledger import verify_chunks

        monkeypatch.setattr(verify_chunks, "CHUNK_SEQS", 4)
        monkeypatch.setattr(verify_chunks, "PROCESSES", 2)
    return str(request.getfixturevalue("pg_url"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_postgres:
        terminalreporter.write_line(
            f"PostgreSQL tests SKIPPED: {len(_skipped_postgres)} tests did not run "
            f"({postgres_problem()}). Only SQLite was tested.",
            yellow=True,
            bold=True,
        )
