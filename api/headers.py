"""Security headers on every response, the fast path's and a 500's included.

    X-Content-Type-Options: nosniff          a JSON error is never run as a script or page
    X-Frame-Options: DENY                    no page of the API inside another site's frame
    Referrer-Policy: no-referrer             no URL of the API (ids in its path) sent onwards
    Content-Security-Policy                  the API: default-src 'none'; frame-ancestors 'none'
                                             /docs: its own scripts and styles only (api.docs)
    Cache-Control: no-store                  every answer but the docs' assets: events, proofs,
                                             revealed fields and errors are evidence or PHI, and
                                             no shared or browser cache may keep them

A response that sets one of these itself keeps its own (the docs' assets set
their Cache-Control). The wrapper is applied at the app's ASGI entry
(``api.app.LedgerAPI``), outside the fast path and Starlette's error middleware,
so no answer leaves without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"

_COMMON: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


def security_headers(csp: str = API_CSP) -> list[tuple[bytes, bytes]]:
    """The headers every response carries, with this Content-Security-Policy."""
    return [*_COMMON, (b"content-security-policy", csp.encode("latin-1"))]


class SecurityHeaders:
    """Pure ASGI middleware: adds the security headers to every HTTP response ``app`` sends."""

    def __init__(self, app: ASGIApp, *, page_policies: Mapping[str, str]) -> None:
        self.app = app
        self._default = security_headers()
        # Pages that need a policy of their own (the docs page), by exact path; read on each request,
        # so that the app may add its pages after building this wrapper.
        self._pages = page_policies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self._pages.get(scope["path"])
        extra = self._default if policy is None else security_headers(policy)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
