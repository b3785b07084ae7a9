"""PostgreSQL stopped and started under 8 emitters: 503 while it is down, recovery by itself, nothing acknowledged lost.

Principle 2, with the database failing under the server rather than the server
failing: `ledger serve` runs on a throwaway cluster of the test's own
(tests/pgcluster.py, never the machine's server). Eight emitters append single
events and, as a real emitter must, send each event again (same event_id) until
it is answered 201 or 200. The cluster is stopped twice, once with
``pg_ctl stop -m fast`` (clients disconnected, open transactions rolled back)
and once with ``-m immediate`` (a crash: recovery from the WAL at the next start),
and started again each time, without touching the server. While it is down,
/readyz and the append route answer 503 with Retry-After, and nothing answers
500. At the end, the log holds exactly the events that were acknowledged, each
at the seq of its receipt, and `ledger verify` says INTACT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ledger.apikeys import KeyStore, Role
from ledger.store import Ledger
from tests import pgcluster
from tests.api.conftest import EMITTER_SOURCE, bearer
from tests.api.test_server import ROOT, _serve
from tests.factories import shown
from tests.ledgers import env_settings
from tests.pgcluster import PgCluster, StopMode, throwaway_cluster

EMITTERS = 8
ACKS_BETWEEN = 40  # acknowledgements the emitters must get before each outage, and after the last
DEADLINE_S = 45  # the whole load, outages included; the test fails rather than run past it
RETRY_PAUSE_S = 0.05  # an emitter's pause before sending an unanswered or 503 event again


@dataclass
class Tally:
    """What the emitters saw: every answer, and the receipt seq of every acknowledged event."""

    acked: dict[str, int] = field(default_factory=dict)  # event_id -> seq of its 201/200 receipt
    answers: Counter[str] = field(default_factory=Counter)  # "201", "503", "ConnectError", ...
    retried_then_200: int = 0  # events answered 200: an earlier, unanswered or 503 attempt had landed
    given_up: list[str] = field(default_factory=list)  # event_ids never acknowledged before the deadline
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, answer: str) -> None:
        with self.lock:
            self.answers[answer] += 1

    def count(self, answer: str) -> int:
        with self.lock:
            return self.answers[answer]

    def acks(self) -> int:
        with self.lock:
            return len(self.acked)


def _send_until_acknowledged(http: httpx.Client, event: dict[str, object], tally: Tally, deadline: float) -> None:
    """POST ``event`` until it is answered 201 or 200, as an emitter retrying with the same event_id does."""
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            response = http.post("/v1/events", json=event)
        except httpx.TransportError as exc:
            tally.saw(type(exc).__name__)
            time.sleep(RETRY_PAUSE_S)
            continue
        tally.saw(str(response.status_code))
        if response.status_code in (200, 201):
            with tally.lock:
                tally.acked[str(event["event_id"])] = int(response.json()["seq"])
                tally.retried_then_200 += response.status_code == 200 and attempts > 1
            return
        if response.status_code != 503:
            return  # anything else is a defect: counted in answers, and the test fails on it
        time.sleep(RETRY_PAUSE_S)
    with tally.lock:
        tally.given_up.append(str(event["event_id"]))


def _emitter(number: int, base: str, token: str, stop: threading.Event, tally: Tally, deadline: float) -> None:
    with httpx.Client(base_url=base, headers=bearer(token), timeout=10) as http:
        sent = 0
        while not stop.is_set() and time.monotonic() < deadline:
            _send_until_acknowledged(http, shown(f"out-pg-{number}-{sent}"), tally, deadline)
            sent += 1


def _eventually(what: str, check: Callable[[], bool], deadline: float) -> None:
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within the test's deadline: {what}")
        time.sleep(0.05)


def _grows(what: str, measure: Callable[[], int], by: int, deadline: float) -> None:
    target = measure() + by
    _eventually(what, lambda: measure() >= target, deadline)


def _assert_down(base: str, token: str) -> list[dict[str, object]]:
    """While the database is down: /readyz and both append routes answer 503, store_unavailable, with Retry-After.

    Returns the events sent: a 503 is not a refusal, so they are sent again, as any emitter would, once it is up.
    """
    single, batched = shown("out-pg-probe"), shown("out-pg-probe-batch")
    for response in (
        httpx.get(f"{base}/readyz", timeout=10),
        httpx.post(f"{base}/v1/events", json=single, headers=bearer(token), timeout=10),
        httpx.post(f"{base}/v1/events/batch", json={"events": [batched]}, headers=bearer(token), timeout=10),
    ):
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "store_unavailable"
        assert response.headers["retry-after"].isdigit()
        assert "Traceback" not in response.text
    return [single, batched]


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """The test's own PostgreSQL: stopped and deleted afterwards, even on failure."""
    with throwaway_cluster() as pg:
        yield pg


@pytest.fixture
def quiet_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and checkpoints in tmp_path (for the server and `ledger verify`); appends give up fast while it is down."""
    monkeypatch.setenv("LEDGER_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("LEDGER_CHECKPOINT_INTERVAL", "0")
    monkeypatch.setenv("LEDGER_API_DB_CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("LEDGER_API_APPEND_TIMEOUT_S", "5")


@pytest.mark.slow
@pytest.mark.usefixtures("quiet_dirs")
def test_a_database_stopped_and_started_under_8_emitters_answers_503_recovers_alone_and_loses_no_acknowledged_event(
    cluster: PgCluster, tmp_path: Path
) -> None:
    url = cluster.url()
    keys = KeyStore(url)
    token = keys.create(Role.EMITTER, source=EMITTER_SOURCE, label="pg-restart").token
    reader = keys.create(Role.READER, label="pg-restart").token
    keys.close()
    started = time.monotonic()
    deadline = started + DEADLINE_S
    tally, stop = Tally(), threading.Event()
    server, base = _serve(url, tmp_path, "serve")
    emitters = [
        threading.Thread(target=_emitter, args=(n, base, token, stop, tally, deadline), name=f"emitter-{n}")
        for n in range(EMITTERS)
    ]
    outages: list[tuple[StopMode, int, float]] = []  # mode, 503s seen while down, seconds until ready again
    try:
        for thread in emitters:
            thread.start()
        for mode in ("fast", "immediate"):
            _grows("acknowledgements before the outage", tally.acks, ACKS_BETWEEN, deadline)
            refused = tally.count("503")
            cluster.stop(mode)
            probes = _assert_down(base, token)
            _grows("a 503 for every emitter while down", lambda: tally.count("503"), EMITTERS, deadline)
            down_503s = tally.count("503") - refused
            restarted = time.monotonic()
            cluster.start()
            _eventually("/readyz 200 again, the server untouched", lambda: _ready(base), deadline)
            outages.append((mode, down_503s, time.monotonic() - restarted))
            with httpx.Client(base_url=base, headers=bearer(token), timeout=10) as http:
                for probe in probes:
                    _send_until_acknowledged(http, probe, tally, deadline)
            assert server.poll() is None, "the server exited"
        _grows("acknowledgements after the last restart", tally.acks, ACKS_BETWEEN, deadline)
        stop.set()
        for thread in emitters:
            thread.join(timeout=max(1.0, deadline - time.monotonic()))
        views = _views_at_head(base, reader)
    finally:
        stop.set()
        for thread in emitters:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 5))
        _stop_server(server)
    elapsed = time.monotonic() - started

    assert not tally.given_up, f"{len(tally.given_up)} events never acknowledged before the deadline"
    assert set(tally.answers) <= {"200", "201", "503"}, tally.answers
    assert views == 200, "the projections did not catch up with the log after the restarts"
    with Ledger(env_settings(url)) as ledger:
        assert ledger.head_seq() == len(tally.acked)
        recorded = {event_id: (r.seq if (r := ledger.get(event_id)) else None) for event_id in tally.acked}
    assert recorded == tally.acked
    assert sorted(tally.acked.values()) == list(range(1, len(tally.acked) + 1))
    verify = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "verify", "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=os.environ, check=False,
    )  # fmt: skip
    assert verify.returncode == 0 and "INTACT" in verify.stderr, verify.stderr
    print(  # noqa: T201 - the figures docs/reliability.md quotes (pytest -s)
        f"\npg restart: {len(tally.acked)} events acknowledged by {EMITTERS} emitters in {elapsed:.1f} s, "
        f"{tally.retried_then_200} of them 200 on a retry; answers {dict(sorted(tally.answers.items()))}; "
        + "; ".join(f"stop -m {m}: {n} answers 503 while down, ready {s:.1f} s after start" for m, n, s in outages)
    )


def _views_at_head(base: str, reader: str) -> int:
    """The status of a query that waits until the read models hold the log's head (they follow it again)."""
    head = httpx.get(f"{base}/readyz", timeout=10).json()["head_seq"]
    params = {"min_seq": head}
    return httpx.get(f"{base}/v1/metrics/reliance", params=params, headers=bearer(reader), timeout=30).status_code


def _stop_server(server: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL to the server's whole process group if it has not exited."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.mark.parametrize(("required", "outcome"), [(None, pytest.skip.Exception), ("1", pytest.fail.Exception)])
def test_without_initdb_the_cluster_is_skipped_saying_why_and_under_ci_it_fails(
    required: str | None, outcome: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_TEST_PG_BIN", str(tmp_path))  # a folder without initdb
    if required is None:
        monkeypatch.delenv("LEDGER_REQUIRE_POSTGRES", raising=False)
    else:
        monkeypatch.setenv("LEDGER_REQUIRE_POSTGRES", required)
    pgcluster.bindir.cache_clear()
    try:
        with pytest.raises(outcome, match="initdb, pg_ctl"), throwaway_cluster():
            pass
    finally:
        pgcluster.bindir.cache_clear()
