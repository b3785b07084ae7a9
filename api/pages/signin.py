"""Signing in with an API key, and out.

The key is checked as the API checks it (ledger.apikeys) and never kept: the
session cookie holds the key's id. A failed sign-in says why in general terms
and never echoes the key. Signing out ends the session on the server too, so a
copy of its cookie is refused afterwards.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import StoreDep
from api.pages.access import SIGN_IN_ROLES, PageError, Viewer, signed_in
from api.pages.render import page
from api.pages.session import FORM_TOKEN_FIELD, SESSION_COOKIE, Sessions, set_cookie

router = APIRouter(include_in_schema=False)

HOME: Final = "/incidents"
SIGNED_OUT: Final = "/signin?signed_out=true"
_MAX_KEY: Final = 200  # longer than any token ledger.apikeys issues


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another site's address)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    return target


@router.get("/signin")
def signin_form(
    request: Request,
    next_page: Annotated[str | None, Query(alias="next", max_length=500)] = None,
    signed_out: Annotated[bool, Query()] = False,
) -> Response:
    """The sign-in form (saying so when the reader has just signed out)."""
    context = {"next": safe_next(next_page), "problem": None, "signed_out": signed_out}
    return page(request, "signin.html", context, viewer=None)


@router.post("/signin")
def signin(
    request: Request,
    store: StoreDep,
    api_key: Annotated[str, Form(max_length=_MAX_KEY)] = "",
    form_token: Annotated[str, Form(alias=FORM_TOKEN_FIELD, max_length=1000)] = "",
    next_page: Annotated[str, Form(alias="next", max_length=500)] = "",
) -> Response:
    """Check the key; on success a session cookie and a redirect to the page asked for."""
    sessions: Sessions = request.app.state.pages.sessions()
    problem = sessions.form_problem(request, form_token, None)
    if problem is not None:
        raise PageError(403, problem)
    key = store.keys.authenticate(api_key.strip()) if api_key.strip() else None
    if key is None:
        return _again(request, next_page, 401, "That API key is not valid (mistyped, unknown or revoked).")
    if key.role not in SIGN_IN_ROLES:
        return _again(request, next_page, 403, "Emitter keys cannot sign in: use a reader, auditor or admin key.")
    request.state.log_fields.update(key_id=key.key_id, role=str(key.role))
    _, cookie = sessions.issue(key.key_id)
    response = RedirectResponse(safe_next(next_page), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=int(sessions.life_s))
    return response


def _again(request: Request, next_page: str, status: int, problem: str) -> Response:
    context = {"next": safe_next(next_page), "problem": problem}
    return page(request, "signin.html", context, viewer=None, status=status)


@router.post("/signout")
def signout(
    request: Request,
    viewer: Annotated[Viewer, Depends(signed_in)],
    form_token: Annotated[str, Form(alias=FORM_TOKEN_FIELD, max_length=1000)] = "",
) -> Response:
    """End the session (here and on the server) and go to the sign-in page."""
    sessions: Sessions = request.app.state.pages.sessions()
    problem = sessions.form_problem(request, form_token, viewer.session)
    if problem is not None:
        raise PageError(403, problem)
    sessions.end(viewer.session)
    response = RedirectResponse(SIGNED_OUT, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
