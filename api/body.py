"""Reading a JSON request body: 415 unless it is JSON, 413 over the limit, 422 unless it parses strictly.

The body is read as a stream and refused as soon as it passes the limit, so a
client cannot make the server buffer more than the limit, whatever its
Content-Length says.

Every body is parsed by :func:`parse_body` (the events routes, the fast path) or,
for a route that declares a pydantic body, by :class:`StrictJsonRoute`'s request:
both refuse a key given twice in one object (``ledger.strict_json``), naming
where, so that no body means one thing to the ledger and another to its sender.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.errors import InvalidBody, PayloadTooLarge, UnsupportedMediaType
from ledger.catalogue import json_schema
from ledger.errors import InvalidEvent
from ledger.proof import strict_json


def is_json(content_type: str) -> bool:
    """application/json or application/<anything>+json, with any parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body is over this route's limit of {limit} bytes")


@cache
def event_field_names() -> frozenset[str]:
    """The names an event or a batch may hold: the catalogue's, and the batch's ``events``."""
    return strict_json.schema_names(json_schema()) | {"events"}


def parse_body(body: bytes) -> object:
    """An events body, parsed strictly; InvalidEvent if it is not JSON or an object repeats a key."""
    try:
        return strict_json.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidEvent.from_message("", "the body is not valid JSON") from None
    except strict_json.DuplicateKey as exc:
        raise InvalidEvent([exc.field_error(event_field_names())]) from None


async def read_json(request: Request, *, limit: int) -> object:
    """The parsed JSON body of ``request``, at most ``limit`` bytes."""
    if not is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("the body must be JSON: send Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    request.state.log_fields["bytes"] = size
    return parse_body(b"".join(chunks))


class _StrictJsonRequest(Request):
    """A request whose ``json()`` is ``ledger.strict_json``'s (orjson, no repeated key)."""

    known: frozenset[str] = frozenset()

    async def json(self) -> Any:
        """The body, parsed strictly: a repeated key is a 422 naming where (FastAPI re-raises HTTP errors)."""
        if not hasattr(self, "_json"):
            try:
                self._json = strict_json.loads(await self.body())
            except strict_json.DuplicateKey as exc:
                raise InvalidBody(exc.field_error(self.known)) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose declared JSON body is parsed strictly (for a router's ``route_class``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a strict request."""
        handler = super().get_route_handler()
        model = None if self.body_field is None else self.body_field.field_info.annotation
        known = (
            strict_json.schema_names(model.model_json_schema()) if isinstance(model, type(BaseModel)) else frozenset()
        )

        async def strict(request: Request) -> Response:
            strict_request = _StrictJsonRequest(request.scope, request.receive)
            strict_request.known = known
            return await handler(strict_request)

        return strict
