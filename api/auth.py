"""Who is calling: the API key in ``Authorization: Bearer lk_...``, and what its role allows.

    role      may
    emitter   POST /v1/events, /v1/events/batch for the source bound to its key;
              GET /v1/events/{id} of its own source's events
    reader    queries and pages (routes added by api.routes.queries and the pages);
              reveal sealed fields (the ledger records access.recorded)
    auditor   GET /v1/events/{id}, /v1/log, proofs, checkpoints, exports, /v1/stats
    admin     everything, any source but the ledger's own

The emitters' routes never take the ledger's control events (legal holds,
erasures, access records, key events) or the source ``ledger``, whatever the
key (``check_emitted``; the rule is ledger.catalogue.control's): only the
ledger's own operations (admin routes, CLI commands) record them.

No key, or a malformed, unknown or revoked one: 401. A role or source that
does not allow the request: 403. An authenticated key is trusted for
``key_cache_s`` seconds before it is looked up again, so a revocation takes
effect within that time on a running server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, Unauthorized
from api.runtime import Runtime
from ledger.apikeys import ApiKey, Role
from ledger.catalogue import emitted_defect

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `ledger api-keys create`, sent as `Authorization: Bearer lk_<key_id>_<secret>`.",
)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ApiKey:
    """The caller's active key, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("an API key is required: send Authorization: Bearer <key>")
    runtime: Runtime = request.app.state.runtime
    token = credentials.credentials
    key = runtime.key_cache.get(token)
    if key is None:
        store = runtime.store()
        key = await runtime.key_cache.fetch(token, lambda: run_in_threadpool(store.keys.authenticate, token))
        if key is None:
            raise Unauthorized("the API key is not valid (malformed, unknown or revoked)")
    request.state.log_fields.update(key_id=key.key_id, role=str(key.role))
    return key


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, parsed as ``HTTPBearer`` does; else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return token


def allows(key: ApiKey, *roles: Role) -> bool:
    """True if the key's role is one of ``roles``, or admin (the rule of ``require``)."""
    return key.role in roles or key.role is Role.ADMIN


def require(*roles: Role) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the caller's key, if its role is one of ``roles`` (admin always is)."""
    names = ", ".join(sorted(str(r) for r in frozenset(roles) | {Role.ADMIN}))

    async def dependency(key: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
        if not allows(key, *roles):
            raise Forbidden(f"this route needs one of the roles: {names}")
        return key

    return dependency


def check_source(key: ApiKey, source: str, *, index: int | None = None) -> None:
    """An emitter may only touch events of the source bound to its key (403 otherwise)."""
    if key.role is Role.EMITTER and key.source != source:
        raise Forbidden(
            f"{_at(index)}source: this key may only append or read events of the source bound to it, {key.source}"
        )


def check_emitted(raw: object, *, index: int | None = None) -> None:
    """403 for an event no key may append through the emitters' routes: a control type, or the ledger's source.

    Checked on the parsed body before validation; the message names the field
    (and the event's index in a batch), never its value.
    """
    defect = emitted_defect(raw)
    if defect is not None:
        raise Forbidden(f"{_at(index)}{defect}")


def _at(index: int | None) -> str:
    return "" if index is None else f"event {index}: "
