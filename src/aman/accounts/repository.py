"""All SQL of the accounts domain (parameterised SQLAlchemy Core), tenant-scoped where it can be.

Two lookups are deliberately global because they run before anyone is
authenticated: a user by email blind index (login) or by enrolment-token hash,
and a session or API token by token hash.  Everything an authenticated caller
does goes through :func:`aman.accounts.scope.scoped`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, func, insert, select, update

from aman.accounts.models import (
    ApiTokenRow,
    RecoveryCodeRow,
    SessionRow,
    TenantRow,
    UserRow,
)
from aman.accounts.scope import TenantScope, scoped
from aman.accounts.totp import HashedCode
from aman.storage.sql import insert_ignore

__all__ = [
    "count_unused_codes",
    "finish_enrolment",
    "get_tenant",
    "insert_session",
    "insert_tenant",
    "insert_token",
    "insert_user",
    "list_sessions",
    "list_tenants",
    "list_tokens",
    "list_users",
    "replace_recovery_codes",
    "revoke_session",
    "revoke_token",
    "revoke_user_sessions",
    "session_by_hash",
    "session_owner",
    "set_pending_secret",
    "take_totp_step",
    "token_by_hash",
    "token_in_scope",
    "touch_session",
    "touch_token",
    "unused_codes",
    "update_tenant",
    "update_user",
    "use_code",
    "user_by_email_ix",
    "user_by_enrol_hash",
    "user_in_scope",
]



def _new_id(result: CursorResult[Any]) -> int:
    pk = result.inserted_primary_key
    if pk is None:
        raise RuntimeError("the database returned no id for the new row")
    return int(pk[0])


# -- tenants ------------------------------------------------------------------


def insert_tenant(conn: Connection, dialect: str, tenant_id: str, name: str, now: float) -> bool:
    """Create a tenant; False if the id is taken."""
    stmt = insert_ignore(dialect, TenantRow, ["id"]).values(
        id=tenant_id, name=name, created_at=now, ip_allowlist=None, settings={}
    )
    # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT here.
    return conn.execute(stmt.returning(TenantRow.id)).first() is not None


def get_tenant(conn: Connection, tenant_id: str) -> Any:
    return conn.execute(select(TenantRow).where(TenantRow.id == tenant_id)).first()


def list_tenants(conn: Connection) -> Sequence[Any]:
    return conn.execute(select(TenantRow).order_by(TenantRow.id)).all()


def update_tenant(conn: Connection, scope: TenantScope, **values: Any) -> int:
    stmt = update(TenantRow).where(TenantRow.id == scope.tenant).values(**values)
    return conn.execute(stmt).rowcount


# -- users --------------------------------------------------------------------


def insert_user(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(UserRow).values(**values))
    return _new_id(result)


def user_by_email_ix(conn: Connection, email_ix: str) -> Any:
    """Pre-authentication lookup (login): global because emails are unique platform-wide."""
    return conn.execute(select(UserRow).where(UserRow.email_ix == email_ix)).first()


def user_by_enrol_hash(conn: Connection, enrol_hash: str) -> Any:
    """Pre-authentication lookup (invite link): by the SHA-256 of a 256-bit token."""
    return conn.execute(select(UserRow).where(UserRow.enrol_hash == enrol_hash)).first()


def user_in_scope(
    conn: Connection, scope: TenantScope, user_id: int, *, for_update: bool = False
) -> Any:
    stmt = scoped(select(UserRow).where(UserRow.id == user_id), UserRow, scope)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def list_users(conn: Connection, scope: TenantScope) -> Sequence[Any]:
    return conn.execute(scoped(select(UserRow).order_by(UserRow.id), UserRow, scope)).all()


def update_user(conn: Connection, user_id: int, tenant: str, **values: Any) -> int:
    stmt = (
        update(UserRow)
        .where(UserRow.id == user_id, UserRow.tenant == tenant)
        .values(**values)
    )
    return conn.execute(stmt).rowcount


def set_pending_secret(conn: Connection, user_id: int, blob: bytes) -> bool:
    """Store a pending TOTP secret unless one is already there (first page load wins)."""
    stmt = (
        update(UserRow)
        .where(UserRow.id == user_id, UserRow.totp_pending_enc.is_(None))
        .values(totp_pending_enc=blob)
    )
    return conn.execute(stmt).rowcount == 1


def finish_enrolment(conn: Connection, user_id: int, enrol_hash: str, **values: Any) -> bool:
    """Apply ``values`` and burn the enrolment link, once: False if it was used meanwhile."""
    stmt = (
        update(UserRow)
        .where(UserRow.id == user_id, UserRow.enrol_hash == enrol_hash,
               UserRow.status == "enrolling")
        .values(enrol_hash=None, enrol_expires_at=None, **values)
    )
    return conn.execute(stmt).rowcount == 1


def take_totp_step(conn: Connection, user_id: int, step: int) -> bool:
    """Record ``step`` as used unless it (or a later one) already was: True if we took it."""
    stmt = (
        update(UserRow)
        .where(
            UserRow.id == user_id,
            (UserRow.totp_last_step.is_(None)) | (UserRow.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return conn.execute(stmt).rowcount == 1


# -- recovery codes -----------------------------------------------------------


def replace_recovery_codes(
    conn: Connection, user_id: int, codes: Sequence[HashedCode], now: float
) -> None:
    conn.execute(
        update(RecoveryCodeRow)
        .where(RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None))
        .values(used_at=now)
    )
    if codes:
        conn.execute(
            insert(RecoveryCodeRow),
            [
                {"user_id": user_id, "salt": c.salt, "code_hash": c.code_hash, "created_at": now}
                for c in codes
            ],
        )


def unused_codes(conn: Connection, user_id: int) -> Sequence[Any]:
    return conn.execute(
        select(RecoveryCodeRow.id, RecoveryCodeRow.salt, RecoveryCodeRow.code_hash).where(
            RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None)
        )
    ).all()


def use_code(conn: Connection, code_id: int, now: float) -> bool:
    """Burn one recovery code; False if it was used concurrently."""
    stmt = (
        update(RecoveryCodeRow)
        .where(RecoveryCodeRow.id == code_id, RecoveryCodeRow.used_at.is_(None))
        .values(used_at=now)
    )
    return conn.execute(stmt).rowcount == 1


def count_unused_codes(conn: Connection, user_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None)
            )
        ).scalar_one()
    )


# -- sessions -----------------------------------------------------------------


def insert_session(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(SessionRow).values(**values))
    return _new_id(result)


def session_by_hash(conn: Connection, token_hash: str) -> Any:
    """The session with its user's state and its tenant's allowlist (pre-authentication)."""
    stmt = (
        select(
            SessionRow.id,
            SessionRow.tenant,
            SessionRow.user_id,
            SessionRow.csrf,
            SessionRow.created_at,
            SessionRow.last_seen_at,
            SessionRow.expires_at,
            SessionRow.revoked_at,
            SessionRow.client,
            UserRow.role,
            UserRow.team,
            UserRow.status,
            TenantRow.ip_allowlist,
        )
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .join(TenantRow, TenantRow.id == SessionRow.tenant)
        .where(SessionRow.token_hash == token_hash, UserRow.tenant == SessionRow.tenant)
    )
    return conn.execute(stmt).first()


def touch_session(conn: Connection, session_id: int, now: float) -> None:
    conn.execute(
        update(SessionRow)
        .where(SessionRow.id == session_id, SessionRow.last_seen_at < now)
        .values(last_seen_at=now)
    )


def list_sessions(
    conn: Connection, scope: TenantScope, user_id: int | None, now: float, idle: float
) -> Sequence[Any]:
    """Live sessions of ``user_id`` (all users when None) in the scope's tenant."""
    stmt = select(SessionRow).where(
        SessionRow.revoked_at.is_(None),
        SessionRow.expires_at > now,
        SessionRow.last_seen_at > now - idle,
    )
    if user_id is not None:
        stmt = stmt.where(SessionRow.user_id == user_id)
    return conn.execute(scoped(stmt.order_by(SessionRow.id), SessionRow, scope)).all()


def session_owner(conn: Connection, scope: TenantScope, session_id: int) -> int | None:
    stmt = scoped(select(SessionRow.user_id).where(SessionRow.id == session_id), SessionRow, scope)
    value = conn.execute(stmt).scalar_one_or_none()
    return None if value is None else int(value)


def revoke_session(conn: Connection, scope: TenantScope, session_id: int, now: float) -> int:
    stmt = update(SessionRow).where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
    return conn.execute(scoped(stmt, SessionRow, scope).values(revoked_at=now)).rowcount


def revoke_user_sessions(
    conn: Connection, tenant: str, user_id: int, now: float, *, keep: int | None = None
) -> int:
    stmt = update(SessionRow).where(
        SessionRow.tenant == tenant,
        SessionRow.user_id == user_id,
        SessionRow.revoked_at.is_(None),
    )
    if keep is not None:
        stmt = stmt.where(SessionRow.id != keep)
    return conn.execute(stmt.values(revoked_at=now)).rowcount


# -- API tokens ---------------------------------------------------------------


def insert_token(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(ApiTokenRow).values(**values))
    return _new_id(result)


def token_by_hash(conn: Connection, token_hash: str) -> Any:
    """The token with its tenant's allowlist (pre-authentication)."""
    stmt = (
        select(
            ApiTokenRow.id,
            ApiTokenRow.tenant,
            ApiTokenRow.scopes,
            ApiTokenRow.expires_at,
            ApiTokenRow.revoked_at,
            ApiTokenRow.last_used_at,
            ApiTokenRow.last_used_from,
            ApiTokenRow.rate,
            ApiTokenRow.burst,
            TenantRow.ip_allowlist,
        )
        .join(TenantRow, TenantRow.id == ApiTokenRow.tenant)
        .where(ApiTokenRow.token_hash == token_hash)
    )
    return conn.execute(stmt).first()


def list_tokens(conn: Connection, scope: TenantScope) -> Sequence[Any]:
    stmt = select(ApiTokenRow).order_by(ApiTokenRow.id)
    return conn.execute(scoped(stmt, ApiTokenRow, scope)).all()


def token_in_scope(conn: Connection, scope: TenantScope, token_id: int) -> Any:
    stmt = select(ApiTokenRow).where(ApiTokenRow.id == token_id)
    return conn.execute(scoped(stmt, ApiTokenRow, scope)).first()


def revoke_token(conn: Connection, scope: TenantScope, token_id: int, now: float) -> int:
    stmt = update(ApiTokenRow).where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
    return conn.execute(scoped(stmt, ApiTokenRow, scope).values(revoked_at=now)).rowcount


def touch_token(conn: Connection, token_id: int, now: float, client: str) -> None:
    conn.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.id == token_id)
        .values(last_used_at=now, last_used_from=client)
    )
