"""flow switches per tenant and the shared API-token rate limit

Revision ID: 0008
Revises: 0002

Two small tables of the accounts branch: ``flow_settings`` (an admin enabled or
disabled a flow of a bot for the tenant; engine/flows/switches.py) and
``api_token_rates`` (one GCRA row per API token so every API process shares
the token's limit; accounts/ratelimit.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "flow_settings",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("bot", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.id"], name=op.f("fk_flow_settings_tenant_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant", "bot", "flow", name=op.f("pk_flow_settings")),
    )
    op.create_table(
        "api_token_rates",
        sa.Column("token_id", _ID, autoincrement=False, nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_api_token_rates_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_token_rates")),
    )


def downgrade() -> None:
    op.drop_table("api_token_rates")
    op.drop_table("flow_settings")
