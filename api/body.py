"""Reading a JSON request body: 415 unless it is JSON, 413 over the limit, 422 unless it parses.

The body is read as a stream and refused as soon as it passes the limit, so a
client cannot make the server buffer more than the limit, whatever its
Content-Length says.
"""

from __future__ import annotations

import orjson
from fastapi import Request

from api.errors import PayloadTooLarge, UnsupportedMediaType
from ledger.errors import InvalidEvent


def is_json(content_type: str) -> bool:
    """application/json or application/<anything>+json, with any parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body is over this route's limit of {limit} bytes")


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
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise InvalidEvent.from_message("", "the body is not valid JSON") from None
