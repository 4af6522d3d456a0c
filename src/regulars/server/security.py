"""Who is asking: API keys (``Authorization: Bearer``), dashboard sessions, roles and CSRF.

Every route except the sign-in page, static files and ``/openapi.json``
depends on :func:`require` (JSON) or :func:`require_page` (HTML). A session
cookie also works on the JSON API from the dashboard; a state-changing
request authenticated by cookie must carry the session's CSRF token
(``X-CSRF-Token`` header or ``csrf_token`` form field).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from regulars.data import auth

SESSION_COOKIE = "regulars_session"
LOGIN_CSRF_COOKIE = "regulars_login_csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

bearer = HTTPBearer(auto_error=False, description="An API key: `regulars keys create --role viewer|analyst|admin`.")


class AuthProblem(Exception):
    """401 (no or bad credentials) or 403 (role too low, CSRF missing)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Principal:
    """The caller: which key, which role, how they signed in."""

    key_id: str
    role: str
    via: str  # "key" | "session"
    csrf_token: str | None = None
    key_name: str = ""

    @property
    def sees_pii(self) -> bool:
        """Analysts and admins see personal data; viewers never do."""
        return auth.rank(self.role) >= auth.rank("analyst")

    def can(self, role: str) -> bool:
        return auth.rank(self.role) >= auth.rank(role)

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


class SessionCache:
    """Live sessions by token hash, in memory in front of the ``sessions`` table."""

    def __init__(self, shared):
        self._shared = shared
        self._cache: dict[str, auth.Session] = {}

    def get(self, token: str | None) -> auth.Session | None:
        if not token or len(token) > 200:
            return None
        h = auth.session_hash(token)
        s = self._cache.get(h)
        if s is None:
            with self._shared.read() as ws:
                s = auth.find_session(ws, token)
            if s is None:
                return None
            self._cache[h] = s
        if s.expires_at <= auth._now():
            self._cache.pop(h, None)
            return None
        return s

    def start(self, key: auth.ApiKey, hours: float) -> tuple[str, auth.Session]:
        token, s = self._shared.write_transaction(lambda ws: auth.create_session(ws, key, hours))
        self._cache[auth.session_hash(token)] = s
        return token, s

    def end(self, token: str) -> None:
        self._cache.pop(auth.session_hash(token), None)
        self._shared.write_transaction(lambda ws: auth.end_session(ws, token))

    def forget_key(self, key_id: str) -> None:
        for h, s in list(self._cache.items()):
            if s.key_id == key_id:
                self._cache.pop(h, None)


def _touch(request: Request) -> None:
    """Write keys' last-used times at most once a minute (off the request path)."""
    state = request.app.state
    now = time.monotonic()
    if now - state.last_touch < 60:
        return
    state.last_touch = now
    used = state.keyring.drain_last_used()
    if used:
        state.shared.submit(lambda ws: auth.touch_keys(ws, used))


def identify(request: Request) -> Principal | None:
    """The principal behind a request, None when it carries no credentials; raises on bad ones."""
    state = request.app.state
    cached = request.scope.get("state", {}).get("principal")
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthProblem(401, "invalid_key", "use the header `Authorization: Bearer <key>`")
        key = state.keyring.verify(token)
        if key is None:
            raise AuthProblem(401, "invalid_key", "the API key is not valid (wrong, or revoked)")
        _touch(request)
        return Principal(key.key_id, key.role, "key", key_name=key.name)
    session = state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    key = state.keyring.get(session.key_id)
    if key is None:  # revoked since sign-in
        return None
    return Principal(key.key_id, key.role, "session", session.csrf_token, key.name)


def check_csrf(principal: Principal, presented: str | None) -> None:
    if principal.via != "session":
        return
    if not presented or not hmac.compare_digest(presented, principal.csrf_token or ""):
        raise AuthProblem(403, "csrf", "missing or wrong CSRF token: reload the page and try again")


def require(role: str = "viewer"):
    """Dependency for JSON routes: a principal with at least *role* (401/403 otherwise)."""

    def dependency(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        principal = identify(request)
        if principal is None:
            raise AuthProblem(401, "unauthenticated", "send an API key: `Authorization: Bearer <key>`")
        if not principal.can(role):
            raise AuthProblem(403, "forbidden", f"this needs the {role} role; your key has the {principal.role} role")
        if request.method not in SAFE_METHODS and principal.via == "session":
            check_csrf(principal, request.headers.get("x-csrf-token"))
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


class LoginRequired(Exception):
    """A page was asked for without a session: redirect to the sign-in page."""

    def __init__(self, next_url: str):
        self.next_url = next_url


def require_page(role: str = "viewer"):
    """Dependency for HTML pages: redirect to sign-in without a session; 403 page when the role is too low."""

    def dependency(request: Request) -> Principal:
        principal = identify(request)
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(quote(target, safe="/?=&"))
        if not principal.can(role):
            raise AuthProblem(403, "forbidden", f"this page needs the {role} role; you are signed in as {principal.role}")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"page_{role}"
    return dependency


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def cookie_secure(request: Request) -> bool:
    forced = request.app.state.settings.secure_cookies
    if forced is not None:
        return forced
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"
