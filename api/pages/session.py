"""Page sessions and form tokens, signed with the server secret by itsdangerous (as Starlette's own sessions are).

    cookie            holds                                   attributes
    ledger_session    {key_id, session id}, signed, dated     HttpOnly; SameSite=Strict; Path=/; Secure over
                                                              HTTPS; Max-Age = the session's life
    ledger_form       a random nonce                          HttpOnly; SameSite=Strict; Path=/; Secure over HTTPS

The session holds the API key's id, never its secret: the key is looked up
again (at most ``key_cache_s`` seconds after the last lookup, as the API does),
so a revoked key ends its sessions within that time. A
cookie that is forged, altered, older than its life or signed out is no session.

Every form that posts carries a token: the form nonce and the session id it was
issued to, signed. A post is refused (403) unless its token is genuine, matches
the form cookie's nonce and the current session (none, for the sign-in form),
and the request is not cross-site (``Sec-Fetch-Site``, else ``Origin``).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE: Final = "ledger_session"
FORM_COOKIE: Final = "ledger_form"
FORM_TOKEN_FIELD: Final = "form_token"  # noqa: S105 - a form field's name
_SAME_SITE: Final = frozenset({"same-origin", "none"})  # Sec-Fetch-Site: "none" is the user's own navigation


@dataclass(frozen=True)
class Session:
    """A signed-in session: the API key behind it and the session's own id."""

    key_id: str
    session_id: str


class Sessions:
    """Issues and reads the signed cookies; remembers the sessions signed out until they would have expired."""

    def __init__(self, secret: bytes, *, life_s: float) -> None:
        self.life_s = life_s
        self._sessions = URLSafeTimedSerializer(secret, salt="ledger.pages.session")
        self._forms = URLSafeTimedSerializer(secret, salt="ledger.pages.form")
        self._ended: dict[str, float] = {}  # session id -> when its cookie expires anyway (time.time)
        self._lock = threading.Lock()

    def issue(self, key_id: str) -> tuple[Session, str]:
        """A new session for the key, and its cookie value."""
        session = Session(key_id, secrets.token_urlsafe(16))
        return session, self._sessions.dumps({"k": session.key_id, "s": session.session_id})

    def read(self, cookie: str | None) -> Session | None:
        """The session in the cookie; None if absent, forged, altered, expired or signed out."""
        data = self._loads(self._sessions, cookie)
        if not isinstance(data, dict) or not isinstance(data.get("k"), str) or not isinstance(data.get("s"), str):
            return None
        with self._lock:
            if data["s"] in self._ended:
                return None
        return Session(data["k"], data["s"])

    def end(self, session: Session) -> None:
        """Sign the session out: its cookie is refused from now on, even if a copy of it is replayed."""
        now = time.time()
        with self._lock:
            self._ended = {sid: until for sid, until in self._ended.items() if until > now}
            self._ended[session.session_id] = now + self.life_s

    def form_token(self, nonce: str, session: Session | None) -> str:
        """The token a form carries: its nonce, bound to the session (or to none, for the sign-in form)."""
        return self._forms.dumps({"n": nonce, "s": "" if session is None else session.session_id})

    def form_problem(self, request: Request, token: str | None, session: Session | None) -> str | None:
        """Why a posted form is refused, or None if it may proceed."""
        if _cross_site(request):
            return "the form was posted from another site"
        data = self._loads(self._forms, token)
        nonce = request.cookies.get(FORM_COOKIE)
        expected = "" if session is None else session.session_id
        if not isinstance(data, dict) or not nonce or data.get("n") != nonce or data.get("s") != expected:
            return "the form is out of date or did not come from this site; reload the page and try again"
        return None

    def _loads(self, serializer: URLSafeTimedSerializer, value: str | None) -> Any:
        if not value:
            return None
        try:
            return serializer.loads(value, max_age=int(self.life_s))
        except BadSignature:  # SignatureExpired is one: an expired cookie is refused as a forged one is
            return None


def new_nonce() -> str:
    """A fresh form nonce."""
    return secrets.token_urlsafe(16)


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None) -> None:
    """Set one of the pages' cookies with the attributes every one of them has."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _cross_site(request: Request) -> bool:
    """True if the browser says the request comes from another site.

    ``Sec-Fetch-Site`` first: every current browser sends it, and the pages' ``Referrer-Policy: no-referrer``
    makes Chromium send ``Origin: null`` on their own posts. Else an ``Origin`` other than this one (and not
    ``null``). A browser that sends neither is still held by the form token and the SameSite=Strict cookies.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in _SAME_SITE
    origin = request.headers.get("origin")
    return origin is not None and origin != "null" and origin != f"{request.url.scheme}://{request.url.netloc}"
