"""an index for the purge of expired verification links: (tenant, expires_at)

Revision ID: 0011
Revises: 0010

Retention deletes a tenant's verification links a day after they expire, in
batches (``SELECT token_hash ... WHERE tenant = ? AND expires_at < ? LIMIT n``,
then a delete by key).  Without an index each batch read the whole table, on
the read-only connection of every housekeeping pass that runs retention.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_verify_tokens_expiry", "verify_tokens", ["tenant", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_verify_tokens_expiry", table_name="verify_tokens")
