"""per-contact data keys (crypto-shredding), objection flag, data-rights requests

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("data_keys") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("destroyed_at", sa.Float(), nullable=True))
        batch.create_unique_constraint("uq_data_keys_subject", ["tenant", "subject"])
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("objected_at", sa.Float(), nullable=True))
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("contact_ix", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(
        "ix_privacy_requests_due", "privacy_requests", ["tenant", "status", "due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_due", table_name="privacy_requests")
    op.drop_table("privacy_requests")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("objected_at")
    with op.batch_alter_table("data_keys") as batch:
        batch.drop_constraint("uq_data_keys_subject", type_="unique")
        batch.drop_column("destroyed_at")
        batch.drop_column("subject")
