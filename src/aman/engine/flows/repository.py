"""Table and queries of the flow switches: which flows of a bot a tenant's admin turned off.

One row per (tenant, bot, flow) that an admin ever switched; a flow without a
row is enabled.  Every query is scoped to the caller's tenant with
:func:`aman.accounts.scope.scoped`.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Connection, Float, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from aman.accounts.scope import TenantScope, scoped
from aman.storage.models import Base
from aman.storage.sql import upsert

__all__ = ["FlowSettingRow", "disabled_flows", "flow_enabled", "set_flow_enabled"]


class FlowSettingRow(Base):
    """Whether one flow of one bot runs for a tenant (last change: when and by whom)."""

    __tablename__ = "flow_settings"
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), primary_key=True)
    bot: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(128))


def disabled_flows(conn: Connection, scope: TenantScope, bot: str) -> frozenset[str]:
    """Names of the flows of ``bot`` switched off in the scope's tenant."""
    stmt = scoped(select(FlowSettingRow.flow), FlowSettingRow, scope).where(
        FlowSettingRow.bot == bot, FlowSettingRow.enabled.is_(False)
    )
    return frozenset(str(name) for name in conn.execute(stmt).scalars())


def flow_enabled(conn: Connection, scope: TenantScope, bot: str, flow: str) -> bool:
    stmt = scoped(select(FlowSettingRow.enabled), FlowSettingRow, scope).where(
        FlowSettingRow.bot == bot, FlowSettingRow.flow == flow
    )
    found = conn.execute(stmt).scalar_one_or_none()
    return True if found is None else bool(found)


def set_flow_enabled(
    conn: Connection,
    dialect: str,
    scope: TenantScope,
    bot: str,
    flow: str,
    enabled: bool,
    now: float,
) -> None:
    """Record the switch for the scope's tenant (insert or overwrite)."""
    stmt = upsert(
        dialect, FlowSettingRow, ["tenant", "bot", "flow"], ["enabled", "updated_at", "updated_by"]
    )
    conn.execute(
        stmt.values(
            tenant=scope.tenant,
            bot=bot,
            flow=flow,
            enabled=enabled,
            updated_at=now,
            updated_by=scope.principal[:128],
        )
    )
