"""A real uvicorn server on 127.0.0.1: 16 concurrent clients, group commit, and a graceful shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.settings import Settings
from ledger.audit import verify_store
from ledger.store import Ledger
from tests.api.conftest import EMITTER_SOURCE, Keys, bearer
from tests.factories import envelope, shown
from tests.ledgers import env_settings

CLIENTS = 16
PER_CLIENT = 40
ROOT = Path(__file__).parents[2]


def _free_socket() -> socket.socket:
    # IPPROTO_TCP spelt out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every response waits out the client's delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def server(store_url: str, keys: Keys) -> Iterator[tuple[str, uvicorn.Server]]:
    """uvicorn serving the app in a thread on a free port; stopped (and joined) after the test."""
    app = create_app(Settings(database_url=store_url))
    sock = _free_socket()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def _emit(base: str, token: str, count: int) -> list[dict[str, object]]:
    receipts = []
    with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as http:
        for _ in range(count):
            response = http.post("/v1/events", json=shown())
            assert response.status_code == 201, response.text
            receipts.append(response.json())
    return receipts


@pytest.mark.slow
def test_16_concurrent_clients_get_dense_distinct_seqs_and_the_chain_verifies(
    server: tuple[str, uvicorn.Server], keys: Keys, store_url: str
) -> None:
    base, _ = server
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: _emit(base, keys.emitter, PER_CLIENT), range(CLIENTS)))
    elapsed = time.perf_counter() - started
    receipts = [r for client in results for r in client]
    seqs = sorted(int(r["seq"]) for r in receipts)  # type: ignore[call-overload]
    assert seqs == list(range(1, CLIENTS * PER_CLIENT + 1))
    stats = httpx.get(f"{base}/v1/stats", headers=bearer(keys.auditor)).json()
    with Ledger(env_settings(store_url)) as ledger:
        report = verify_store(ledger)
        assert report.intact and report.events == ledger.head_seq() == CLIENTS * PER_CLIENT
    assert stats["events"] == CLIENTS * PER_CLIENT
    assert stats["largest_batch"] > 1, "concurrent appends were never committed together"
    print(  # noqa: T201 - the figures the report quotes (pytest -s)
        f"\n{store_url.split(':')[0]}: {len(receipts)} events from {CLIENTS} clients in {elapsed:.2f} s "
        f"= {len(receipts) / elapsed:.0f} events/s; group commit {stats['batches']} transactions, "
        f"mean {stats['mean_batch']}, largest {stats['largest_batch']}"
    )


@pytest.mark.slow
def test_ledger_serve_finishes_in_flight_appends_on_sigterm(sqlite_url: str, tmp_path: Path) -> None:
    from ledger.apikeys import KeyStore, Role

    token = KeyStore(sqlite_url).create(Role.EMITTER, source=EMITTER_SOURCE, label="shutdown").token
    process, base = _serve(sqlite_url, tmp_path, "serve")
    try:
        outcomes = _append_until_refused(base, token, sigterm=process)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    finally:
        if process.poll() is None:
            process.kill()
    logs = (tmp_path / "serve.log").read_text()
    answered = [o for o in outcomes if isinstance(o, int)]
    assert answered and set(answered) <= {201, 503}, set(answered)
    with Ledger(env_settings(sqlite_url)) as ledger:
        assert ledger.head_seq() == answered.count(201)
        assert verify_store(ledger).intact
    json_lines = [line for line in logs.splitlines() if line.startswith("{")]
    assert len(json_lines) >= len(answered), "one JSON log line per request"
    assert any('"msg":"request"' in line and '"seq":' in line for line in json_lines)


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("ledger serve did not become ready")


def _append_until_refused(base: str, token: str, *, sigterm: subprocess.Popen[str]) -> list[int | str]:
    """16 clients append until the server stops answering; SIGTERM arrives while they are busy."""
    outcomes: list[int | str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as http:
            while True:
                try:
                    status: int | str = http.post("/v1/events", json=shown()).status_code
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                with lock:
                    outcomes.append(status)
                if not isinstance(status, int):
                    return

    _load_then_signal(client, sigterm, signal.SIGTERM, busy=lambda: len(outcomes) > CLIENTS)
    return outcomes


def _load_then_signal(
    client: Callable[[], None], process: subprocess.Popen[str], sig: signal.Signals, *, busy: Callable[[], bool]
) -> None:
    """CLIENTS threads run ``client`` (until refused); ``sig`` reaches the server once ``busy()`` says they are
    under way (a second in at the least; at most 30 s, so a slow machine still gets load, not an empty run)."""
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    deadline = time.monotonic() + 30
    while not busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(sig)
    for t in threads:
        t.join(timeout=60)


def _generated(number: int) -> dict[str, object]:
    return envelope("output.generated", {
        "output_id": f"out-kill-{number}", "tool_id": "sepsis-watch", "model_version": "3.2.0", "site": "northside",
        "unit": "ed", "population": "adults_18_plus", "patient_ref": f"Patient/KILL-{number % 50}",
        "encounter_ref": f"Encounter/KILL-{number}", "score": 0.9, "label": "high", "priority": "urgent",
        "threshold_in_effect": 0.7, "explanation": "lactate rising",
    })  # fmt: skip


def _serve(url: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen[str], str]:
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_API_GROUP_MAX_WAIT_MS": "20"}
    with (tmp_path / f"{name}.log").open("w") as log_handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stderr=log_handle, text=True, start_new_session=True,  # its own process group
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base)
    except BaseException:
        process.kill()  # a server that never became ready is not left behind
        process.wait(timeout=30)
        raise
    return process, base


@pytest.mark.slow
def test_a_server_killed_under_load_keeps_every_acknowledged_event_and_a_restart_takes_the_retries(
    store_url: str, tmp_path: Path
) -> None:
    from ledger.apikeys import KeyStore, Role

    token = KeyStore(store_url).create(Role.EMITTER, source=EMITTER_SOURCE, label="kill").token
    acked: dict[str, int] = {}  # event_id -> the seq its 201 gave
    unanswered: list[dict[str, object]] = []  # sent, and the connection died before an answer
    lock = threading.Lock()
    numbers = iter(range(1_000_000))

    process, base = _serve(store_url, tmp_path, "killed")

    def client() -> None:
        with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as http:
            while True:
                with lock:
                    number = next(numbers)
                event = _generated(number) if number % 2 else shown(f"out-kill-{number}")
                try:
                    response = http.post("/v1/events", json=event)
                except httpx.TransportError:
                    with lock:
                        unanswered.append(event)
                    return
                assert response.status_code == 201, response.text
                with lock:
                    acked[str(event["event_id"])] = int(response.json()["seq"])

    try:
        _load_then_signal(client, process, signal.SIGKILL, busy=lambda: len(acked) > CLIENTS)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    assert len(acked) > CLIENTS and unanswered

    with Ledger(env_settings(store_url)) as ledger:
        assert verify_store(ledger).intact
        recorded = {eid: (record.seq if (record := ledger.get(eid)) else None) for eid in acked}
        assert recorded == acked
        head = ledger.head_seq()
    assert len(acked) <= head <= len(acked) + len(unanswered)

    process, base = _serve(store_url, tmp_path, "restarted")
    try:
        with httpx.Client(base_url=base, headers=bearer(token), timeout=30) as http:
            statuses = [http.post("/v1/events", json=event).status_code for event in unanswered]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert statuses.count(200) == head - len(acked)  # those that had landed are answered as retries
    assert set(statuses) <= {200, 201}
    with Ledger(env_settings(store_url)) as ledger:
        assert verify_store(ledger).intact and ledger.head_seq() == len(acked) + len(unanswered)
