"""Read-only SQL for the security self-assessment: keys, staff 2FA, sessions, tokens, samples.

Tables of other domains (``users``, ``user_sessions``, ``api_tokens``) are read
by reflection only when they exist, so the report works before the accounts
domain is installed and keeps working when its columns grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, MetaData, Table, and_, func, inspect, select

from aman.storage.models import DataKeyRow, Inbox

__all__ = ["AssessmentRepository", "KeyFact", "StaffFact"]


@dataclass(frozen=True, slots=True)
class KeyFact:
    key_id: str
    tenant: str
    purpose: str
    active: bool
    created_at: float
    wrapped_len: int
    provider_key_id: str


@dataclass(frozen=True, slots=True)
class StaffFact:
    users: int  # active (not disabled) staff accounts
    with_totp: int
    roles: dict[str, int]


class AssessmentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._inspector = inspect(conn)
        self.tables: dict[str, set[str]] = {
            name: {c["name"] for c in self._inspector.get_columns(name)}
            for name in self._inspector.get_table_names()
        }

    def _table(self, name: str) -> Table:
        return Table(name, MetaData(), autoload_with=self._conn)

    def keys(self) -> list[KeyFact]:
        rows = self._conn.execute(
            select(
                DataKeyRow.key_id,
                DataKeyRow.tenant,
                DataKeyRow.purpose,
                DataKeyRow.active,
                DataKeyRow.created_at,
                DataKeyRow.wrapped,
                DataKeyRow.provider_key_id,
            ).order_by(DataKeyRow.created_at)
        ).all()
        return [
            KeyFact(r[0], r[1], r[2], bool(r[3]), float(r[4]), len(r[5] or b""), r[6]) for r in rows
        ]

    def staff(self) -> StaffFact | None:
        """Active staff accounts, how many have TOTP, and their roles (None: no table)."""
        cols = self.tables.get("users")
        if cols is None:
            return None
        users = self._table("users")
        active: list[ColumnElement[bool]] = []
        if "disabled_at" in cols:
            active.append(users.c.disabled_at.is_(None))
        if "status" in cols:
            active.append(users.c.status != "disabled")
        where = and_(*active) if active else None
        totp_cols = [c for c in ("totp_secret_enc", "totp_secret", "mfa_secret_enc") if c in cols]
        total_q = select(func.count()).select_from(users)
        if where is not None:
            total_q = total_q.where(where)
        total = int(self._conn.execute(total_q).scalar_one())
        with_totp = 0
        if totp_cols:
            q = select(func.count()).select_from(users).where(users.c[totp_cols[0]].is_not(None))
            if where is not None:
                q = q.where(where)
            with_totp = int(self._conn.execute(q).scalar_one())
        roles: dict[str, int] = {}
        if "role" in cols:
            q2 = select(users.c.role, func.count()).group_by(users.c.role)
            if where is not None:
                q2 = q2.where(where)
            roles = {str(r): int(n) for r, n in self._conn.execute(q2).all()}
        return StaffFact(total, with_totp, roles)

    def longest_session_hours(self, now: float) -> float | None:
        """Longest absolute lifetime of a live staff session (None: no sessions table)."""
        cols = self.tables.get("user_sessions")
        if cols is None or not {"expires_at", "created_at"} <= cols:
            return None
        t = self._table("user_sessions")
        q = select(func.max(t.c.expires_at - t.c.created_at)).where(t.c.expires_at > now)
        if "revoked_at" in cols:
            q = q.where(t.c.revoked_at.is_(None))
        value = self._conn.execute(q).scalar_one()
        return 0.0 if value is None else float(value) / 3600.0

    def api_tokens(self, now: float, max_days: float) -> tuple[int, int] | None:
        """(live tokens, live tokens valid longer than ``max_days``); None: no table."""
        cols = self.tables.get("api_tokens")
        if cols is None or not {"expires_at", "created_at"} <= cols:
            return None
        t = self._table("api_tokens")
        live: list[ColumnElement[bool]] = [t.c.expires_at > now]
        if "revoked_at" in cols:
            live.append(t.c.revoked_at.is_(None))
        total = self._conn.execute(select(func.count()).select_from(t).where(*live)).scalar_one()
        lifetime = t.c.expires_at - t.c.created_at
        long_lived = self._conn.execute(
            select(func.count()).select_from(t).where(*live, lifetime > max_days * 86400.0)
        ).scalar_one()
        return int(total), int(long_lived)

    def inbox_sample(self, limit: int = 20) -> list[bytes]:
        rows = self._conn.execute(
            select(Inbox.payload_enc).order_by(Inbox.id.desc()).limit(limit)
        ).all()
        return [bytes(r[0]) for r in rows]

    def encrypted_tables_without_tenant(self) -> list[str]:
        """Tables holding sealed values (``*_enc``) but no ``tenant`` column to scope them."""
        out = []
        for name, cols in sorted(self.tables.items()):
            if any(c.endswith("_enc") for c in cols) and "tenant" not in cols:
                out.append(name)
        return out
