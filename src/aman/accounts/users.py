"""Staff users: invite, enrol (password + mandatory TOTP), disable, reset 2FA, recovery codes.

A new user starts ``enrolling`` with a single-use enrolment link (256-bit
token, only its SHA-256 stored, 72 h).  Opening it creates a pending TOTP
secret (sealed by the tenant's vault) shown as an ``otpauth://`` URI and an SVG
QR code; completing it sets the password (or checks the one set by the admin),
proves a first TOTP code and hands out 10 recovery codes once.  Only then can
the user log in.  Every change is audited.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from aman.accounts import repository as repo
from aman.accounts import throttle, totp
from aman.accounts.context import AccountsContext, mask_address, mask_email, normalize_email
from aman.accounts.errors import (
    EnrolmentError,
    InvalidCredentialsError,
    LoginThrottledError,
    NotFoundError,
    ValidationError,
)
from aman.accounts.passwords import check_password
from aman.accounts.permissions import ROLES, USERS_MANAGE
from aman.accounts.scope import TenantScope, require

__all__ = ["Enrolment", "Invitation", "User", "UserService", "hash_token"]

_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
_LINK_INVALID = "this link is invalid or has expired"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    id: int
    tenant: str
    email: str
    role: str
    team: str | None
    status: str  # enrolling | active | disabled
    created_at: float
    last_login_at: float | None
    disabled_at: float | None
    has_totp: bool


@dataclass(frozen=True, slots=True)
class Invitation:
    """A one-time enrolment token for ``user`` (show it once, never log it)."""

    user: User
    token: str = field(repr=False)
    expires_at: float


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: scan the QR code, then confirm with a code."""

    email: str
    otpauth_uri: str = field(repr=False)
    qr_svg: str = field(repr=False)
    needs_password: bool
    expires_at: float


class UserService:
    def __init__(self, ctx: AccountsContext) -> None:
        self._ctx = ctx

    # -- helpers ------------------------------------------------------------
    def _email(self, row: Any) -> str:
        vault = self._ctx.vaults(row.tenant)
        return vault.open("users", "email", row.email_ix, row.email_enc).decode()

    def _user(self, row: Any) -> User:
        return User(
            row.id, row.tenant, self._email(row), row.role, row.team, row.status,
            row.created_at, row.last_login_at, row.disabled_at, row.totp_secret_enc is not None,
        )

    def _secret(self, row: Any, column: str) -> str:
        blob = row.totp_secret_enc if column == "totp_secret" else row.totp_pending_enc
        vault = self._ctx.vaults(row.tenant)
        return vault.open("users", column, row.email_ix, blob).decode()

    def _new_link(self) -> tuple[str, str, float]:
        token = secrets.token_urlsafe(32)
        return token, hash_token(token), self._ctx.clock() + self._ctx.config.enrol_ttl

    def _load(self, scope: TenantScope, user_id: int) -> Any:
        with self._ctx.engine.connect() as conn:
            row = repo.user_in_scope(conn, scope, user_id)
        if row is None:
            raise NotFoundError("no such user")
        return row

    def _by_link(self, token: str) -> Any:
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise EnrolmentError(_LINK_INVALID)
        with self._ctx.engine.connect() as conn:
            row = repo.user_by_enrol_hash(conn, hash_token(token))
        if (
            row is None
            or row.status != "enrolling"
            or row.enrol_expires_at is None
            or row.enrol_expires_at <= self._ctx.clock()
        ):
            raise EnrolmentError(_LINK_INVALID)
        return row

    # -- admin actions --------------------------------------------------------
    def create(
        self,
        scope: TenantScope,
        email: str,
        role: str,
        *,
        team: str | None = None,
        password: str | None = None,
    ) -> Invitation:
        """Create a user in the scope's tenant; returns the one-time enrolment link token.

        With ``password`` the admin sets the password (policy-checked) and the
        user still enrols TOTP through the link before the first login.
        """
        require(scope, USERS_MANAGE)
        if role not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}")
        if team is not None and not _TEAM.match(team):
            raise ValidationError("team: 1-64 characters (letters, digits, space, _ . -)")
        address = normalize_email(email)
        email_ix = self._ctx.email_ix(address)
        with self._ctx.engine.connect() as conn:
            tenant = repo.get_tenant(conn, scope.tenant)
            taken = repo.user_by_email_ix(conn, email_ix) is not None
        if tenant is None:
            raise NotFoundError("no such tenant")
        if taken:
            raise ValidationError("a user with this email already exists")
        pw_hash = None
        if password is not None:
            pw = check_password(password, email=address, context=(tenant.id, tenant.name))
            pw_hash = self._ctx.hasher.hash(pw)
        token, digest, expires = self._new_link()
        now = self._ctx.clock()
        vault = self._ctx.vaults(scope.tenant)
        try:
            with self._ctx.unit() as conn:
                user_id = repo.insert_user(conn, {
                    "tenant": scope.tenant, "email_ix": email_ix,
                    "email_enc": vault.seal("users", "email", email_ix, address.encode()),
                    "role": role, "team": team, "status": "enrolling",
                    "password_hash": pw_hash, "password_changed_at": now if pw_hash else None,
                    "enrol_hash": digest, "enrol_expires_at": expires, "created_at": now,
                })
                self._ctx.audit_append(
                    conn, tenant=scope.tenant, actor=scope.principal, action="user_created",
                    target=f"user:{user_id}",
                    details={"email": mask_email(address), "role": role, "team": team,
                             "set_by_admin": pw_hash is not None},
                )
        except IntegrityError:
            raise ValidationError("a user with this email already exists") from None
        user = User(user_id, scope.tenant, address, role, team, "enrolling", now, None, None,
                    False)
        return Invitation(user, token, expires)

    def list(self, scope: TenantScope) -> builtins.list[User]:
        require(scope, USERS_MANAGE)
        with self._ctx.engine.connect() as conn:
            rows = repo.list_users(conn, scope)
        return [self._user(r) for r in rows]

    def get(self, scope: TenantScope, user_id: int) -> User:
        """A user of the tenant (admins), or oneself."""
        if scope.user_id != user_id:
            require(scope, USERS_MANAGE)
        return self._user(self._load(scope, user_id))

    def find_by_email(self, scope: TenantScope, email: str) -> User:
        """A user of the scope's tenant by email address (admins)."""
        require(scope, USERS_MANAGE)
        with self._ctx.engine.connect() as conn:
            row = repo.user_by_email_ix(conn, self._ctx.email_ix(email))
        if row is None or row.tenant != scope.tenant:
            raise NotFoundError("no such user")
        return self._user(row)

    def disable(self, scope: TenantScope, user_id: int) -> User:
        """Disable a user and revoke their sessions at once (not yourself)."""
        require(scope, USERS_MANAGE)
        if scope.user_id == user_id:
            raise ValidationError("you cannot disable your own account")
        now = self._ctx.clock()
        with self._ctx.unit() as conn:
            row = repo.user_in_scope(conn, scope, user_id, for_update=True)
            if row is None:
                raise NotFoundError("no such user")
            revoked = 0
            if row.status != "disabled":
                repo.update_user(conn, user_id, scope.tenant, status="disabled",
                                 disabled_at=now, enrol_hash=None, enrol_expires_at=None)
                revoked = repo.revoke_user_sessions(conn, scope.tenant, user_id, now)
                self._ctx.audit_append(
                    conn, tenant=scope.tenant, actor=scope.principal, action="user_disabled",
                    target=f"user:{user_id}", details={"sessions_revoked": revoked},
                )
        return self._user(self._load(scope, user_id))

    def reset_2fa(self, scope: TenantScope, user_id: int) -> Invitation:
        """Remove a user's TOTP and recovery codes (lost phone); returns a new enrolment link.

        The user's sessions end; they log in again after enrolling a new
        authenticator with their current password.
        """
        require(scope, USERS_MANAGE)
        token, digest, expires = self._new_link()
        now = self._ctx.clock()
        with self._ctx.unit() as conn:
            row = repo.user_in_scope(conn, scope, user_id, for_update=True)
            if row is None:
                raise NotFoundError("no such user")
            if row.status == "disabled":
                raise ValidationError("the user is disabled")
            repo.update_user(conn, user_id, scope.tenant, status="enrolling",
                             totp_secret_enc=None, totp_pending_enc=None,
                             enrol_hash=digest, enrol_expires_at=expires)
            repo.replace_recovery_codes(conn, user_id, [], now)
            revoked = repo.revoke_user_sessions(conn, scope.tenant, user_id, now)
            self._ctx.audit_append(
                conn, tenant=scope.tenant, actor=scope.principal, action="user_2fa_reset",
                target=f"user:{user_id}", details={"sessions_revoked": revoked},
            )
        return Invitation(self._user(self._load(scope, user_id)), token, expires)

    # -- enrolment (the invited user, holding the link) -----------------------
    def enrolment(self, token: str) -> Enrolment:
        """Start (or show again) TOTP enrolment for the link's user."""
        row = self._by_link(token)
        vault = self._ctx.vaults(row.tenant)
        if row.totp_pending_enc is None:
            blob = vault.seal("users", "totp_pending", row.email_ix, totp.new_secret().encode())
            with self._ctx.unit() as conn:
                if repo.set_pending_secret(conn, row.id, blob):
                    self._ctx.audit_append(
                        conn, tenant=row.tenant, actor=f"user:{row.id}",
                        action="totp_enrolment_started", target=f"user:{row.id}",
                    )
            row = self._by_link(token)
        secret = self._secret(row, "totp_pending")
        email = self._email(row)
        issuer = f"{self._ctx.config.issuer} {row.tenant}"
        uri = totp.provisioning_uri(secret, email, issuer)
        return Enrolment(email, uri, totp.qr_svg(uri), row.password_hash is None,
                         float(row.enrol_expires_at))

    def complete_enrolment(
        self, token: str, password: str, code: str, *, client_ip: str = ""
    ) -> builtins.list[str]:
        """Finish enrolment: set (or prove) the password and prove the TOTP code.

        Returns the 10 recovery codes, shown once.  Wrong password or code count
        as failed logins for the account.
        """
        row = self._by_link(token)
        if row.totp_pending_enc is None:
            raise EnrolmentError("open the enrolment page first")
        ctx = self._ctx
        now = ctx.clock()
        acct = throttle.account_key(ctx.throttle_key, row.email_ix)
        with ctx.engine.connect() as conn:
            wait = throttle.lock_remaining(conn, acct, ctx.config.account_throttle, now)
            tenant = repo.get_tenant(conn, row.tenant)
        if wait > 0:
            raise LoginThrottledError(wait)
        new_hash: str | None = None
        reason: str | None = None
        if row.password_hash is None:
            names = (tenant.id, tenant.name) if tenant is not None else (row.tenant,)
            pw = check_password(password, email=self._email(row), context=names)
            new_hash = ctx.hasher.hash(pw)
        elif not ctx.hasher.verify(row.password_hash, password):
            reason = "bad_password"
        step = None
        if reason is None:
            step = totp.match_step(self._secret(row, "totp_pending"), code, now,
                                   row.totp_last_step)
            if step is None:
                reason = "bad_code"
        codes = totp.new_recovery_codes()
        vault = ctx.vaults(row.tenant)
        with ctx.unit() as conn:
            if reason is None:
                values: dict[str, Any] = {
                    "status": "active", "totp_pending_enc": None, "totp_last_step": step,
                    "totp_secret_enc": vault.seal("users", "totp_secret", row.email_ix,
                                                  self._secret(row, "totp_pending").encode()),
                }
                if new_hash is not None:
                    values.update(password_hash=new_hash, password_changed_at=now)
                if not repo.finish_enrolment(conn, row.id, row.enrol_hash, **values):
                    reason = "link_used"
            if reason is None:
                repo.replace_recovery_codes(
                    conn, row.id, [totp.hash_recovery_code(c) for c in codes], now
                )
                throttle.reset(conn, acct)
                ctx.audit_append(conn, tenant=row.tenant, actor=f"user:{row.id}",
                                 action="user_enrolled", target=f"user:{row.id}",
                                 details={"chosen_at_enrolment": new_hash is not None,
                                          "recovery_codes": len(codes),
                                          "client": mask_address(client_ip)})
            else:
                failures = throttle.record_failure(conn, ctx.dialect, acct,
                                                   ctx.config.account_throttle, now)
                ctx.audit_append(conn, tenant=row.tenant, actor=f"user:{row.id}",
                                 action="enrolment_failed", target=f"user:{row.id}",
                                 details={"reason": reason, "failures": failures,
                                          "client": mask_address(client_ip)})
        if reason is not None:
            raise EnrolmentError("wrong password or code")
        return codes

    # -- the signed-in user ---------------------------------------------------
    def _step_up(self, scope: TenantScope, conn: Any, row: Any, code: str, now: float) -> bool:
        step = totp.match_step(self._secret(row, "totp_secret"), code, now, row.totp_last_step)
        return step is not None and repo.take_totp_step(conn, row.id, step)

    def _own(self, scope: TenantScope) -> Any:
        if scope.kind != "user" or scope.user_id is None:
            raise ValidationError("only a signed-in user can do this")
        row = self._load(scope, scope.user_id)
        if row.status != "active" or row.totp_secret_enc is None:
            raise InvalidCredentialsError()
        return row

    def regenerate_recovery_codes(self, scope: TenantScope, code: str) -> builtins.list[str]:
        """New recovery codes for the signed-in user (old ones stop working); needs a TOTP code."""
        row = self._own(scope)
        now = self._ctx.clock()
        codes = totp.new_recovery_codes()
        with self._ctx.unit() as conn:
            ok = self._step_up(scope, conn, row, code, now)
            if ok:
                repo.replace_recovery_codes(
                    conn, row.id, [totp.hash_recovery_code(c) for c in codes], now
                )
            self._ctx.audit_append(
                conn, tenant=row.tenant, actor=scope.principal,
                action="recovery_codes_regenerated" if ok else "step_up_failed",
                target=f"user:{row.id}", details={"count": len(codes) if ok else 0},
            )
        if not ok:
            raise InvalidCredentialsError()
        return codes

    def recovery_codes_left(self, scope: TenantScope) -> int:
        row = self._own(scope)
        with self._ctx.engine.connect() as conn:
            return repo.count_unused_codes(conn, row.id)

    def change_password(self, scope: TenantScope, current: str, new: str) -> None:
        """Change the signed-in user's password; their other sessions end."""
        row = self._own(scope)
        ctx = self._ctx
        ok = row.password_hash is not None and ctx.hasher.verify(row.password_hash, current)
        new_hash = None
        if ok:
            pw = check_password(new, email=self._email(row), context=(row.tenant,))
            new_hash = ctx.hasher.hash(pw)
        now = ctx.clock()
        with ctx.unit() as conn:
            revoked = 0
            if new_hash is not None:
                repo.update_user(conn, row.id, row.tenant, password_hash=new_hash,
                                 password_changed_at=now)
                revoked = repo.revoke_user_sessions(conn, row.tenant, row.id, now,
                                                    keep=scope.session_id)
            else:
                acct = throttle.account_key(ctx.throttle_key, row.email_ix)
                throttle.record_failure(conn, ctx.dialect, acct, ctx.config.account_throttle, now)
            ctx.audit_append(
                conn, tenant=row.tenant, actor=scope.principal,
                action="password_changed" if ok else "password_change_failed",
                target=f"user:{row.id}", details={"sessions_revoked": revoked},
            )
        if not ok:
            raise InvalidCredentialsError()
