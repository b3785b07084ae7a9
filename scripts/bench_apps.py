"""The apps the API benchmark serves beside ``api.app:create_app`` (``python -m scripts.bench privacy``)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from api.app import create_app
from scripts.benchkit import UnsealedLedger


def create_app_without_sealing() -> FastAPI:
    """The API on a ledger that stores sensitive fields in clear: the other side of the benchmark of
    what sealing costs, served by it alone, never by ``ledger serve``."""
    return create_app(open_ledger=UnsealedLedger)


def create_null_app() -> FastAPI:
    """A handler that reads the body and answers 201 with no work: the web stack's own limit (`ledger bench`)."""
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/events/batch")
    async def batch(request: Request) -> Response:
        await request.body()
        return Response(b'{"receipts":[]}', status_code=201, media_type="application/json")

    return app
