"""The app factory. Nothing happens at import time: ``create_app()`` builds the app, and its
lifespan opens the store (the ledger, the group committer, the API keys) and closes it, and
runs the checkpoint schedule (``api.checkpoints``) in between.

Routers are served from ``ROUTERS``; other areas (queries, proofs) add their
module's ``router`` there. The pages (api.pages) install their own routes,
static files and error pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import APIRouter, Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Receive, Scope, Send

from api import docs, errors, pages
from api.checkpoints import CheckpointSchedule
from api.fastappend import FastAppend
from api.headers import SecurityHeaders
from api.logging import RequestLogMiddleware
from api.openapi import build_openapi
from api.params import reject_unknown_query
from api.replica import ReplicaLagHeader
from api.routes import cds_hooks, events, fhir_export, fhir_ingest, health, log, privacy, proofs, queries, verification
from api.runtime import LedgerOpener, Runtime
from api.settings import Settings, get_settings
from ledger.store import Ledger

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    events.router,
    log.router,
    proofs.router,
    queries.router,
    fhir_export.router,
    fhir_ingest.router,
    cds_hooks.router,
    privacy.router,
    verification.router,
)

# FastAPI's own OpenTelemetry spans, metrics and logs stay off: span attributes (URLs, routes,
# errors' texts) would go past the rule that logs carry no identifier or free text, and the
# check for configured providers runs on every request. The ledger's one request log is
# api.logging's; tracing is something an operator adds deliberately.
NO_TELEMETRY: Final = TelemetryConfig(tracing=False, metrics=False, logs=False)

DESCRIPTION = """\
The clinical AI accountability ledger: an append-only, hash-chained record of
every lifecycle event of clinical AI tools. Emitters append events and keep the
receipts; auditors read the raw log, signed checkpoints, inclusion and consistency
proofs and evidence bundles. Authenticate with an API key from
`ledger api-keys create`, sent as `Authorization: Bearer lk_...`.
Limits: 1 MiB per event request, 8 MiB and 1000 events per batch, 1000 records per log page.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store (or keep trying in the background) and start signing checkpoints on schedule;
    on shutdown, stop the schedule, finish queued appends and close."""
    runtime = Runtime(app.state.settings, app.state.open_ledger)
    app.state.runtime = runtime
    await run_in_threadpool(runtime.start)
    schedule = CheckpointSchedule.of(runtime, app.state.settings)
    app.state.checkpoints = schedule
    schedule.start()
    try:
        yield
    finally:
        await run_in_threadpool(schedule.stop)
        await run_in_threadpool(runtime.stop)


class LedgerAPI(FastAPI):
    """FastAPI with ASGI layers in front of its middleware stack: ``front``, which create_app sets."""

    front: ASGIApp | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.page_policies: dict[str, str] = {}  # path -> Content-Security-Policy, for pages (the docs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: ``front`` if there is one (it passes what it does not answer to ``behind``)."""
        await (self.front or self.behind)(scope, receive, send)

    async def behind(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own entry point: its middleware stack, then the routes."""
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, open_ledger: LedgerOpener = Ledger) -> FastAPI:
    """The API as a FastAPI app; ``settings`` default to ``get_settings()`` (the environment)."""
    app = LedgerAPI(
        title="Clinical AI accountability ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        telemetry=NO_TELEMETRY,
        docs_url=None,  # served by api.docs, from the app's own files
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings or get_settings()
    app.state.open_ledger = open_ledger
    for router in ROUTERS:
        app.include_router(router)
    app.page_policies[docs.DOCS_URL] = docs.install(app)
    errors.install(app)
    pages.install(app)  # the legal and risk pages (their own CSP, sessions and error pages)
    app.add_middleware(RequestLogMiddleware)
    # In front of FastAPI: the security headers (api.headers) on every response, whichever answered it;
    # then the plain single-event append, answered before the middleware stack (api.fastappend). Every
    # other request, and any append it cannot take as it is, goes on to FastAPI.
    # The replica's lag, where a route read the replica (api.replica), is added on the way out.
    app.front = SecurityHeaders(ReplicaLagHeader(FastAppend(app.behind, app)), page_policies=app.page_policies)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
