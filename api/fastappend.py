"""``POST /v1/events`` on a short path, for the request that is simply right.

Single-event appends are the API's hot path: every emitter sends one per
clinical action. Through FastAPI's routing, dependency solving and exception
middleware, one costs about a millisecond of CPU before the ledger sees it,
which capped the server well below its group commit's rate. This ASGI
middleware answers that one request itself when nothing about it needs the full
machinery:

    no query string; an ``Authorization: Bearer`` token whose key is in the key
    cache, with the emitter or admin role; the store open; a JSON content type;
    a Content-Length within the route's limit; a body that parses, is not a
    control event (api.auth.check_emitted) and that the catalogue accepts; an
    emitter's event of its own source.

Anything else (a cache miss, a bad or oversized body, a wrong source, ...) is
passed to the app unchanged, with the body already read replayed to it, so
every refusal keeps its one implementation in the route, ``api.auth`` and
``api.errors``. The checks here are the route's own functions (``read``
excepted), in the route's order; an error after the event was handed to the
group committer (409, 503) is answered by the app's registered handler.
It runs before FastAPI's own entry point (``LedgerAPI.__call__``), so a request
it answers skips Starlette's middleware stack (server errors, FastAPI's
exception telemetry and body limit, the request log, exception routing): about
an eighth of the request path's CPU. It keeps what of them applies: the
request log's id, header and line (``api.logging.RequestLog``), and the app's
handlers for any exception, unexpected ones included (a 500 without a message).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import allows, bearer_token
from api.body import is_json, parse_body
from api.errors import ApiError
from api.logging import RequestLog
from api.routes import events
from api.routes.events import accepted_event, commit_one, location
from api.runtime import Runtime, Store
from api.settings import Settings
from ledger.apikeys import ApiKey, Role
from ledger.catalogue import Event
from ledger.errors import InvalidEvent

PATH = "/v1/events"
_JSON = (b"content-type", b"application/json")


class FastAppend:
    """Answers a plain, valid single-event append directly; passes every other request on to ``app``."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app  # the whole app, middleware stack and all
        self.api = api
        # The route the app would have matched, so that the log line names it the same way.
        self._route = next(r for r in events.router.routes if getattr(r, "endpoint", None) is events.append_event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        runtime: Runtime | None = getattr(self.api.state, "runtime", None)
        headers = _headers(scope)
        key = None if runtime is None else _cached_emitter(runtime, headers)
        store = None if runtime is None else runtime.opened()
        settings: Settings = self.api.state.settings
        if key is None or store is None or not _acceptable(headers, settings.max_event_bytes):
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive, settings.max_event_bytes)
        event = None if body is None else _event(body, key)
        if event is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["app"], scope["route"] = self.api, self._route
        log = RequestLog(scope, started=started)
        log.fields.update(key_id=key.key_id, role=str(key.role), bytes=len(body or b""))
        log.fields.update(event_id=event.event_id, type=event.type)
        try:
            await self._answer(scope, receive, log.wrap(send), store, event, log.fields, settings.append_timeout_s)
        finally:
            log.finish(scope)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: Store,
        event: Event,
        fields: dict[str, Any],
        timeout: float,
    ) -> None:
        try:
            receipt = await commit_one(store, event, timeout=timeout)
        except Exception as exc:  # 409, 503, or a bug (500): the app's own handler answers
            await _handled(self.api, scope, receive, send, exc)
            return
        fields.update(seq=receipt.seq, created=receipt.created)
        content = orjson.dumps(receipt.to_json())
        head = [
            (b"location", location(receipt).encode("latin-1")),
            (b"content-length", str(len(content)).encode("latin-1")),
            _JSON,
        ]
        await send({"type": "http.response.start", "status": 201 if receipt.created else 200, "headers": head})
        await send({"type": "http.response.body", "body": content})


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # The first of each header, as Starlette's Headers.get returns it.
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name, value)
    return found


def _cached_emitter(runtime: Runtime, headers: dict[bytes, bytes]) -> ApiKey | None:
    raw = headers.get(b"authorization")
    token = None if raw is None else bearer_token(raw.decode("latin-1"))
    key = None if token is None else runtime.key_cache.get(token)
    return key if key is not None and allows(key, Role.EMITTER) else None


def _acceptable(headers: dict[bytes, bytes], limit: int) -> bool:
    declared = headers.get(b"content-length", b"")
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    return declared.isdigit() and int(declared) <= limit and is_json(content_type)


async def _read(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The messages received, and the body; None for the body if it is over ``limit`` or the client left."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _event(body: bytes, key: ApiKey) -> Event | None:
    """The validated event, if the body is one the route would accept from this key; else None."""
    try:
        event = accepted_event(parse_body(body), key)  # the route's own parse and checks
    except (InvalidEvent, ApiError):
        return None
    return event


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives ``messages`` again, then whatever the client sends next."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _handled(api: FastAPI, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer ``exc`` with the handler the app registered for its class, as Starlette finds it."""
    handlers: dict[Any, Any] = api.exception_handlers
    handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        raise exc
    response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)
