"""Liveness, readiness and the group committer's counters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.deps import AuditorKey, RuntimeDep, StoreDep
from api.errors import documented
from api.models import Health, Stats

router = APIRouter(tags=["operations"])


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    """The root sends a browser to the pages (the incidents; the sign-in page first, without a session)."""
    return RedirectResponse("/incidents")


@router.get("/healthz", response_model=Health, response_model_exclude_none=True, summary="The process is up")
async def healthz() -> dict[str, Any]:
    """Always 200 while the process serves requests; touches no database."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Health, summary="The database is reachable", responses=documented(503))
async def readyz(runtime: RuntimeDep) -> dict[str, Any]:
    """200 with the head seq when the database answers; 503 with Retry-After when it does not."""
    store = runtime.store()
    head = await run_in_threadpool(store.ledger.head_seq)
    return {"status": "ready", "head_seq": head}


@router.get("/v1/stats", response_model=Stats, summary="Group-commit counters", responses=documented(401, 403, 503))
def stats(key: AuditorKey, store: StoreDep) -> dict[str, Any]:
    """How many transactions the group committer made, and of which sizes."""
    return store.committer.stats().to_json()
