"""monitor: alerts, contact controls, fraud reports

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("monitor",)
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_at", sa.Float(), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_dedupe", "alerts", ["tenant", "kind", "subject", "status"])
    op.create_index("ix_alerts_list", "alerts", ["tenant", "status", "last_seen"])

    op.create_table(
        "contact_controls",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("contact_ix", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("until", sa.Float(), nullable=True),
        sa.Column("per_minute", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "contact_ix", name=op.f("pk_contact_controls")),
    )

    op.create_table(
        "fraud_reports",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("contact_ix", sa.String(length=64), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_reports")),
        sa.UniqueConstraint("ref", name=op.f("uq_fraud_reports_ref")),
    )
    op.create_index("ix_fraud_reports_list", "fraud_reports", ["tenant", "status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_fraud_reports_list", table_name="fraud_reports")
    op.drop_table("fraud_reports")
    op.drop_table("contact_controls")
    op.drop_index("ix_alerts_list", table_name="alerts")
    op.drop_index("ix_alerts_dedupe", table_name="alerts")
    op.drop_table("alerts")
