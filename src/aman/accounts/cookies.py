"""The session cookie: its name and attributes, parsing it back, and CSRF token checks.

Secure by construction: ``__Host-`` prefix, ``Secure``, ``HttpOnly``,
``SameSite=Strict``, ``Path=/``, no ``Domain``.  The only way to drop
``Secure`` is a console URL on a loopback address over plain http (local
development); any other http URL is refused.  CSRF: a per-session
synchronizer token (random, stored with the session) sent back in the
``X-CSRF-Token`` header and compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from aman.accounts.errors import ValidationError

__all__ = [
    "CSRF_HEADER",
    "CookiePolicy",
    "SessionLike",
    "check_csrf",
    "csrf_token",
    "header",
    "read_cookie",
]

CSRF_HEADER = "X-CSRF-Token"
_BASE_NAME = "aman_session"
_LOOPBACK_NAMES = {"localhost"}


class SessionLike(Protocol):
    @property
    def csrf(self) -> str: ...


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """How the session cookie is named and flagged for one console origin."""

    secure: bool
    origin: str
    max_age: int = 12 * 3600

    @classmethod
    def from_public_url(cls, url: str, *, max_age: int = 12 * 3600) -> CookiePolicy:
        """https -> secure cookie; http only for 127.0.0.1 / ::1 / localhost (dev)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise ValidationError("the console URL must be an http(s) URL")
        if parts.scheme == "http" and not _is_loopback(host):
            raise ValidationError("the console must be served over https (http only on loopback)")
        return cls(secure=parts.scheme == "https", origin=f"{parts.scheme}://{parts.netloc}",
                   max_age=max_age)

    @property
    def name(self) -> str:
        return f"__Host-{_BASE_NAME}" if self.secure else _BASE_NAME

    def set_cookie(self, token: str) -> str:
        """The ``Set-Cookie`` header value that stores ``token``."""
        attrs = [f"{self.name}={token}", "Path=/", f"Max-Age={self.max_age}", "HttpOnly",
                 "SameSite=Strict"]
        if self.secure:
            attrs.append("Secure")
        return "; ".join(attrs)

    def clear_cookie(self) -> str:
        """The ``Set-Cookie`` header value that deletes the cookie (logout)."""
        attrs = [f"{self.name}=", "Path=/", "Max-Age=0", "HttpOnly", "SameSite=Strict"]
        if self.secure:
            attrs.append("Secure")
        return "; ".join(attrs)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value from a case-sensitive or case-insensitive mapping."""
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:
        wanted = name.lower()
        for key, val in headers.items():
            if key.lower() == wanted:
                return val
    return value


def read_cookie(cookie_header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header (first occurrence), or None."""
    if not cookie_header:
        return None
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"') or None
    return None


def csrf_token(session: SessionLike) -> str:
    """The CSRF token the console must echo in ``X-CSRF-Token`` for this session."""
    return session.csrf


def check_csrf(session: SessionLike, value: str | None) -> bool:
    """Constant-time check of a submitted CSRF token against the session's."""
    if not isinstance(value, str) or not value or len(value) > 128:
        return False
    return hmac.compare_digest(value.encode(), session.csrf.encode())
