"""One deployment serving many organisation ledgers (ledger.organisations), each through its own app.

Every organisation gets the whole API (``create_app`` on its own database,
keys, checkpoint folder and origin) under ``/orgs/{organisation}``; the
deployment's top-level ledger is served under ``/top`` (and answers
``/healthz`` and the docs). Routing:

    POST /v1/events, /v1/events/batch    to the organisation of the caller's key (401 for no valid key)
    /orgs/{organisation}/...             to that organisation's app; 404 for an unknown one; 403 naming
                                         ``organisation`` for a key of another organisation
    /top/...                             the top-level ledger (its log, checkpoints and proofs)

An emitter's key lives in its organisation's key store only, so it can write
nowhere else: the app of another organisation would not know it, and the
router refuses it before it gets there. Every ``checkpoint_interval_s`` the
deployment records each member's new checkpoints in the top-level ledger
(``record_heads``), so a regulator reads every member's head in one place.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.auth import bearer_token
from api.headers import SecurityHeaders
from api.runtime import Runtime
from api.settings import ORGANISATIONS_ENV, Settings, get_settings
from ledger.errors import InputError, LedgerError
from ledger.organisations import Deployment, Organisation, record_heads

log = logging.getLogger("api.organisations")

PREFIX: Final = "/orgs/"
TOP_PREFIX: Final = "/top"
ROUTED_BY_KEY: Final = frozenset({"/v1/events", "/v1/events/batch"})


def organisation_settings(base: Settings, organisation: Organisation) -> Settings:
    """``base`` for one organisation: its database, its own key and checkpoint folders, its origin; no replica."""
    paths = organisation.paths()
    return replace(
        base,
        database_url=organisation.database_url,
        read_database_url=None,
        keys_dir=str(paths.keys_dir),
        checkpoint_dir=str(paths.checkpoint_dir),
        origin=organisation.origin,
    )


class DeploymentRouter:
    """The ASGI router in front of the organisations' apps (module docstring)."""

    def __init__(self, members: Mapping[str, FastAPI], top: FastAPI) -> None:
        self.members = dict(members)
        self.top = top
        self._owners: dict[bytes, str] = {}  # sha256(token) -> organisation, once a token authenticated there

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        path: str = scope["path"]
        if scope["type"] != "http":
            await self.top(scope, receive, send)
        elif path.startswith(PREFIX):
            await self._to_named(scope, receive, send)
        elif path in ROUTED_BY_KEY:
            await self._to_owner(scope, receive, send)
        elif path == TOP_PREFIX or path.startswith(TOP_PREFIX + "/"):
            await self.top(_under(scope, TOP_PREFIX), receive, send)
        else:
            await self.top(scope, receive, send)

    async def _to_named(self, scope: Scope, receive: Receive, send: Send) -> None:
        name, _, rest = scope["path"][len(PREFIX) :].partition("/")
        app = self.members.get(name)
        if app is None:
            await _problem(404, "not_found", "organisation: no organisation of this deployment has this id")(
                scope, receive, send
            )
            return
        owner = await self.owner_of(_token(scope))
        if owner is not None and owner != name:
            message = "organisation: this key belongs to another organisation's ledger, and may not use this one"
            await _problem(403, "forbidden", message, field="organisation")(scope, receive, send)
            return
        await app(_under(scope, PREFIX + name), receive, send)

    async def _to_owner(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = await self.owner_of(_token(scope))
        if owner is None:
            message = "the API key is not valid for any organisation of this deployment (malformed, unknown or revoked)"
            await _problem(401, "unauthorized", message)(scope, receive, send)
            return
        await self.members[owner](scope, receive, send)

    async def owner_of(self, token: str | None) -> str | None:
        """The organisation whose key store holds this active key, or None."""
        if token is None:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        owner = self._owners.get(digest)
        if owner is not None:
            return owner
        for name, app in self.members.items():
            store = app.state.runtime.opened()
            if store is not None and await run_in_threadpool(store.keys.authenticate, token) is not None:
                self._owners[digest] = name
                return name
        return None

    def record_heads_now(self) -> int:
        """Record every member's new checkpoints in the top-level ledger; how many were recorded."""
        top = _runtime(self.top).store().ledger
        members = {name: _runtime(app).store().ledger for name, app in self.members.items()}
        return len(record_heads(top, members))


def create_deployment_app(deployment: Deployment, base: Settings) -> ASGIApp:
    """The deployment as one ASGI app: every organisation's API, the top-level ledger's, and the router."""
    members = {name: create_app(organisation_settings(base, o)) for name, o in deployment.members.items()}
    top = create_app(organisation_settings(base, deployment.top))
    router = DeploymentRouter(members, top)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for app in (top, *members.values()):
                await stack.enter_async_context(app.router.lifespan_context(app))
            stop = threading.Event()
            recorder = asyncio.create_task(run_in_threadpool(_record_every, router, base.checkpoint_interval_s, stop))
            try:
                yield
            finally:
                stop.set()
                await recorder

    outer = Starlette(lifespan=lifespan, routes=[Mount("/", app=router)])
    outer.state.router = router
    return SecurityHeaders(outer, page_policies={})


def create_deployment_from_settings() -> ASGIApp:
    """``ledger serve --organisations FILE``'s app factory: the deployment file named by the settings
    ($LEDGER_ORGANISATIONS_FILE), each uvicorn worker building its own app from it."""
    settings = get_settings()
    if settings.organisations_file is None:
        raise InputError(f"{ORGANISATIONS_ENV} names no deployment file")
    return create_deployment_app(Deployment.from_json(read_deployment(settings.organisations_file)), settings)


def read_deployment(path: str) -> bytes:
    """The deployment file's bytes; InputError (one line, no path contents) if it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"the deployment file cannot be read: {exc.strerror}") from None


def _record_every(router: DeploymentRouter, interval_s: float, stop: threading.Event) -> None:
    """The deployment's schedule: the members' new checkpoints into the top-level ledger, until ``stop``."""
    if interval_s <= 0:
        return
    while not stop.wait(interval_s):
        try:
            router.record_heads_now()
        except LedgerError as exc:  # a database down, a member not yet open: the next tick tries again
            log.warning("recording the members' checkpoints failed", extra={"fields": {"error": type(exc).__name__}})


def _runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def _under(scope: Scope, prefix: str) -> Scope:
    """The scope as the app under ``prefix`` sees it: the path without the prefix, as if served alone.

    (Not Starlette's Mount, which keeps the prefix in the path: the apps' own ASGI
    layers, the fast append path among them, match paths as they are served alone.)
    """
    path = scope["path"][len(prefix) :] or "/"
    raw = scope.get("raw_path")
    child = {**scope, "path": path}
    if isinstance(raw, bytes):
        child["raw_path"] = raw[len(prefix.encode()) :] or b"/"
    return child


def _token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None


def _problem(status: int, code: str, message: str, *, field: str | None = None) -> JSONResponse:
    errors = [] if field is None else [{"index": None, "loc": field, "msg": message.split(": ", 1)[-1]}]
    body = {"code": code, "message": message, "request_id": "-", "errors": errors}
    headers = {"WWW-Authenticate": 'Bearer realm="ledger"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


Factory = Callable[[Deployment, Settings], ASGIApp]
