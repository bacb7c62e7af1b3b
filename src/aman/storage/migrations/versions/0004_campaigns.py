"""campaigns: contact profiles and tags, segments, templates, campaigns, runs, recipients

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("campaigns",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_profiles",
        sa.Column("contact_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("fields_enc", sa.LargeBinary(), nullable=True),
        sa.Column("marketing", sa.String(length=8), nullable=False),
        sa.Column("marketing_at", sa.Float(), nullable=True),
        sa.Column("number_valid", sa.Boolean(), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("orders_total", sa.BigInteger(), nullable=False),
        sa.Column("last_order_at", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_profiles_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_profiles")),
    )
    op.create_index(
        op.f("ix_contact_profiles_tenant"), "contact_profiles", ["tenant"], unique=False
    )

    op.create_table(
        "contact_tags",
        sa.Column("contact_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_tags_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag", name=op.f("pk_contact_tags")),
    )
    op.create_index("ix_contact_tags_tenant_tag", "contact_tags", ["tenant", "tag"], unique=False)

    op.create_table(
        "segments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("snapshot_at", sa.Float(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("tenant", "name", name="uq_segments_tenant_name"),
    )

    op.create_table(
        "segment_members",
        sa.Column("segment_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("contact_id", BIG_ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_segment_members_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_members_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "contact_id", name=op.f("pk_segment_members")),
    )

    op.create_table(
        "message_templates",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=15), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("components", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("meta_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("tenant", "name", "language", name="uq_message_templates_key"),
    )

    op.create_table(
        "campaign_settings",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("tier_limit", sa.BigInteger(), nullable=True),
        sa.Column("frequency_cap_hours", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_campaign_settings")),
    )

    op.create_table(
        "campaigns",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("segment_id", BIG_ID, nullable=False),
        sa.Column("template_id", BIG_ID, nullable=True),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("run_at", sa.Float(), nullable=True),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_campaigns_segment_id_segments")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["message_templates.id"],
            name=op.f("fk_campaigns_template_id_message_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_due", "campaigns", ["state", "next_run_at"], unique=False)

    op.create_table(
        "campaign_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("scheduled_for", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("exhausted", sa.Boolean(), nullable=False),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("hold_reason", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.Integer(), nullable=False),
        sa.Column("consent_seen", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_runs_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_runs")),
        sa.UniqueConstraint("campaign_id", "scheduled_for", name="uq_campaign_runs_occurrence"),
    )
    op.create_index(
        op.f("ix_campaign_runs_campaign_id"), "campaign_runs", ["campaign_id"], unique=False
    )
    op.create_index(
        "ix_campaign_runs_ready", "campaign_runs", ["state", "not_before"], unique=False
    )

    op.create_table(
        "campaign_recipients",
        sa.Column("run_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("contact_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("contact_ix", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["campaign_runs.id"],
            name=op.f("fk_campaign_recipients_run_id_campaign_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "contact_id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("ref", name=op.f("uq_campaign_recipients_ref")),
    )
    op.create_index(
        "ix_campaign_recipients_contact",
        "campaign_recipients",
        ["tenant", "contact_id", "queued_at"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_recipients_window",
        "campaign_recipients",
        ["tenant", "state", "queued_at"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_recipients_run_state", "campaign_recipients", ["run_id", "state"], unique=False
    )


def downgrade() -> None:
    op.drop_table("campaign_recipients")
    op.drop_table("campaign_runs")
    op.drop_table("campaigns")
    op.drop_table("campaign_settings")
    op.drop_table("message_templates")
    op.drop_table("segment_members")
    op.drop_table("segments")
    op.drop_table("contact_tags")
    op.drop_table("contact_profiles")
