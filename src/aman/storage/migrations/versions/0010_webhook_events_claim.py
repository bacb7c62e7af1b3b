"""an index for the webhook events claim: (tenant, processed, id)

Revision ID: 0010
Revises: 0009

The campaigns' housekeeping (``process_template_events``, every ~2 s) claims a
tenant's unprocessed webhook events oldest first (``processed = false AND
tenant = ? AND field IN (...) ORDER BY id LIMIT n``).  Nothing indexed
``processed``, so each pass read every stored event, and retention keeps them
for 90 days by default: with 100,000 processed rows (300-byte payloads) and 3
to claim, a claim took 25 ms on SQLite (30 ms on PostgreSQL), medians of 300.
On (tenant, processed, id) it reads only the tenant's unprocessed rows, in claim
order, and stops at the limit: 0.3 ms (1.0 ms).  The index costs 2.3 MB per
100,000 rows on SQLite (4.1 MB on PostgreSQL).

A partial index on (tenant, id) WHERE NOT processed would be smaller, but the
claim binds ``processed`` as a parameter: PostgreSQL cannot use a partial index
in a generic plan (which a statement prepared by psycopg may settle on), and it
then reads the primary key in id order, through every processed row.  The
composite index serves generic and custom plans on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_webhook_events_claim", "webhook_events", ["tenant", "processed", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_claim", table_name="webhook_events")
