"""The interactive docs (Swagger UI) served from the app itself, never from a CDN.

The page loads Swagger UI's script, stylesheet and icon from the
``swagger-ui-bundle-v2`` package's files, mounted at ``ASSETS`` (a path with
the Swagger UI version in it, so the assets may be cached for good); on an
isolated hospital network the page works as it does anywhere. ReDoc is off (no
package ships it without a CDN fallback) and so is the OAuth2 redirect page
(the API's keys are bearer tokens).

Its Content-Security-Policy allows scripts and styles from the app only, with
no 'unsafe-inline' for either: the one inline script FastAPI's page has (Swagger
UI's start) is allowed by its SHA-256. Images also allow data: (Swagger UI's
icons are data: URIs in its stylesheet). Checked in a headless Chromium: the
page renders every operation, an expanded one included, with no CSP report; with
the hash left out, nothing renders.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import re
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

DOCS_URL: Final = "/docs"
# The package's one vendored release (its own swagger_ui_path names it; read here without its untyped module).
_SWAGGER_DIR: Final = max(Path(str(importlib.resources.files("swagger_ui_bundle"))).glob("vendor/swagger-ui-*"))
ASSETS: Final = f"{DOCS_URL}/assets/{_SWAGGER_DIR.name}"  # e.g. /docs/assets/swagger-ui-5.31.0
_INLINE_SCRIPT: Final = re.compile(r"<script>(.*?)</script>", re.DOTALL)


class _Assets(StaticFiles):
    """Swagger UI's files; they change only with the path, so they may be cached for a year."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: StaticFiles, with a Cache-Control header."""

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = list(message.get("headers", []))
                message["headers"] = [*headers, (b"cache-control", b"public, max-age=31536000, immutable")]
            await send(message)

        await super().__call__(scope, receive, send_cached)


def docs_page(app: FastAPI) -> bytes:
    """The Swagger UI page for ``app``'s OpenAPI document, every asset from ``ASSETS``."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - docs",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        oauth2_redirect_url=None,
    )
    return bytes(page.body)


def docs_policy(page: bytes) -> str:
    """The docs page's Content-Security-Policy: the app's own assets, and its inline scripts by hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page.decode())
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def install(app: FastAPI) -> str:
    """Serve the docs page and its assets on ``app``; the page's Content-Security-Policy."""
    page = docs_page(app)
    app.mount(ASSETS, _Assets(directory=_SWAGGER_DIR), name="swagger-ui")

    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.add_api_route(DOCS_URL, docs, include_in_schema=False)
    return docs_policy(page)
