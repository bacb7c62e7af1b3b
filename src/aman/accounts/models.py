"""Tables of the accounts domain: tenants, staff users, recovery codes, sessions, API tokens.

Secrets are never stored in the clear: passwords as argon2id hashes, session,
API and enrolment tokens as SHA-256, recovery codes as salted SHA-256, TOTP
secrets and staff email addresses sealed by the tenant's ``Vault``.  Emails are
found by a keyed blind index (``email_ix``).  Times are epoch seconds (float).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from aman.storage.models import Base, BigId

__all__ = [
    "ApiTokenRateRow",
    "ApiTokenRow",
    "AuthThrottleRow",
    "RecoveryCodeRow",
    "SessionRow",
    "TenantRow",
    "UserRow",
]


class TenantRow(Base):
    """A customer organisation (a bank, a shop); every account row belongs to one."""

    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # slug
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    ip_allowlist: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # CIDRs
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)


class UserRow(Base):
    """A staff account (admin, agent or analyst) of one tenant."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    email_ix: Mapped[str] = mapped_column(String(64), unique=True)
    email_enc: Mapped[bytes] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16))  # admin | agent | analyst
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(10))  # enrolling | active | disabled
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_pending_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    enrol_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    enrol_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_login_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    disabled_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_users_tenant_status", "tenant", "status"),)


class RecoveryCodeRow(Base):
    """One single-use 2FA recovery code (salted SHA-256 of an 80-bit random code)."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SessionRow(Base):
    """A console login session; only the SHA-256 of its token is stored."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)  # absolute timeout
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    client: Mapped[str] = mapped_column(String(64))  # masked address

    __table_args__ = (Index("ix_user_sessions_tenant_expires_at", "tenant", "expires_at"),)


class ApiTokenRow(Base):
    """An API bearer token with scopes, expiry and rate limit; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # "aman_Ab3…": enough to recognise it
    scopes: Mapped[str] = mapped_column(String(256))  # space-separated
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_from: Mapped[str | None] = mapped_column(String(64), nullable=True)  # masked
    rate: Mapped[float] = mapped_column(Float)  # requests per second
    burst: Mapped[int] = mapped_column(Integer)


class ApiTokenRateRow(Base):
    """Shared rate-limit state of one API token (GCRA theoretical arrival time; ratelimit.py)."""

    __tablename__ = "api_token_rates"
    token_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False,
    )
    tat: Mapped[float] = mapped_column(Float)
    allowed: Mapped[bool] = mapped_column(Boolean)  # outcome of the last request


class AuthThrottleRow(Base):
    """Failed-login counter and lockout for one account or client address (keyed digest)."""

    __tablename__ = "auth_throttle"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[float] = mapped_column(Float)
    locked_until: Mapped[float] = mapped_column(Float)
