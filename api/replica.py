"""Reads from a streaming replica: the raw log and the views, with how far behind the replica is.

With ``Settings.read_database_url`` (``$LEDGER_READ_DATABASE_URL``), the server
opens the replica read-only beside the primary. Appends, proofs, checkpoints
and revealed fields stay on the primary; ``GET /v1/log`` and the views' queries
read the replica, as it is: they never wait for it unless asked (``min_seq``),
and each such answer carries ``Ledger-Replica-Lag-Seconds`` (the replica's own
measure: 0 when it has replayed all it received, else the age of the last
transaction it replayed). The log page also says it in ``replica_lag_seconds``.

A route records the lag it read with ``note_lag``; ``ReplicaLagHeader``, in
front of the app, puts it on the response, whichever way the route answered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import InputError
from ledger.store import Ledger
from ledger.store.url import DatabaseUrl
from projections.worker import ReplicaWorker

LAG_HEADER: Final = "Ledger-Replica-Lag-Seconds"
_STATE_KEY: Final = "replica_lag_s"


@dataclass(frozen=True)
class Replica:
    """The replica's ledger (opened without creating anything) and its views."""

    ledger: Ledger
    worker: ReplicaWorker

    def lag_s(self) -> float:
        """Seconds behind the primary, as the replica measures it (0.0 if it turns out to be a primary)."""
        return self.ledger.replica_lag_s() or 0.0

    def close(self) -> None:
        """Release the replica's connections."""
        self.ledger.close()


def open_replica(url: DatabaseUrl, *, primary: Ledger, connect_timeout_s: int) -> Replica:
    """Open the replica at ``url`` read-only; StoreUnavailable if it cannot be reached."""
    if url.backend != "postgres":
        raise InputError("LEDGER_READ_DATABASE_URL must be a postgresql:// URL of a streaming replica")
    extra = {"POSTGRES_PRE_PING": "y", "POSTGRES_CONNECT_TIMEOUT": str(connect_timeout_s)}
    settings = replace(primary.settings, database=replace(url, settings={**url.settings, **extra}))
    ledger = Ledger(settings, create_tables=False)
    try:
        return Replica(ledger, ReplicaWorker(ledger, primary=primary))
    except BaseException:
        ledger.close()
        raise


def note_lag(request: Request, replica: Replica) -> float:
    """Measure the replica's lag now and keep it for the response's header; the lag."""
    lag = replica.lag_s()
    request.scope.setdefault("state", {})[_STATE_KEY] = lag
    return lag


def noted_lag(request: Request) -> float | None:
    """The lag a route noted for this request (the pages print it), or None if it read the primary."""
    lag = request.scope.get("state", {}).get(_STATE_KEY)
    return lag if isinstance(lag, float) else None


class ReplicaLagHeader:
    """Pure ASGI middleware: ``Ledger-Replica-Lag-Seconds`` on any response whose route read the replica."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with the routes' Request.state

        async def send_with_lag(message: Message) -> None:
            lag = state.get(_STATE_KEY)
            if message["type"] == "http.response.start" and lag is not None:
                message["headers"] = [*message.get("headers", []), (LAG_HEADER.lower().encode(), f"{lag:.3f}".encode())]
            await send(message)

        await self.app(scope, receive, send_with_lag)
