"""API tokens: create (shown once), list, revoke, and authenticate bearer tokens.

Format: ``aman_`` + 43 base62 characters (256 random bits) + 6 base62
characters of CRC-32 over them, so malformed or mistyped tokens are refused
without a database lookup and secret scanners can recognise leaked ones.
Only the SHA-256 of the token is stored (plenty for 256 random bits).  Every
token has scopes (:mod:`aman.accounts.permissions`), an expiry (default 90
days, at most ``token_max_days``), a rate limit shared by every API process
(:mod:`aman.accounts.ratelimit`) and records when and from which
(masked) address it was last used.  Revocation takes effect on the next request.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aman.accounts import repository as repo
from aman.accounts.context import AccountsContext, mask_address
from aman.accounts.errors import (
    IpNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from aman.accounts.permissions import SCOPES, TOKENS_MANAGE, permissions_for_scopes
from aman.accounts.ratelimit import SharedRateLimiter
from aman.accounts.scope import TenantScope, require
from aman.accounts.tenants import address_allowed

__all__ = ["PREFIX", "CreatedToken", "TokenInfo", "TokenService", "new_token", "parse_token"]

PREFIX = "aman_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY = 43
_CHECK = 6
_FORMAT = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{_BODY + _CHECK}}}$")
_NAME = re.compile(r"^[\w .:/@\-]{1,64}$")
_TOUCH_EVERY = 60.0  # seconds between last-used writes per token
MAX_RATE = 1000.0
MAX_BURST = 10_000


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK)


def new_token() -> str:
    """A fresh API token secret: ``aman_`` + 256 random bits + checksum."""
    body = _base62(int.from_bytes(secrets.token_bytes(32), "big"), _BODY)
    return PREFIX + body + _checksum(body)


def parse_token(value: str) -> str | None:
    """The token if it is well-formed (prefix, length, alphabet, checksum), else None."""
    if not isinstance(value, str) or not _FORMAT.match(value):
        return None
    body, check = value[len(PREFIX) : -_CHECK], value[-_CHECK:]
    return value if secrets.compare_digest(_checksum(body), check) else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    tenant: str
    name: str
    hint: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    last_used_at: float | None
    last_used_from: str | None
    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: show ``secret`` to its creator once; it cannot be recovered."""

    info: TokenInfo
    secret: str = field(repr=False)


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        row.id, row.tenant, row.name, row.hint, tuple(row.scopes.split()), row.created_by,
        row.created_at, row.expires_at, row.revoked_at, row.last_used_at, row.last_used_from,
        row.rate, row.burst,
    )


def _scopes(requested: Iterable[str]) -> tuple[str, ...]:
    if isinstance(requested, str):
        requested = requested.replace(",", " ").split()
    names = sorted({str(s).strip() for s in requested if str(s).strip()})
    if not names:
        raise ValidationError("a token needs at least one scope")
    unknown = [s for s in names if s not in SCOPES]
    if unknown:
        raise ValidationError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return tuple(names)


class TokenService:
    def __init__(self, ctx: AccountsContext, limiter: SharedRateLimiter | None = None) -> None:
        self._ctx = ctx
        self._limiter = limiter or SharedRateLimiter(ctx.engine)

    def create(
        self,
        scope: TenantScope,
        name: str,
        scopes: Iterable[str],
        *,
        expires_in_days: int | None = None,
        rate: float | None = None,
        burst: int | None = None,
    ) -> CreatedToken:
        """Mint a token for the scope's tenant; nobody can grant more than they hold."""
        require(scope, TOKENS_MANAGE)
        cfg = self._ctx.config
        if not isinstance(name, str) or not _NAME.match(name.strip()):
            raise ValidationError("token name: 1-64 letters, digits, spaces or . : / @ - _")
        names = _scopes(scopes)
        if not permissions_for_scopes(names) <= scope.permissions:
            raise PermissionDeniedError("cannot grant scopes beyond your own")
        days = cfg.token_default_days if expires_in_days is None else expires_in_days
        if not isinstance(days, int) or not 1 <= days <= cfg.token_max_days:
            raise ValidationError(f"expiry must be 1-{cfg.token_max_days} days")
        rate = cfg.token_rate if rate is None else float(rate)
        burst = cfg.token_burst if burst is None else burst
        if not 0 < rate <= MAX_RATE or not isinstance(burst, int) or not 1 <= burst <= MAX_BURST:
            raise ValidationError(f"rate must be in (0, {MAX_RATE}] and burst 1-{MAX_BURST}")
        secret = new_token()
        now = self._ctx.clock()
        values = {
            "tenant": scope.tenant, "name": name.strip(), "token_hash": _hash(secret),
            "hint": secret[: len(PREFIX) + 4], "scopes": " ".join(names),
            "created_by": scope.principal, "created_at": now, "expires_at": now + days * 86400.0,
            "rate": rate, "burst": burst,
        }
        with self._ctx.unit() as conn:
            token_id = repo.insert_token(conn, values)
            self._ctx.audit_append(
                conn, tenant=scope.tenant, actor=scope.principal, action="token_created",
                target=f"token:{token_id}",
                details={"name": values["name"], "scopes": list(names), "hint": values["hint"],
                         "expires_at": values["expires_at"], "rate": rate, "burst": burst},
            )
            row = repo.token_in_scope(conn, scope, token_id)
        return CreatedToken(_info(row), secret)

    def list(self, scope: TenantScope) -> builtins.list[TokenInfo]:
        require(scope, TOKENS_MANAGE)
        with self._ctx.engine.connect() as conn:
            return [_info(r) for r in repo.list_tokens(conn, scope)]

    def revoke(self, scope: TenantScope, token_id: int) -> TokenInfo:
        """Revoke a token of the scope's tenant; it stops working on the next request."""
        require(scope, TOKENS_MANAGE)
        now = self._ctx.clock()
        with self._ctx.unit() as conn:
            row = repo.token_in_scope(conn, scope, token_id)
            if row is None:
                raise NotFoundError("no such token")
            if repo.revoke_token(conn, scope, token_id, now):
                self._ctx.audit_append(
                    conn, tenant=scope.tenant, actor=scope.principal, action="token_revoked",
                    target=f"token:{token_id}", details={"name": row.name, "hint": row.hint},
                )
            row = repo.token_in_scope(conn, scope, token_id)
        return _info(row)

    def authenticate(
        self, token: str, client_ip: str, now: float | None = None
    ) -> TenantScope | None:
        """The scope of a valid bearer token, or None (malformed, unknown, revoked, expired).

        Raises ``IpNotAllowedError`` (tenant allowlist) or ``RateLimitedError``.
        """
        secret = parse_token(token)
        if secret is None:
            return None
        now = self._ctx.clock() if now is None else now
        with self._ctx.engine.connect() as conn:
            row = repo.token_by_hash(conn, _hash(secret))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        if not address_allowed(row.ip_allowlist, client_ip):
            raise IpNotAllowedError("address not allowed for this tenant")
        wait = self._limiter.take(row.id, row.rate, row.burst, now)
        if wait > 0:
            raise RateLimitedError(wait)
        client = mask_address(client_ip)
        stale = row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY
        if stale or row.last_used_from != client:
            with self._ctx.engine.begin() as conn:
                repo.touch_token(conn, row.id, now, client)
        return TenantScope.for_token(row.tenant, row.id, frozenset(row.scopes.split()))
