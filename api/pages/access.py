"""Who is reading a page: the signed-in session, the API key behind it, and what its role may see.

    role      pages
    reader    incidents, an incident, its CSV and evidence bundle, an event (and reveal its sensitive
              fields, the read recorded as access.recorded, as the API's reveal does)
    auditor   the reader's pages, without the reveal, and the raw log
    admin     every page

Emitter keys belong to machines: they cannot sign in. No session (or one that
is forged, altered, expired or signed out, or whose key was revoked): a page
sends the browser to the sign-in page. A role that may not see a page: 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request

from api.auth import allows
from api.deps import StoreDep
from api.pages.session import SESSION_COOKIE, Session, Sessions
from ledger.apikeys import ApiKey, Role

SIGN_IN_ROLES: Final = frozenset({Role.READER, Role.AUDITOR, Role.ADMIN})


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page, then back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__("sign in to read this page")
        self.path = path


class PageError(Exception):
    """A page that cannot be shown: its status, and what to tell the reader (never a value from the request)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """The signed-in reader of a page."""

    key: ApiKey
    session: Session

    def may(self, *roles: Role) -> bool:
        """True if the key's role is one of ``roles``, or admin."""
        return allows(self.key, *roles)


def signed_in(request: Request, store: StoreDep) -> Viewer:
    """The session's viewer, its key looked up again; SignInRequired otherwise."""
    sessions: Sessions = request.app.state.pages.sessions()
    session = sessions.read(request.cookies.get(SESSION_COOKIE))
    key = None if session is None else request.app.state.pages.key(session.key_id, store.keys.get)
    if session is None or key is None or not key.active or key.role not in SIGN_IN_ROLES:
        raise SignInRequired(request.url.path)
    request.state.log_fields.update(key_id=key.key_id, role=str(key.role))
    return Viewer(key, session)


def page_for(*roles: Role) -> Callable[..., Viewer]:
    """A dependency: the viewer, if its role is one of ``roles`` (admin always is); else 403."""

    def dependency(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
        if not viewer.may(*roles):
            raise PageError(403, "Your role may not see this page.")
        return viewer

    return dependency


ReaderPage = Annotated[Viewer, Depends(page_for(Role.READER, Role.AUDITOR))]
RevealPage = Annotated[Viewer, Depends(page_for(Role.READER))]
AuditorPage = Annotated[Viewer, Depends(page_for(Role.AUDITOR))]
