"""The legal and risk workspace: pages rendered on the server, from the same queries the JSON API answers.

    /signin, /signout              sign in with an API key (reader, auditor, admin), sign out   (signin.py)
    /incidents                     incidents, filtered and counted, overdue and gapped first    (incidents.py)
    /incidents/{id}                one incident: timeline, accountability report, clocks
    /incidents/{id}/timeline.csv   its timeline as CSV
    /incidents/{id}/evidence.json  its evidence bundle (`ledger export`'s file)
    /incidents/{id}/fhir.json      it as a FHIR Bundle (R4, or R5 with ?fhir_version=R5)
    /incidents/{id}/proofs.json    its events' inclusion proofs, for the Verify control           (proofs.py)
    /events/{seq}                  one event: fields, canonical bytes, hash, inclusion proof     (events.py)
    /events/{seq}/reveal           its sensitive fields, for a purpose (the read is recorded)
    /tools/{id}                    one tool: its state as of any moment, history, plots          (tools.py)
    /reliance                      reliance metrics, whole and by tool, unit and clinician        (reliance.py)
    /gaps                          the governance gaps, by kind and tool, with their evidence     (gaps.py)
    /log                           the raw log, page by page (auditor, admin)
    /static/...                    the pages' stylesheets and scripts, from this package

Who may see what: api.pages.access. Sessions, form tokens: api.pages.session.
Templates, the pages' Content-Security-Policy, times: api.pages.render.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ExceptionHandler

from api.pages import events, gaps, incidents, proofs, reliance, signin, tools
from api.pages.access import PageError, SignInRequired
from api.pages.plots import PlotCache
from api.pages.render import HERE, page, templates
from api.pages.secret import session_secret
from api.pages.session import SESSION_COOKIE, Sessions
from api.settings import Settings
from ledger.apikeys import ApiKey

STATIC: Final = "/static"
ROUTERS: Final = (
    signin.router,
    incidents.router,
    proofs.router,
    events.router,
    tools.router,
    reliance.router,
    gaps.router,
)


class PagesState:
    """What the pages keep on the app: the templates, and the sessions (made on first use, when the secret is read)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.templates = templates(settings.time_zone)
        self.plots = PlotCache()  # the dossiers' drawn plots, by tool and time zone
        self._sessions: Sessions | None = None
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[ApiKey | None, float]] = {}  # key_id -> (the key, when to look it up again)

    def key(self, key_id: str, lookup: Callable[[str], ApiKey | None]) -> ApiKey | None:
        """The key behind a session, looked up again after ``key_cache_s`` seconds (the API's revocation delay):
        each lookup opens a connection to PostgreSQL, too slow for every page."""
        now = time.monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = lookup(key_id)
        if self.settings.key_cache_s > 0:
            with self._lock:
                if len(self._keys) > 10_000:  # sessions of many keys: start afresh rather than grow
                    self._keys.clear()
                self._keys[key_id] = (found, now + self.settings.key_cache_s)
        return found

    def sessions(self) -> Sessions:
        """The sessions, signed with the server secret (read, or generated and kept, on first use)."""
        with self._lock:
            if self._sessions is None:
                life = self.settings.session_hours * 3600
                self._sessions = Sessions(session_secret(self.settings), life_s=life)
            return self._sessions


async def _sign_in_first(request: Request, exc: SignInRequired) -> Response:
    target = "/signin" if exc.path in ("/", "/signin", "/signout") else f"/signin?next={quote(exc.path)}"
    response = RedirectResponse(target, status_code=303)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _page_error(request: Request, exc: PageError) -> Response:
    return page(request, "error.html", {"status": exc.status, "message": exc.message}, viewer=None, status=exc.status)


def install(app: FastAPI) -> None:
    """Serve the pages, their static files and their error pages on ``app``."""
    app.state.pages = PagesState(app.state.settings)
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="pages-static")
    for router in ROUTERS:
        app.include_router(router)
    # Each handler takes the class it is registered for; Starlette types them all as Exception.
    app.add_exception_handler(SignInRequired, cast(ExceptionHandler, _sign_in_first))
    app.add_exception_handler(PageError, cast(ExceptionHandler, _page_error))
