"""The API section of the benchmark harness: a real `ledger serve` on PostgreSQL, real HTTP clients.

    python -m scripts.bench api [--workers N]

Three measurements in one run, against one server: batches of 100 events,
single-event requests from 16 concurrent clients (group commit at work), and
the latency of single appends at a fixed arrival rate (open loop: latency is
counted from each request's scheduled time, so a stall is not hidden).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg

from scripts.bench import machine, percentile, sample_events

SCHEMA = "bench_api"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(postgres_url: str, workers: int) -> Iterator[tuple[str, str]]:
    """A `ledger serve` subprocess on a fresh schema; yields (base URL, emitter key); stops it after."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    url = f"{postgres_url}?schema={SCHEMA}"
    env = {**os.environ, "LEDGER_DATABASE_URL": url}
    command = [sys.executable, "-m", "scripts.cli"]
    key = subprocess.run([*command, "api-keys", "create", "--role", "emitter", "--source", "epic-prod"],  # noqa: S603
                         env=env, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [*command, "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base)
        yield base, key
    finally:
        process.terminate()
        process.wait(timeout=60)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def batches(base: str, key: str, *, events: int) -> float:
    """Events per second posting batches of 100 from one client."""
    payloads = [sample_events(100) for _ in range(events // 100)]
    with httpx.Client(base_url=base, headers=_headers(key), timeout=60) as client:
        start = time.perf_counter()
        for payload in payloads:
            client.post("/v1/events/batch", json={"events": payload}).raise_for_status()
        return len(payloads) * 100 / (time.perf_counter() - start)


def concurrent(base: str, key: str, *, clients: int, per_client: int) -> float:
    """Events per second of single-event requests from ``clients`` threads, each its own connection."""
    events = [sample_events(per_client) for _ in range(clients)]
    errors: list[BaseException] = []

    def run(mine: list[dict[str, Any]]) -> None:
        try:
            with httpx.Client(base_url=base, headers=_headers(key), timeout=60) as client:
                for event in mine:
                    client.post("/v1/events", json=event).raise_for_status()
        except BaseException as exc:  # reported, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in events]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return clients * per_client / (time.perf_counter() - start)


def fixed_rate(base: str, key: str, *, rate: float, seconds: float, clients: int = 32) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, achieved requests/s) of single appends arriving at ``rate`` per second."""
    total = int(rate * seconds)
    schedule = [i / rate for i in range(total)]
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))
    start = time.perf_counter() + 0.2

    def run() -> None:
        with httpx.Client(base_url=base, headers=_headers(key), timeout=60) as client:
            for index in counter:
                due = start + schedule[index]
                time.sleep(max(0.0, due - time.perf_counter()))
                client.post("/v1/events", json=sample_events(1)[0] | {"event_id": str(uuid.uuid4())})
                with lock:
                    latencies.append((time.perf_counter() - due) * 1000)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return percentile(latencies, 0.5), percentile(latencies, 0.99), total / elapsed


def bench_api(args: argparse.Namespace) -> None:
    """Print the API table."""
    if not args.postgres_url:
        print("api section needs PostgreSQL")
        return
    print(f"## API on PostgreSQL: real `ledger serve` over HTTP ({machine()}; load generator on the same cores)\n")
    print("| server workers | batches of 100 ev/s | 16 clients, single events ev/s "
          "| fixed 500 req/s: p50 / p99 ms (achieved req/s) |")  # fmt: skip
    print("|---|---|---|---|")
    for workers in args.api_workers:
        with server(args.postgres_url, workers) as (base, key):
            batch_rate = batches(base, key, events=args.api_events)
            single_rate = concurrent(base, key, clients=16, per_client=args.api_events // 16 // 5)
            p50, p99, achieved = fixed_rate(base, key, rate=500, seconds=args.api_seconds)
        print(f"| {workers} | {batch_rate:,.0f} | {single_rate:,.0f} | {p50:.1f} / {p99:.1f} ({achieved:,.0f}) |")
    print()
