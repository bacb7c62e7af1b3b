"""``authenticate_request``: turn an HTTP request's headers into a ``TenantScope`` (or None).

Order: an ``Authorization: Bearer aman_...`` header wins (an invalid one is a
refusal, never a fallback to the cookie); otherwise the session cookie.  A
cookie-authenticated request with an unsafe method must carry the session's
CSRF token in ``X-CSRF-Token`` and, when the browser sends ``Origin``, come
from the console's own origin.

Outcomes for the API layer: a scope (go on), None (401), ``CsrfError`` or
``IpNotAllowedError`` (403), ``RateLimitedError`` (429 with Retry-After; a bearer
token's limit is shared by every API process, see :mod:`aman.accounts.ratelimit`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aman.accounts.cookies import CSRF_HEADER, CookiePolicy, check_csrf, header, read_cookie
from aman.accounts.errors import CsrfError
from aman.accounts.scope import TenantScope
from aman.accounts.sessions import SessionService
from aman.accounts.tokens import TokenService

__all__ = ["SAFE_METHODS", "RequestAuthenticator"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestAuthenticator:
    def __init__(
        self, sessions: SessionService, tokens: TokenService, cookies: CookiePolicy
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self.cookies = cookies

    def authenticate_request(
        self,
        headers: Mapping[str, str],
        client_ip: str,
        now: float | None = None,
        *,
        method: str,
    ) -> TenantScope | None:
        """Who is calling? See the module docstring for the outcomes."""
        auth = header(headers, "Authorization")
        if auth is not None:
            scheme, _, credential = auth.strip().partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                return None
            return self._tokens.authenticate(credential.strip(), client_ip, now)
        token = read_cookie(header(headers, "Cookie"), self.cookies.name)
        if token is None:
            return None
        resolved = self._sessions.resolve(token, client_ip, now)
        if resolved is None:
            return None
        session, scope = resolved
        if method.upper() not in SAFE_METHODS:
            origin = header(headers, "Origin")
            if origin is not None and origin.rstrip("/") != self.cookies.origin:
                raise CsrfError("cross-origin request refused")
            if not check_csrf(session, header(headers, CSRF_HEADER)):
                raise CsrfError("missing or wrong CSRF token")
        return scope
