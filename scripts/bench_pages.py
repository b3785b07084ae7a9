"""The pages section of the benchmark harness: the incident page, the incident list and the tool dossier over a
large log.

    python -m scripts.bench pages [--projection-events N] [--page-samples S]

A synthetic history (scripts.bench_projections) in PostgreSQL, its views
rebuilt and a checkpoint signed; then one real `ledger serve` (one worker) on
it, a reader signed in through the form. Timed: each page's answer on the
loopback (the server's time, plus well under a millisecond of HTTP), p50 and
p95 over random incidents, beside the JSON accountability report of the same
incidents in the same run (the ratio is the figure to read on a busy machine);
the tool dossier (``/tools/{id}``) at random as-of moments, its plots already drawn for the ledger's position
(p50 and p95), and the first view of each tool, which draws them; and, where Playwright and Debian's chromium are
installed, the time until the incident page is fully drawn in headless
Chromium (navigation start to the load event, every asset loaded).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ledger.apikeys import KeyStore, Role
from ledger.checkpointing import make_checkpoint
from ledger.config import LedgerSettings
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from ledger.store import Ledger
from projections.runner import Projector
from projections.timefmt import SECOND, iso
from scripts import bench_projections as pb
from scripts.bench_api import _free_port, _wait_ready
from scripts.benchkit import machine

SCHEMA = "bench_pages"
CHROMIUM = Path("/usr/bin/chromium")
_OPERATOR = {"id": "bench", "role": "ledger_operator", "kind": "system"}


def bench_pages(args: argparse.Namespace) -> None:
    """Print the pages table."""
    if not args.postgres_url:
        print("pages section needs PostgreSQL")
        return
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    url = f"{args.postgres_url}?schema={SCHEMA}"
    kept = os.environ.get("LEDGER_STATE_DIR")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # The loader seals with the master key of this state folder, and the server must open with it.
            os.environ["LEDGER_STATE_DIR"] = str(Path(tmp) / "state")
            events, ids, tools = _prepare(url, Path(tmp), args.projection_events)
            row = _measure(url, Path(tmp), ids, tools, args.page_samples)
    finally:
        if kept is None:
            os.environ.pop("LEDGER_STATE_DIR", None)
        else:
            os.environ["LEDGER_STATE_DIR"] = kept
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    print(f"## Pages on PostgreSQL ({machine()}; one server worker)\n")
    print("| events in the log | incidents | incident page p50 / p95 ms | the same incidents' JSON accountability "
          "report p50 / p95 ms | incident list p50 / p95 ms | incident page drawn in Chromium p50 / p95 ms "
          "|")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(f"| {events:,} | {len(ids):,} | {row['page']} | {row['api']} | {row['list']} | {row['drawn']} |\n")
    print("| events in the log | tools | dossier p50 / p95 ms (random as-of; plots drawn before) | dossier's first "
          "view per tool, plots drawn, ms | the same run's incident page p50 / p95 ms |")  # fmt: skip
    print("|---|---|---|---|---|")
    print(f"| {events:,} | {len(tools)} | {row['dossier']} | {row['dossier_first']} | {row['page']} |\n")


def _prepare(url: str, tmp: Path, count: int) -> tuple[int, list[str], list[str]]:
    """Load the history, rebuild the views, sign a checkpoint; the head, the incidents' and the tools' ids."""
    settings = LedgerSettings.from_environ(os.environ, url)  # the state folder's (LEDGER_STATE_DIR), as the server's
    paths = settings.paths
    with Ledger(settings) as ledger:
        head = pb.load_synthetic(ledger, events=count)
        Projector(ledger).rebuild()
        key = KeyFolder(paths.keys_dir).activate_new("bench.example", ledger=ledger, actor=_OPERATOR, reason=None).key
        paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        make_checkpoint(ledger, key, origin=paths.origin, folder=CheckpointDirectory(paths.checkpoint_dir))
        ids = [str(r.incident_id) for r in _incidents(ledger)]
        tools = _tools(ledger)
    return head, ids, tools


def _incidents(ledger: Ledger) -> list[Any]:
    from projections.views import Views

    with Views(ledger).reading() as snap:
        return snap.incidents("1 = 1", {})


def _tools(ledger: Ledger) -> list[str]:
    from projections.views import Views

    with Views(ledger).reading() as snap:
        return sorted(str(r[0]) for r in snap.select("SELECT DISTINCT tool_id FROM {outputs}"))


def _measure(url: str, tmp: Path, ids: list[str], tools: list[str], samples: int) -> dict[str, str]:
    reader = KeyStore(url).create(Role.READER, label="bench").token
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_CHECKPOINT_INTERVAL": "0"}
    command = [sys.executable, "-m", "scripts.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)  # noqa: S603
    try:
        _wait_ready(base, in_a_row=3)
        with httpx.Client(base_url=base, timeout=120) as client:
            _sign_in(client, reader)
            rng = random.Random(5)  # noqa: S311
            chosen = [rng.choice(ids) for _ in range(samples)]
            page = _timed(client, [f"/incidents/{i}" for i in chosen])
            client.headers["Authorization"] = f"Bearer {reader}"
            api = _timed(client, [f"/v1/incidents/{i}/accountability" for i in chosen])
            del client.headers["Authorization"]
            first = [_once(client, f"/tools/{t}") for t in tools]  # each draws its tool's plots
            moments = [iso(pb._T0 + rng.randrange(200 * 86_400) * SECOND) for _ in range(samples)]  # the history's days
            dossier = _timed(client, [f"/tools/{rng.choice(tools)}?as_of={m}" for m in moments])
            listing = _timed(client, ["/incidents"] * max(3, samples // 20))
            drawn = _drawn(base, client.cookies, [f"/incidents/{rng.choice(ids)}" for _ in range(max(5, samples // 5))])
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"page": page, "api": api, "list": listing, "drawn": drawn, "dossier": dossier,
            "dossier_first": " / ".join(f"{t:,.0f}" for t in first)}  # fmt: skip


def _once(client: httpx.Client, path: str) -> float:
    """One answer's time, ms."""
    started = time.perf_counter()
    answer = client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}")
    return (time.perf_counter() - started) * 1000


def _sign_in(client: httpx.Client, token: str) -> None:
    form = re.search(r'name="form_token" value="([^"]+)"', client.get("/signin").text)
    if form is None:
        raise RuntimeError("the sign-in page has no form token")
    done = client.post("/signin", data={"api_key": token, "form_token": form.group(1)})
    if done.status_code != 303:
        raise RuntimeError(f"sign-in answered {done.status_code}")


def _timed(client: httpx.Client, paths: list[str]) -> str:
    client.get(paths[0])  # warm: the first answer also catches the views up
    times = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
    return _p50_p95(times)


def _drawn(base: str, cookies: httpx.Cookies, paths: list[str]) -> str:
    """Navigation start to the load event of the incident page in headless Chromium, p50 / p95 ms."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "not measured (no Playwright)"
    if not CHROMIUM.is_file():
        return f"not measured (no {CHROMIUM})"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": name, "value": value, "url": base} for name, value in cookies.items()])
        page = context.new_page()
        page.goto(base + paths[0])  # warm
        times = []
        for path in paths:
            page.goto(base + path, wait_until="load")
            times.append(float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")))
        browser.close()
    return _p50_p95(times)


def _p50_p95(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{ordered[len(ordered) // 2]:.1f} / {p95:.1f}"
