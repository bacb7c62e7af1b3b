"""Staff login: email + password + TOTP (or a recovery code) -> a session; throttled and audited.

Every failure looks the same to the caller (``invalid credentials``) and costs
the same (an unknown or disabled account still runs one argon2 verification
against a dummy hash).  Failures count against the account and the client
address in the database (see :mod:`aman.accounts.throttle`), so lockout holds
across processes.  Success and failure are audited; failures carry only the
masked email and address.  A stored hash whose argon2 parameters are below
the configured ones is upgraded on a successful login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aman.accounts import repository as repo
from aman.accounts import throttle, totp
from aman.accounts.context import PLATFORM, AccountsContext, mask_address, mask_email
from aman.accounts.errors import InvalidCredentialsError, LoginThrottledError, ValidationError
from aman.accounts.scope import TenantScope
from aman.accounts.sessions import Session, SessionService
from aman.accounts.tenants import address_allowed

__all__ = ["LoginResult", "LoginService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A new session: put ``token`` in the cookie (``CookiePolicy.set_cookie``), never log it."""

    token: str = field(repr=False)
    session: Session
    scope: TenantScope
    recovery_codes_left: int | None = None  # set when a recovery code was used


class LoginService:
    def __init__(self, ctx: AccountsContext, sessions: SessionService) -> None:
        self._ctx = ctx
        self._sessions = sessions

    def login(self, email: str, password: str, code: str, client_ip: str) -> LoginResult:
        """Authenticate a staff member; raises ``InvalidCredentialsError`` or
        ``LoginThrottledError`` (with ``retry_after``)."""
        ctx = self._ctx
        cfg = ctx.config
        now = ctx.clock()
        email = email if isinstance(email, str) else ""
        password = password if isinstance(password, str) else ""
        code = code if isinstance(code, str) else ""
        try:
            email_ix: str | None = ctx.email_ix(email)
        except ValidationError:
            email_ix = None
        acct = throttle.account_key(ctx.throttle_key, email_ix or "?" + email.lower()[:254])
        addr = throttle.address_key(ctx.throttle_key, client_ip)
        with ctx.engine.connect() as conn:
            wait = max(
                throttle.lock_remaining(conn, acct, cfg.account_throttle, now),
                throttle.lock_remaining(conn, addr, cfg.address_throttle, now),
            )
            user = repo.user_by_email_ix(conn, email_ix) if email_ix else None
            tenant = repo.get_tenant(conn, user.tenant) if user is not None else None
        audit_tenant = user.tenant if user is not None else PLATFORM
        target = f"user:{user.id}" if user is not None else "user:unknown"
        facts = {"email": mask_email(email), "client": mask_address(client_ip)}
        if wait > 0:
            ctx.audit.record(ctx.engine, tenant=audit_tenant, actor="anonymous",
                             action="login_throttled", target=target,
                             details={**facts, "retry_after": round(wait, 1)})
            raise LoginThrottledError(wait)

        reason, secret = self._check_password(user, password)
        ok = user if reason is None else None  # the account, while nothing has failed yet
        if ok is not None and not address_allowed(tenant.ip_allowlist if tenant else None,
                                                  client_ip):
            reason, ok = "address_not_allowed", None
        step: int | None = None
        use_recovery = False
        if ok is not None and secret is not None:
            if totp.is_totp_code(code):
                step = totp.match_step(secret, code, now, ok.totp_last_step)
                if step is None:
                    reason, ok = "bad_code", None
            elif totp.normalize_recovery_code(code) is not None:
                use_recovery = True
            else:
                reason, ok = "bad_code", None
        new_hash = None
        if ok is not None and ctx.hasher.needs_rehash(ok.password_hash):
            new_hash = ctx.hasher.hash(password)

        result: LoginResult | None = None
        with ctx.unit() as conn:
            codes_left: int | None = None
            if ok is not None and step is not None and not repo.take_totp_step(conn, ok.id, step):
                reason, ok = "code_reused", None
            if ok is not None and use_recovery:
                codes_left = self._use_recovery_code(conn, ok, code, now)
                if codes_left is None:
                    reason, ok = "bad_code", None
            if ok is not None:
                throttle.reset(conn, acct)
                values: dict[str, Any] = {"last_login_at": now}
                if new_hash is not None:
                    values.update(password_hash=new_hash)
                repo.update_user(conn, ok.id, ok.tenant, **values)
                token, session = self._sessions.open(
                    conn, tenant=ok.tenant, user_id=ok.id, client_ip=client_ip, now=now
                )
                ctx.audit_append(
                    conn, tenant=ok.tenant, actor=f"user:{ok.id}", action="login_ok",
                    target=f"session:{session.id}",
                    details={"client": facts["client"],
                             "method": "recovery_code" if use_recovery else "totp",
                             "rehashed": new_hash is not None},
                )
                scope = TenantScope.for_user(ok.tenant, ok.id, ok.role, ok.team, session.id)
                result = LoginResult(token, session, scope, codes_left)
            else:
                failures = throttle.record_failure(conn, ctx.dialect, acct,
                                                   cfg.account_throttle, now)
                throttle.record_failure(conn, ctx.dialect, addr, cfg.address_throttle, now)
                ctx.audit_append(conn, tenant=audit_tenant, actor="anonymous",
                                 action="login_failed", target=target,
                                 details={**facts, "reason": reason, "failures": failures})
        if result is None:
            log.info("login failed (%s) from %s", reason, facts["client"])
            raise InvalidCredentialsError()
        return result

    def _check_password(self, user: Any, password: str) -> tuple[str | None, str | None]:
        """(failure reason or None, the TOTP secret when the password is right)."""
        ctx = self._ctx
        usable = (
            user is not None
            and user.status == "active"
            and user.password_hash is not None
            and user.totp_secret_enc is not None
        )
        if not usable:
            ctx.hasher.burn()  # same cost as a real check: no account enumeration by timing
            return ("unknown_user" if user is None else f"account_{user.status}"), None
        if not ctx.hasher.verify(user.password_hash, password):  # burns on over-long input
            return "bad_password", None
        vault = ctx.vaults(user.tenant)
        secret = vault.open("users", "totp_secret", user.email_ix, user.totp_secret_enc)
        return None, secret.decode()

    def _use_recovery_code(self, conn: Any, user: Any, code: str, now: float) -> int | None:
        """Burn the matching recovery code; the number left, or None if none matched."""
        rows = repo.unused_codes(conn, user.id)
        match = None
        for row in rows:  # check all: timing does not reveal the position
            if totp.recovery_code_matches(code, totp.HashedCode(row.salt, row.code_hash)):
                match = row.id
        if match is None or not repo.use_code(conn, match, now):
            return None
        left = len(rows) - 1
        self._ctx.audit_append(conn, tenant=user.tenant, actor=f"user:{user.id}",
                               action="recovery_code_used", target=f"user:{user.id}",
                               details={"remaining": left})
        return left
