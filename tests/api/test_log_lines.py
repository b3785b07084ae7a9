"""Other libraries' log lines are filled in when their values are the server's own (pid, bound address),
and never when they could hold a request's (a path, a query, a URL's path)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx

from api.logging import JsonFormatter
from tests.api.test_no_phi_in_logs import server  # noqa: F401 - the real server, reused

MARKER = "MRN-SECRET-4242"


def _line(name: str, msg: str, *args: object) -> dict[str, object]:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    line: dict[str, object] = json.loads(JsonFormatter().format(record))
    return line


def test_uvicorn_s_start_lines_are_filled_in() -> None:
    assert _line("uvicorn.error", "Started server process [%d]", 4242)["msg"] == "Started server process [4242]"
    running = _line("uvicorn.error", "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", "http", "127.0.0.1", 8000)
    assert running["msg"] == "Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"


def test_lines_that_carry_a_request_s_path_stay_unfilled() -> None:
    websocket = _line("uvicorn.error", '%s - "WebSocket %s" 403', "10.0.0.1:5000", f"/v1/tools/{MARKER}?x={MARKER}")
    access = _line(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", f"/v1/gaps?kind={MARKER}", "1.1", 422
    )
    other = _line("somewhere", "value %s", MARKER)
    for line in (websocket, access, other):
        assert MARKER not in json.dumps(line) and "%s" in str(line["msg"])


def test_httpx_s_request_line_shows_the_method_origin_and_status_but_no_path_or_query() -> None:
    url = httpx.URL(f"https://user:pw@ledger.example:8443/v1/events/{MARKER}?purpose={MARKER}")
    line = _line("httpx", 'HTTP Request: %s %s "%s %d %s"', "GET", url, "HTTP/1.1", 404, "Not Found")
    assert line["msg"] == 'HTTP Request: GET https://ledger.example:8443/... "HTTP/1.1 404 Not Found"'


def test_a_real_server_logs_the_address_it_bound(server: tuple[str, dict[str, str], Path]) -> None:  # noqa: F811
    base, _, log = server
    for _ in range(100):  # the line is written before the server answers; the file may lag behind a little
        if "Uvicorn running" in log.read_text():
            break
        time.sleep(0.1)
    messages = [json.loads(line)["msg"] for line in log.read_text().splitlines() if line.startswith("{")]
    assert f"Uvicorn running on {base} (Press CTRL+C to quit)" in messages
    assert not [m for m in messages if "%d" in m or "%s://" in m]
