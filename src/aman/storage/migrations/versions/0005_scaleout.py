"""scale-out: sender leases; NOTIFY wake-ups on PostgreSQL

Revision ID: 0005
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("scaleout",)
depends_on: str | Sequence[str] | None = None

# Statement-level triggers with transition tables: one notification per statement,
# and only when rows actually became ready (a claim that changes nothing stays silent,
# so idle workers do not wake each other in a loop).
_PG_UP = [
    """
    CREATE OR REPLACE FUNCTION aman_notify_ready() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_TABLE_NAME = 'inbox' THEN
        IF EXISTS (SELECT 1 FROM changed WHERE status = 'todo') THEN
          PERFORM pg_notify('aman_inbox', '');
        END IF;
      ELSIF EXISTS (SELECT 1 FROM changed WHERE state = 'todo') THEN
        PERFORM pg_notify('aman_outbox', '');
      END IF;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER inbox_ready_ins AFTER INSERT ON inbox REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION aman_notify_ready()",
    "CREATE TRIGGER inbox_ready_upd AFTER UPDATE ON inbox REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION aman_notify_ready()",
    "CREATE TRIGGER outbox_ready_ins AFTER INSERT ON outbox REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION aman_notify_ready()",
    "CREATE TRIGGER outbox_ready_upd AFTER UPDATE ON outbox REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION aman_notify_ready()",
]
_PG_DOWN = [
    "DROP TRIGGER IF EXISTS outbox_ready_upd ON outbox",
    "DROP TRIGGER IF EXISTS outbox_ready_ins ON outbox",
    "DROP TRIGGER IF EXISTS inbox_ready_upd ON inbox",
    "DROP TRIGGER IF EXISTS inbox_ready_ins ON inbox",
    "DROP FUNCTION IF EXISTS aman_notify_ready()",
]


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for stmt in _PG_UP:
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for stmt in _PG_DOWN:
            op.execute(stmt)
    op.drop_table("leases")
