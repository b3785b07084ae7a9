"""The apps the API benchmark serves beside ``api.app:create_app`` (``python -m scripts.bench privacy``)."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from scripts.benchkit import UnsealedLedger


def create_app_without_sealing() -> FastAPI:
    """The API on a ledger that stores sensitive fields in clear: the other side of the benchmark of
    what sealing costs, served by it alone, never by ``ledger serve``."""
    return create_app(open_ledger=UnsealedLedger)
