"""Structured logs: one JSON object per line, never a patient identifier or free text.

A request's line has its id, method, route template (``/v1/events/{event_id}``,
never the query string), status, latency, the key id and role, and what the
route added to ``request.state.log_fields``: event ids, types, seqs, counts.
Event bodies, error texts of exceptions and tracebacks are never logged; an
exception is logged by its type name only.

Other libraries' lines: uvicorn's start lines (process id, bound address) are
filled in; a template whose values could come from a request (uvicorn's
WebSocket and access lines, which carry the path and query) is logged
unfilled; httpx's request line shows the method, the URL's origin and the
status, never the URL's path or query. uvicorn's access log is off: this
module's request line replaces it.

Request ids: a client's ``X-Request-ID`` is kept if it is 1-64 characters of
``A-Za-z0-9._-``, else a new one is made; either way it is echoed in the
response's ``X-Request-ID`` and in every error body.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SAFE_FIELDS: Final = frozenset(
    {
        "request_id", "method", "route", "status", "latency_ms", "key_id", "role", "error", "bytes",
        "event_id", "event_ids", "type", "types", "seq", "seqs", "count", "created", "database",
        "exc_type", "after_seq", "limit", "records",
    }
)  # fmt: skip

access_log = logging.getLogger("api.access")


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message and its whitelisted ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        """Only fixed messages and whitelisted fields; exceptions by type name."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k in _SAFE_FIELDS})
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
        return orjson.dumps(line, default=str).decode()


# Templates of other libraries whose arguments are the server's own configuration (a process id,
# the address it bound, a count), never a value from a request: these lines are filled in.
# Every other template with arguments is logged unfilled: uvicorn's WebSocket and access lines
# carry a request's path and query, a returned value's repr may carry anything.
_FILLED: Final = frozenset(
    {
        "Started server process [%d]",
        "Finished server process [%d]",
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
        "Uvicorn running on unix socket %s (Press CTRL+C to quit)",
        "Uvicorn running on socket %s (Press CTRL+C to quit)",
        "Maximum request limit of %d exceeded. Terminating process.",
        "Cancel %s running task(s), timeout graceful shutdown exceeded",
    }
)
# httpx's request line ('HTTP Request: %s %s "%s %d %s"': method, URL, version, status, reason):
# the URL's path and query may hold an event id or a query's values, so only its origin is shown.
_HTTPX_REQUEST: Final = 'HTTP Request: %s %s "%s %d %s"'


def _message(record: logging.LogRecord) -> str:
    """The record's message: fixed texts as they are, known-safe templates filled, others unfilled."""
    if not record.args:
        return str(record.msg)
    if record.msg in _FILLED:
        return record.getMessage()
    if record.msg == _HTTPX_REQUEST and isinstance(record.args, tuple) and len(record.args) == 5:
        method, url, version, status, reason = record.args
        return f'HTTP Request: {method} {_origin(url)} "{version} {status} {reason}"'
    return str(record.msg)


def _origin(url: object) -> str:
    """scheme://host[:port] of a URL, without its path, query or credentials."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "(a URL)"
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{authority}/..."


def log_config(level: str = "info") -> dict[str, Any]:
    """A logging.config dict for uvicorn: every logger as JSON lines on stderr; no access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "api.logging.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


class _RequestIds:
    """Fresh request ids: a random prefix per process, then a counter.

    Unique across the server's worker processes (the prefix is 64 random bits) and
    cheap: ``uuid4()`` per request reads the OS's random source, a system call that
    releases the GIL and waits to get it back from the group-commit and projection
    threads, a visible share of each request under load.
    """

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._counter: itertools.count[int] = itertools.count()

    def next(self) -> str:
        """A new 32-character hexadecimal id."""
        if self._pid != os.getpid():  # a fresh prefix in each worker process, even if forked after import
            self._pid, self._prefix, self._counter = os.getpid(), os.urandom(8).hex(), itertools.count()
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()


def new_request_id(offered: str | None) -> str:
    """The client's request id if it is safe to log and echo, else a fresh one."""
    if offered and _REQUEST_ID.fullmatch(offered):
        return offered
    return _request_ids.next()


class RequestLog:
    """One request's id, its ``state.log_fields``, the id echoed in its response, and its log line."""

    __slots__ = ("fields", "request_id", "started", "status")

    def __init__(self, scope: Scope, *, started: float | None = None) -> None:
        headers = dict(scope.get("headers") or [])
        self.request_id = new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        self.fields: dict[str, Any] = {}
        state = scope.setdefault("state", {})
        state["request_id"] = self.request_id
        state["log_fields"] = self.fields
        self.started = time.perf_counter() if started is None else started
        self.status = 500

    def wrap(self, send: Send) -> Send:
        """``send``, noting the status and adding ``X-Request-ID`` to the response's headers."""

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", self.request_id.encode())]
            await send(message)

        return send_with_id

    def finish(self, scope: Scope) -> None:
        """Log the request's one line."""
        route = scope.get("route")
        line = {
            "request_id": self.request_id,
            "method": scope["method"],
            "route": getattr(route, "path", "unmatched"),
            "status": self.status,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
            **self.fields,
        }
        access_log.info("request", extra={"fields": line})


class RequestLogMiddleware:
    """Gives each request an id and ``state.log_fields``; logs one line when the response is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        log = RequestLog(scope)
        try:
            await self.app(scope, receive, log.wrap(send))
        finally:
            log.finish(scope)
