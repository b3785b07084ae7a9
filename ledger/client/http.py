"""A Python client for emitting systems.

    from ledger.client.http import LedgerClient

    with LedgerClient("http://127.0.0.1:8000", api_key, source="epic-prod.northside",
                      actor={"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"}) as ledger:
        receipt = ledger.output_shown({"output_id": "out-1", "clinician_id": "clin-4471",
                                       "surface": "ed_tracking_board", "shown_at": "2026-04-08T02:14:58Z"})
        receipts = ledger.send_batch(many_envelopes)        # chunks of up to 1000, each all or nothing

Every event gets its event_id before the first attempt, and a retry resends the
very same bytes, so a request that timed out after the ledger committed it is
answered 200 with the original receipt: never a duplicate, never a 409.
Transport errors, 429, 502, 503 and 504 are retried with exponential backoff
(honouring Retry-After); other errors raise at once (see ``LedgerApiError``).
Typed helpers, one per event type of the catalogue, are in ledger.client.events; receipts in
ledger.client.receipts.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import httpx
import orjson
from pydantic import BaseModel

from ledger.client.events import TypedEmitters
from ledger.client.receipts import Receipt

MAX_BATCH: Final = 1000
_RETRIED_STATUSES: Final = frozenset({429, 502, 503, 504})

ActorLike = Mapping[str, str] | BaseModel
DataLike = Mapping[str, Any] | BaseModel


class LedgerApiError(Exception):
    """The ledger refused the request (or stayed unavailable through every retry)."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.code = str(body.get("code", "http_error"))
        self.message = str(body.get("message", ""))
        self.errors: list[dict[str, Any]] = list(body.get("errors") or [])
        self.request_id = body.get("request_id")
        self.body = dict(body)
        details = "; ".join(_describe(e) for e in self.errors)
        super().__init__(f"{status} {self.code}: {self.message}" + (f" ({details})" if details else ""))


class EventRejected(LedgerApiError):
    """422: the event (or a batch's event) is malformed; ``errors`` names index, field and reason."""


class EventConflict(LedgerApiError):
    """409: the event_id is already recorded with other content."""


class NotAuthorized(LedgerApiError):
    """401 or 403: no valid key, or a key whose role or source does not allow this."""


class Unavailable(LedgerApiError):
    """503 (or a transport error) after every retry."""


def _describe(error: Mapping[str, Any]) -> str:
    where = "" if error.get("index") is None else f"event {error['index']}: "
    return f"{where}{error.get('loc') or '(body)'}: {error.get('msg')}"


def _error(status: int, body: Mapping[str, Any]) -> LedgerApiError:
    kinds: dict[int, type[LedgerApiError]] = {
        422: EventRejected,
        409: EventConflict,
        401: NotAuthorized,
        403: NotAuthorized,
        503: Unavailable,
    }
    return kinds.get(status, LedgerApiError)(status, body)


def now() -> str:
    """The current time as an RFC 3339 UTC timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: ActorLike | DataLike) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        dumped: dict[str, Any] = value.model_dump(mode="json", exclude_none=True)
        return dumped
    return dict(value)


class LedgerClient(TypedEmitters):
    """Appends events to a ledger server and returns its receipts."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        source: str | None = None,
        actor: ActorLike | None = None,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.source = source
        self.actor = None if actor is None else _plain(actor)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = headers

    # --- building ------------------------------------------------------------------

    def envelope(
        self,
        event_type: str,
        data: DataLike,
        *,
        actor: ActorLike | None = None,
        occurred_at: str | None = None,
        source: str | None = None,
        event_id: str | None = None,
        schema_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> dict[str, Any]:
        """A complete envelope, with a fresh event_id unless one is given."""
        who = self.actor if actor is None else _plain(actor)
        where = source or self.source
        if who is None or where is None:
            raise ValueError("an event needs an actor and a source (give them here or to LedgerClient)")
        event: dict[str, Any] = {
            "event_id": event_id or str(uuid.uuid4()),
            "type": event_type,
            "occurred_at": occurred_at or now(),
            "source": where,
            "actor": who,
            "data": _plain(data),
        }
        optional = {"schema_version": schema_version, "correlation_id": correlation_id, "causation_id": causation_id}
        event.update({k: v for k, v in optional.items() if v is not None})
        return event

    # --- sending -------------------------------------------------------------------

    def emit(self, event_type: str, data: DataLike, **envelope: Any) -> Receipt:
        """Build one event (see ``envelope`` for the keywords) and append it."""
        return self.send(self.envelope(event_type, data, **envelope))

    def send(self, event: Mapping[str, Any]) -> Receipt:
        """Append one complete envelope; retried with the same bytes until it is answered."""
        response = self._post("/v1/events", orjson.dumps(dict(event)))
        return Receipt.from_json(response.json(), created=response.status_code == 201)

    def send_batch(self, events: Sequence[Mapping[str, Any]], *, size: int = MAX_BATCH) -> list[Receipt]:
        """Append events in chunks of ``size`` (each chunk all or nothing); receipts in order."""
        if not 1 <= size <= MAX_BATCH:
            raise ValueError(f"size must be 1 to {MAX_BATCH}")
        receipts: list[Receipt] = []
        for start in range(0, len(events), size):
            chunk = [dict(e) for e in events[start : start + size]]
            response = self._post("/v1/events/batch", orjson.dumps({"events": chunk}))
            created = response.status_code == 201
            receipts += [Receipt.from_json(r, created=created) for r in response.json()["receipts"]]
        return receipts

    @contextmanager
    def batch(self, *, size: int = MAX_BATCH) -> Iterator[Batch]:
        """Collect events with ``batch.emit(...)``; they are sent when the block ends without error."""
        collected = Batch(self)
        yield collected
        collected.receipts = self.send_batch(collected.events, size=size) if collected.events else []

    def get_event(self, event_id: str) -> dict[str, Any]:
        """The recorded event: canonical bytes (base64), hashes, seq."""
        body: dict[str, Any] = self._get(f"/v1/events/{event_id}").json()
        return body

    def log(self, *, after_seq: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page of the raw log (needs an auditor or admin key)."""
        body: dict[str, Any] = self._get("/v1/log", params={"after_seq": after_seq, "limit": limit}).json()
        return body

    # --- transport -----------------------------------------------------------------

    def _post(self, path: str, body: bytes) -> httpx.Response:
        return self._request("POST", path, content=body)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self._request("GET", path, params=dict(params or {}))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, headers=self._headers, **kwargs)
            except httpx.TransportError:
                if attempt >= self.retries:
                    raise
                time.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            if response.status_code not in _RETRIED_STATUSES or attempt >= self.retries:
                raise _error(response.status_code, _json_or_empty(response))
            time.sleep(self._delay(attempt, response.headers.get("Retry-After")))
            attempt += 1

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None and retry_after.isdigit():
            return min(float(retry_after), self.max_backoff)
        exponential: float = min(self.max_backoff, self.backoff * 2.0**attempt)
        return exponential * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    def close(self) -> None:
        """Close the connection pool (if this client made it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Batch:
    """Events collected by ``LedgerClient.batch()``; ``receipts`` is set once they are sent."""

    def __init__(self, client: LedgerClient) -> None:
        self._client = client
        self.events: list[dict[str, Any]] = []
        self.receipts: list[Receipt] = []

    def emit(self, event_type: str, data: DataLike, **envelope: Any) -> str:
        """Add one event; returns its event_id."""
        event = self._client.envelope(event_type, data, **envelope)
        self.events.append(event)
        return str(event["event_id"])
