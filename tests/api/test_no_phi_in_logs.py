"""A real server runs the whole scenario suite; its log output holds no patient reference or free text.

The server is a `ledger serve` process writing its JSON log lines to a file.
Through HTTP it receives the demo story, the five error scenarios, a privacy
story, retries, conflicts and malformed events that carry patient references in
the wrong places, and answers queries, reveals and an erasure. Then every
sensitive value sent (and every value planted in a malformed event) is searched
for in the log output, and none may be there.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.catalogue import sensitive_fields
from tests import sepsis_story as demo
from tests.factories import envelope
from tests.projections import scenarios

PLANTED = ["Patient/PLANTED-7731", "PLANTED free text about the patient"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3",
           "LEDGER_KEYS_DIR": str(tmp_path / "keys"), "LEDGER_CHECKPOINT_DIR": str(tmp_path / "cp")}  # fmt: skip
    cli = [sys.executable, "-m", "scripts.cli"]

    def key(*args: str) -> str:
        done = subprocess.run([*cli, "api-keys", "create", *args], env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    tokens = {"admin": key("--role", "admin"), "reader": key("--role", "reader")}
    port, log = _port(), tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([*cli, "serve", "--port", str(port), "--log-level", "debug"],
                                   env=env, stdout=sink, stderr=sink)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield base, tokens, log
        finally:
            process.terminate()
            process.wait(timeout=30)


def _sensitive_values(events: list[dict[str, Any]]) -> set[str]:
    values: set[str] = set()
    for event in events:
        for field in sensitive_fields(event["type"]):
            value = event["data"].get(field)
            values |= set(value) if isinstance(value, list) else {value} if isinstance(value, str) else set()
    return values


def test_server_logs_hold_no_patient_reference_or_free_text(server: tuple[str, dict[str, str], Path]) -> None:
    base, tokens, log = server
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    sent: list[dict[str, Any]] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        story = demo.story()
        for event in story:  # singles, then the same again: 201 then 200
            assert http.post("/v1/events", json=event, headers=admin).status_code in (200, 201)
        assert http.post("/v1/events", json=story[-1], headers=admin).status_code == 200
        sent += story
        for build in scenarios.ALL:
            events = build().events
            assert http.post("/v1/events/batch", json={"events": events}, headers=admin).status_code == 201
            sent += events
        conflict = dict(story[9], data={**story[9]["data"], "patient_ref": PLANTED[0]})
        assert http.post("/v1/events", json=conflict, headers=admin).status_code == 409
        wrong = envelope("output.generated", {"output_id": PLANTED[0], "score": PLANTED[0], PLANTED[1]: 1})
        assert http.post("/v1/events", json=wrong, headers=admin).status_code == 422
        broken = b'{"patient_ref": "' + PLANTED[0].encode() + b'"'
        malformed = http.post("/v1/events", content=broken, headers=admin | {"Content-Type": "application/json"})
        assert malformed.status_code == 422
        for incident in ("INC-2026-041", "INC-FN", "INC-FP", "INC-MP", "INC-FR", "INC-WA"):
            http.get(f"/v1/incidents/{incident}/timeline", headers=reader)
            http.get(f"/v1/incidents/{incident}/accountability", headers=reader)
        revealed = http.get(f"/v1/events/{story[6]['event_id']}/revealed", params={"purpose": "incident_review"},
                            headers=reader)  # fmt: skip
        assert revealed.status_code == 200 and revealed.json()["event"]["data"]["patient_ref"] == "Patient/pseud-a91c"
        erased = http.post("/v1/subjects/erase", json={"subject": "patient:Patient/pseud-a91c",
                                                       "legal_basis": "gdpr_art17"}, headers=admin)  # fmt: skip
        assert erased.status_code == 200
    time.sleep(0.5)
    text = log.read_text("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert len(lines) > 35, "the server should have logged every request"
    assert all(json.loads(line) for line in lines)
    secrets = _sensitive_values(sent) | set(PLANTED)
    assert len(secrets) > 20
    leaked = sorted(s for s in secrets if s in text)
    assert leaked == []
