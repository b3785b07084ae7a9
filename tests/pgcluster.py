"""A throwaway PostgreSQL cluster of the test's own: initdb, pg_ctl start, stop, restart, url.

The machine's shared server (127.0.0.1:5432) is never touched: a test that
stops its database, or (issue 18) promotes a replica, does it here. The
cluster lives in a fresh temporary folder, listens on 127.0.0.1 only, on a free
port, with trust authentication, and is stopped and deleted on leaving
``throwaway_cluster()``, whatever happened inside.

initdb refuses to run as root, and CI runs the suite as root: there, every
command of the cluster runs as the ``postgres`` system user (``runuser``), and
the folder is that user's. The binaries are found on PATH, else in the newest
``/usr/lib/postgresql/<version>/bin`` (Debian), else in $LEDGER_TEST_PG_BIN.
Where there are none, ``cluster_problem()`` says why; ``require_cluster()``
skips, or under CI (LEDGER_REQUIRE_POSTGRES=1) fails, as tests/conftest.py
does for the shared server.

    with throwaway_cluster() as cluster:
        url = cluster.url()          # postgresql://postgres@127.0.0.1:<port>/postgres
        cluster.stop(mode="immediate")
        cluster.start()

    with throwaway_pair("remote_apply") as (primary, standby):   # a synchronous streaming standby
        primary.stop(mode="immediate")
        standby.promote()
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Literal

import pytest

OWNER = "postgres"  # the system user that runs the cluster when the tests run as root
START_TIMEOUT_S = 30
StopMode = Literal["smart", "fast", "immediate"]
SyncMode = Literal["on", "remote_apply"]
SYNC_WAIT_S = 30  # how long a new standby may take to be the primary's synchronous one


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


@cache
def bindir() -> Path | None:
    """The folder of initdb and pg_ctl, or None where PostgreSQL's server binaries are not installed."""
    explicit = os.environ.get("LEDGER_TEST_PG_BIN")
    if explicit:
        return Path(explicit) if (Path(explicit) / "initdb").is_file() else None
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent  # a symlink's own folder: pg_basebackup and psql are there too
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return max(found, key=_version) if found else None


def _as_owner() -> list[str]:
    """The prefix that runs a command as the cluster's owner (nothing unless we are root)."""
    return ["runuser", "-u", OWNER, "--"] if os.geteuid() == 0 else []


def cluster_problem() -> str | None:
    """Why no throwaway cluster can be made here, or None when one can."""
    if bindir() is None:
        return "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root, and runuser (to run initdb as the postgres user) is missing"
        try:
            pwd.getpwnam(OWNER)
        except KeyError:
            return f"running as root, and there is no {OWNER!r} system user to run initdb as"
    return None


def require_cluster() -> None:
    """Skip the current test (or, under CI, fail it) where no throwaway cluster can be made."""
    problem = cluster_problem()
    if problem is None:
        return
    if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem}, and LEDGER_REQUIRE_POSTGRES=1 forbids skipping", pytrace=False)
    pytest.skip(problem)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One cluster in ``folder`` (its data in ``folder/data``, its log in ``folder/server.log``), on ``port``."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.data = folder / "data"
        self.log = folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The URL the ledger (or psycopg) connects with: user postgres, trust, over TCP."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        """initdb, then the settings that keep it private: 127.0.0.1 only, this port, its socket in its folder."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
            "max_connections": "50",
            "shared_buffers": "16MB",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log))

    def stop(self, mode: StopMode = "fast") -> None:
        """pg_ctl stop: ``fast`` rolls back open transactions and disconnects; ``immediate`` is a crash."""
        self._pg_ctl("stop", "-w", "-t", str(START_TIMEOUT_S), "-m", mode)

    def promote(self) -> None:
        """pg_ctl promote a standby, and wait until it accepts writes."""
        self._pg_ctl("promote", "-w", "-t", str(START_TIMEOUT_S))

    def base_backup_to(self, standby: PgCluster) -> None:
        """pg_basebackup -R of this (running) cluster into ``standby``'s folder, set to stream from it.

        The copy keeps this cluster's postgresql.conf; the standby's own port and
        socket folder are appended after, so they win.
        """
        self._run("pg_basebackup", "-D", str(standby.data), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")  # fmt: skip
        with (standby.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {standby.port}\nunix_socket_directories = '{standby.folder}'\n")
            conf.write("cluster_name = 'standby'\nhot_standby = on\n")

    def require_synchronous(self, commit: SyncMode = "remote_apply") -> None:
        """Every commit waits for the standby (synchronous_standby_names = '*'): flushed, or applied there too."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"synchronous_standby_names = '*'\nsynchronous_commit = {commit}\n")
        self._pg_ctl("reload")

    def sql(self, statement: str) -> str:
        """One statement through psql, its output as text (no header, unaligned)."""
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-XAtc",
                         statement).stdout.strip()  # fmt: skip

    def restart(self, mode: StopMode = "fast") -> None:
        """Stop (in ``mode``) and start again, on the same port and data."""
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        """True while the postmaster runs (pg_ctl status)."""
        return self._pg_ctl("status", check=False).returncode == 0

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run("pg_ctl", "-D", str(self.data), *args, check=check)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        folder = bindir()
        assert folder is not None, cluster_problem()  # callers went through require_cluster()
        command = [*_as_owner(), str(folder / program), *args]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30, check=False, cwd=self.folder
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} {args[:3]} failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
        return done


@contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    """A started cluster of the caller's own; stopped (immediately) and deleted on leaving, even on failure."""
    require_cluster()
    # Not pytest's tmp_path: that is root's (mode 700), and the cluster's owner must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user=OWNER)
    cluster = PgCluster(folder, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.data.exists() and cluster.running():
                cluster.stop("immediate")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def throwaway_pair(commit: SyncMode = "remote_apply") -> Iterator[tuple[PgCluster, PgCluster]]:
    """A started primary and its synchronous streaming standby (pg_basebackup -R), each on its own free port.

    Returns once the standby streams and the primary counts it as synchronous:
    from then on no commit is acknowledged before the standby has it (``on``:
    flushed; ``remote_apply``: also visible to its readers). Both are stopped
    (immediately) and deleted on leaving, even on failure.
    """
    require_cluster()
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-pair-"))
    clusters = [PgCluster(root / name, free_port()) for name in ("primary", "standby")]
    for folder in (root, *(c.folder for c in clusters)):
        folder.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, user=OWNER)
    primary, standby = clusters
    try:
        primary.init()
        primary.start()
        primary.base_backup_to(standby)
        standby.start()
        _wait_streaming(primary)
        primary.require_synchronous(commit)
        _wait_streaming(primary, state="sync")
        yield primary, standby
    finally:
        try:
            for cluster in clusters:
                if cluster.data.exists() and cluster.running():
                    cluster.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _wait_streaming(primary: PgCluster, *, state: str | None = None) -> None:
    """Wait until the primary sees a standby streaming (in ``state``: async, sync), or fail after SYNC_WAIT_S."""
    deadline = time.monotonic() + SYNC_WAIT_S
    where = "state = 'streaming'" + (f" AND sync_state = '{state}'" if state else "")
    while primary.sql(f"SELECT count(*) FROM pg_stat_replication WHERE {where}") == "0":  # noqa: S608
        if time.monotonic() > deadline:
            raise RuntimeError(f"no standby streaming ({state or 'any'}) after {SYNC_WAIT_S} s")
        time.sleep(0.05)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A started throwaway cluster for one test (import this fixture into the test module, or wrap the above)."""
    with throwaway_cluster() as cluster:
        yield cluster
