"""Console sessions: open, resolve (idle and absolute timeouts), list, revoke, log out.

A session token is 256 random bits (URL-safe base64); the database keeps only
its SHA-256, so a database reader cannot ride a session.  Each request
re-reads the session, its user and its tenant: revocation, disabling a user
and allowlist changes take effect on the very next request.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from aman.accounts import repository as repo
from aman.accounts.context import AccountsContext, mask_address
from aman.accounts.errors import IpNotAllowedError, NotFoundError, ValidationError
from aman.accounts.permissions import SESSIONS_MANAGE
from aman.accounts.scope import TenantScope, require
from aman.accounts.tenants import address_allowed

__all__ = ["Session", "SessionInfo", "SessionService"]

_TOUCH_EVERY = 15.0  # seconds between last-seen writes (idle timeout precision)


@dataclass(frozen=True, slots=True)
class Session:
    """The caller's own session (carries its CSRF token)."""

    id: int
    tenant: str
    user_id: int
    created_at: float
    last_seen_at: float
    expires_at: float
    client: str
    csrf: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as listed to its owner or an admin (no secrets)."""

    id: int
    user_id: int
    created_at: float
    last_seen_at: float
    expires_at: float
    idle_expires_at: float
    client: str
    current: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    def __init__(self, ctx: AccountsContext) -> None:
        self._ctx = ctx

    def open(
        self, conn: Connection, *, tenant: str, user_id: int, client_ip: str, now: float
    ) -> tuple[str, Session]:
        """Create a session inside the caller's (login) transaction; returns (token, session)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + self._ctx.config.session_absolute
        client = mask_address(client_ip)
        session_id = repo.insert_session(conn, {
            "token_hash": _hash(token), "tenant": tenant, "user_id": user_id, "csrf": csrf,
            "created_at": now, "last_seen_at": now, "expires_at": expires, "client": client,
        })
        return token, Session(session_id, tenant, user_id, now, now, expires, client, csrf)

    def resolve(
        self, token: str, client_ip: str, now: float | None = None
    ) -> tuple[Session, TenantScope] | None:
        """The live session for ``token`` and its scope, or None (unknown, revoked, timed out).

        Raises ``IpNotAllowedError`` when the tenant's allowlist excludes ``client_ip``.
        """
        if not isinstance(token, str) or not 32 <= len(token) <= 64:
            return None
        now = self._ctx.clock() if now is None else now
        cfg = self._ctx.config
        with self._ctx.engine.connect() as conn:
            row = repo.session_by_hash(conn, _hash(token))
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or now - row.last_seen_at > cfg.session_idle
            or row.status != "active"
        ):
            return None
        if not address_allowed(row.ip_allowlist, client_ip):
            raise IpNotAllowedError("address not allowed for this tenant")
        if now - row.last_seen_at >= _TOUCH_EVERY:
            with self._ctx.engine.begin() as conn:
                repo.touch_session(conn, row.id, now)
        session = Session(row.id, row.tenant, row.user_id, row.created_at,
                          max(now, row.last_seen_at), row.expires_at, row.client, row.csrf)
        return session, TenantScope.for_user(row.tenant, row.user_id, row.role, row.team, row.id)

    def _info(self, row: Any, scope: TenantScope) -> SessionInfo:
        idle = min(row.expires_at, row.last_seen_at + self._ctx.config.session_idle)
        return SessionInfo(row.id, row.user_id, row.created_at, row.last_seen_at, row.expires_at,
                           idle, row.client, row.id == scope.session_id)

    def list(self, scope: TenantScope, user_id: int | None = None) -> builtins.list[SessionInfo]:
        """Live sessions: your own by default; another user's (or all, ``user_id=None`` as
        a non-user principal) needs ``sessions:manage``."""
        if user_id is None and scope.kind == "user":
            user_id = scope.user_id
        if user_id is None or user_id != scope.user_id:
            require(scope, SESSIONS_MANAGE)
        now = self._ctx.clock()
        with self._ctx.engine.connect() as conn:
            rows = repo.list_sessions(conn, scope, user_id, now, self._ctx.config.session_idle)
        return [self._info(r, scope) for r in rows]

    def revoke(self, scope: TenantScope, session_id: int) -> None:
        """End a session now: your own, or anyone's in the tenant with ``sessions:manage``."""
        if not isinstance(session_id, int):
            raise ValidationError("session id must be a number")
        now = self._ctx.clock()
        with self._ctx.unit() as conn:
            owner = repo.session_owner(conn, scope, session_id)
            if owner is None:
                raise NotFoundError("no such session")
            if owner != scope.user_id:
                require(scope, SESSIONS_MANAGE)
            revoked = repo.revoke_session(conn, scope, session_id, now)
            if revoked:
                self._ctx.audit_append(
                    conn, tenant=scope.tenant, actor=scope.principal,
                    action="logout" if session_id == scope.session_id else "session_revoked",
                    target=f"session:{session_id}", details={"user": owner},
                )

    def logout(self, scope: TenantScope) -> None:
        """End the caller's current session."""
        if scope.session_id is None:
            raise ValidationError("not signed in with a session")
        self.revoke(scope, scope.session_id)
