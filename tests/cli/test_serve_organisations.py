"""`ledger serve --organisations FILE` serves a deployment of organisation ledgers (api.organisations) as a process.

The in-process behaviour (routing, refusals, the top-level ledger) is tested in
tests/api/test_organisations.py; here, the command: it starts from the file,
routes an emitter's append to its own organisation's ledger, serves the
top-level ledger under /top, and refuses a malformed file in one line (exit 2).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from ledger.apikeys import KeyStore, Role
from ledger.store import Ledger
from tests.api.conftest import EMITTER_SOURCE, bearer
from tests.factories import shown
from tests.ledgers import env_settings

ROOT = Path(__file__).parents[2]
NAMES = ("northside", "riverside", "top")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _deployment(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A deployment file of two organisations and the top-level ledger, on SQLite; the members' database URLs."""
    urls = {name: f"sqlite:///{tmp_path}/{name}.sqlite3" for name in NAMES}
    entry = {
        n: {"database_url": urls[n], "state_dir": str(tmp_path / f"{n}.d"), "origin": f"{n}.example/l"} for n in NAMES
    }
    path = tmp_path / "deployment.json"
    path.write_bytes(orjson.dumps({"top": entry["top"], "organisations": {n: entry[n] for n in NAMES[:2]}}))
    return path, urls


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scripts.cli", "serve", *args]


@pytest.mark.slow
def test_serve_organisations_routes_each_emitter_to_its_own_organisations_ledger(tmp_path: Path) -> None:
    path, urls = _deployment(tmp_path)
    token = KeyStore(urls["northside"]).create(Role.EMITTER, source=EMITTER_SOURCE, label="north").token
    port = _free_port()
    env = {**os.environ, "LEDGER_CHECKPOINT_INTERVAL": "0"}
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            _command("--organisations", str(path), "--port", str(port), "--log-level", "warning"),
            cwd=ROOT, env=env, stderr=handle, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        event = shown("out-serve", event_id=str(uuid.uuid4()))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    answer = client.post("/v1/events", json=event, headers=bearer(token))
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            refused = client.post("/orgs/riverside/v1/events", json=event, headers=bearer(token))
            top = client.get("/top/healthz")
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert answer.status_code == 201, answer.text
    assert refused.status_code == 403 and refused.json()["errors"][0]["loc"] == "organisation"
    assert top.status_code == 200
    for name, held in (("northside", 1), ("riverside", 0)):
        with Ledger(env_settings(urls[name])) as ledger:
            assert [r.event_id for r in ledger.records()] == [event["event_id"]] * held
    assert "2 organisation ledgers" in log.read_text()


def test_serve_organisations_refuses_a_malformed_deployment_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    path.write_text('{"organisations": {}}')

    done = subprocess.run(_command("--organisations", str(path)), cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert "deployment file" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_organisations_refuses_an_unreadable_deployment_file_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        _command("--organisations", str(tmp_path / "absent.json")), cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert "deployment file cannot be read" in done.stderr and "Traceback" not in done.stderr
