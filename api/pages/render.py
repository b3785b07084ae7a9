"""Rendering a page: the templates (Jinja2, every value escaped), the pages' security policy, times.

Each page carries its own Content-Security-Policy (the wrapper of api.headers
keeps a response's own): scripts, styles, images and fetches from the app only,
no inline script or style, forms posted only to the app, no frame. Every
template extends ``base.html`` (landmarks, skip link, navigation, headings).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from api.pages.access import Viewer
from api.pages.session import FORM_COOKIE, Sessions, new_nonce, set_cookie
from api.replica import noted_lag

HERE: Final = Path(__file__).parent
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def templates(time_zone: str) -> Jinja2Templates:
    """The pages' templates, with the filters that show times in ``time_zone``."""
    found = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html
    zone = ZoneInfo(time_zone)
    found.env.filters["when"] = lambda value: when(value, zone)
    found.env.globals["time_zone"] = time_zone
    return found


_NOT_RECORDED: Final = Markup('<span class="none">not recorded</span>')


@lru_cache(maxsize=8192)
def when(value: str | None, zone: ZoneInfo) -> Markup:
    """An RFC 3339 time as ``<time>``: local with its offset on screen, UTC in print (pages.css, print.css).
    Kept: a dossier shows hundreds of times, many of them more than once."""
    if not value:
        return _NOT_RECORDED
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z")
    shown = f"{local[:-2]}:{local[-2:]}"
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(  # noqa: S704 - the value is escaped; the rest is formatted from a parsed time
        f'<time datetime="{escape(value)}"><span class="t-local">{shown}</span><span class="t-utc">{utc}</span></time>'
    )


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    viewer: Viewer | None,
    status: int = 200,
) -> HTMLResponse:
    """The template rendered for this request, with a form token for its forms and the pages' CSP."""
    sessions: Sessions = request.app.state.pages.sessions()
    nonce = request.cookies.get(FORM_COOKIE) or new_nonce()
    session = None if viewer is None else viewer.session
    context = {**context, "session": viewer, "form_token": sessions.form_token(nonce, session)}
    context["replica_lag"] = noted_lag(request)  # read from a streaming replica: say how far behind it is
    found: Jinja2Templates = request.app.state.pages.templates
    response = found.TemplateResponse(request, name, context, status_code=status)
    response.headers["content-security-policy"] = PAGE_CSP
    if request.cookies.get(FORM_COOKIE) != nonce:
        set_cookie(response, request, FORM_COOKIE, nonce, max_age=None)
    return response
