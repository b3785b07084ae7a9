"""The API section of the benchmark harness: a real `ledger serve` on PostgreSQL, real HTTP clients.

    python -m scripts.bench api [--api-workers N ...] [--api-events N] [--api-seconds S]

Three measurements in one run, against one server: batches of 100 events,
single-event requests from 16 concurrent clients (group commit at work), and
the latency of single appends at a fixed arrival rate (open loop: latency is
counted from each request's scheduled time, so a stall is not hidden). Each
starts after a PostgreSQL CHECKPOINT (``settle``), so that the checkpoint made
due by one phase's writes does not stall the next one's commits by chance.

The load comes from ``scripts.loadgen``, an asyncio client in its own process
that sends prepared request bytes: on two shared cores, every millisecond of
client CPU is taken from the server. Beside each rate, the table gives the CPU
milliseconds per event that the server (all its processes) and the load
generator spent, read from /proc: the figure to compare changes by, on a noisy
machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from scripts.benchkit import _SIDES, _privacy_row, _Side, machine, percentile

SCHEMA = "bench_api"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    postgres_url: str,
    workers: int,
    *,
    app: str | None = None,
    source: str = "epic-prod",
    signing: tuple[Path, dict[str, str]] | None = None,
) -> Iterator[tuple[int, int, str, str]]:
    """A `ledger serve` subprocess on a fresh schema; yields (port, process id, emitter key, auditor key).

    With ``app`` (an app factory's import string), uvicorn serves that factory
    instead, in one process, with the options `ledger serve` gives it; the
    emitter key is for ``source``. With ``signing`` (a fresh state folder, more
    environment), the server has a signing key there, so it signs checkpoints
    on the schedule that environment sets.
    """
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    url = f"{postgres_url}?schema={SCHEMA}"
    env = {**os.environ, "LEDGER_DATABASE_URL": url}
    command = [sys.executable, "-m", "scripts.cli"]
    if signing is not None:
        env |= {"LEDGER_STATE_DIR": str(signing[0]), **signing[1]}
        subprocess.run([*command, "signing-keys", "generate", "--name", "bench.ledger.example",  # noqa: S603
                        "--reason", "benchmark"], env=env, capture_output=True, check=True)  # fmt: skip
    key = subprocess.run([*command, "api-keys", "create", "--role", "emitter", "--source", source],  # noqa: S603
                         env=env, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    auditor = subprocess.run([*command, "api-keys", "create", "--role", "auditor"],  # noqa: S603
                             env=env, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # the server's warnings, shown if a run fails
    serve = [*command, "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if app is not None:
        serve = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning", "--no-access-log", "--no-server-header"]  # fmt: skip
    process = subprocess.Popen(serve, env=env, stderr=log)  # noqa: S603
    try:
        _wait_ready(base)
        yield port, process.pid, key, auditor
    except BaseException:
        log.seek(0)
        print(log.read()[-4000:].decode(errors="replace"), file=sys.stderr)
        raise
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def _wait_ready(base: str, *, in_a_row: int = 20) -> None:
    # Each request on a new connection, which any worker may accept: several ready answers in a
    # row make it likely that every worker has opened its store (an early one answers 503).
    deadline = time.monotonic() + 60
    ready = 0
    while time.monotonic() < deadline and ready < in_a_row:
        try:
            ok = httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            ok = False
        ready = ready + 1 if ok else 0
        if not ok:
            time.sleep(0.2)
    if ready < in_a_row:
        raise RuntimeError("the server did not become ready")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (uvicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in [str(pid), *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@dataclass(frozen=True)
class Run:
    """One load generator run: requests, seconds, the server's and the client's CPU seconds."""

    requests: int
    elapsed: float
    server_cpu: float
    client_cpu: float
    latencies_ms: list[float]

    def per_second(self, events_per_request: int = 1) -> float:
        """Events per second."""
        return self.requests * events_per_request / self.elapsed

    def cpu_ms(self, events_per_request: int = 1) -> tuple[float, float]:
        """(server, load generator) CPU milliseconds per event."""
        events = self.requests * events_per_request
        return self.server_cpu * 1000 / events, self.client_cpu * 1000 / events


def _row(workers: int, batch: Run, single: Run, rate: Run) -> str:
    p50, p99 = percentile(rate.latencies_ms, 0.5), percentile(rate.latencies_ms, 0.99)
    cpu = [batch.cpu_ms(100), single.cpu_ms(), rate.cpu_ms()]
    server = " / ".join(f"{s:.3f}" for s, _ in cpu)
    client = " / ".join(f"{c:.3f}" for _, c in cpu)
    return (
        f"| {workers} | {batch.per_second(100):,.0f} | {single.per_second():,.0f} "
        f"| {p50:.1f} / {p99:.1f} ({rate.per_second():,.0f}) | {server} | {client} |"
    )


def settle(postgres_url: str) -> None:
    """Flush PostgreSQL's dirty pages (CHECKPOINT) before a measurement, as pgbench's docs advise.

    Otherwise the checkpoint that the previous phase's writes make due may land
    in the next phase: its sync stalls every commit for 0.1-0.6 s on this
    machine (a CHECKPOINT forced in the middle of the fixed-rate phase took p99
    from about 10 ms to 265 ms), and which phase it hits is chance.
    """
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _mean_batch(port: int, auditor: str) -> float:
    stats = httpx.get(f"http://127.0.0.1:{port}/v1/stats", headers={"Authorization": f"Bearer {auditor}"}).json()
    return float(stats["mean_batch"])


def drive(server_pid: int, job: dict[str, Any]) -> Run:
    """Run ``python -m scripts.loadgen`` with ``job``; fails if any request was not answered 200/201."""
    before = _cpu_seconds(server_pid)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "scripts.loadgen"], input=orjson.dumps(job), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr.decode(errors='replace')[-2000:]}")
    result = orjson.loads(done.stdout)
    server_cpu = _cpu_seconds(server_pid) - before  # includes the generator's set-up time: an upper bound
    return Run(result["requests"], result["elapsed"], server_cpu, result["cpu"], result.get("latencies_ms", []))


def bench_api(args: argparse.Namespace) -> None:
    """Print the API table."""
    if not args.postgres_url:
        print("api section needs PostgreSQL")
        return
    print(f"## API on PostgreSQL: real `ledger serve` over HTTP ({machine()}; load generator on the same cores)\n")
    print("| server workers | batches of 100 ev/s | 16 clients, single events ev/s "
          "| fixed 500 req/s: p50 / p99 ms (achieved req/s) | server CPU ms/event (batch / 16 / rate) "
          "| load generator CPU ms/event |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    notes: list[str] = []
    for workers in args.api_workers:
        with server(args.postgres_url, workers) as (port, pid, key, auditor):
            job = {"port": port, "key": key}
            settle(args.postgres_url)
            batch = drive(pid, job | {"mode": "batches", "batches": args.api_events // 100, "size": 100})
            settle(args.postgres_url)
            single = drive(pid, job | {"mode": "closed", "clients": 16, "per_client": args.api_events // 16})
            mean_16 = _mean_batch(port, auditor)
            settle(args.postgres_url)
            rate = drive(pid, job | {"mode": "rate", "rate": 500, "seconds": args.api_seconds, "clients": 64})
            mean_rate = _mean_batch(port, auditor)
        print(_row(workers, batch, single, rate))
        notes.append(f"{workers} worker(s): group commit's mean transaction (one worker's counters, since start) "
                     f"{mean_16:.1f} events after the 16 clients, {mean_rate:.1f} after the fixed rate")  # fmt: skip
    print()
    print("\n".join(notes))
    print()


# The privacy benchmark's servers: the app `ledger serve` runs, and the same app on a ledger that
# does not seal (api.app names it for this benchmark alone).
PRIVACY_APPS = {
    "unsealed": "scripts.bench_apps:create_app_without_sealing",
    "unsealed again": "scripts.bench_apps:create_app_without_sealing",
    "sealed": "api.app:create_app",
}


def bench_privacy_api(args: argparse.Namespace) -> None:
    """The cost of sealing on the server's appends: 16 clients of single events, one server per side and round.

    The same three sides as the library table (unsealed, an A/A control, sealed),
    each a fresh server on a fresh schema in every round, in an order shifted by
    one each round, so that over any three rounds each side runs first, second
    and third once (later servers in a round ran slower: with unbalanced
    orders the A/A control read up to 13%). Each side's 16 clients send
    ``--api-events`` output.generated events (one in ten a patient's first), so
    group commit, request parsing and the projections run as they do in
    service. Beside the rates, the server's CPU per event (all its threads).
    """
    if not args.postgres_url:
        print("the privacy section's server table needs PostgreSQL")
        return
    print(f"### Through the API: a real server, 16 clients of single events ({machine()}; medians of "
          f"{args.rounds} rounds, one fresh server per side and round, the order shifted each round)\n")  # fmt: skip
    print("| server | events/request | without sealing ev/s | with sealing ev/s | cost (median of rounds) "
          "| cost, round by round | server CPU µs/event without / with |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    rounds = []
    for round_ in range(args.rounds):
        totals = [_Side() for _ in _SIDES]
        for index in [(round_ + shift) % len(_SIDES) for shift in range(len(_SIDES))]:
            app = PRIVACY_APPS[_SIDES[index]]
            with server(args.postgres_url, 1, app=app, source="acme-inference") as (port, pid, key, _):
                settle(args.postgres_url)
                job = {"port": port, "key": key, "mode": "closed", "clients": 16, "per_client": args.api_events // 16,
                       "events": "generated", "patients": f"r{round_:02d}{index}-"}  # fmt: skip
                run = drive(pid, job)
            totals[index] = _Side(wall=run.elapsed, cpu=run.server_cpu, events=run.requests)
        rounds.append(totals)
    plain = [r[0] for r in rounds]
    print(_privacy_row("PostgreSQL, 1 worker", plain=plain, sealed=[r[2] for r in rounds], batch="1"))
    print(_privacy_row("A/A control", plain=plain, sealed=[r[1] for r in rounds], batch="1"))
    print()
