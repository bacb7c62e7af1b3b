"""Tables of the campaigns domain: contact profiles and tags, segments, templates, campaigns.

Declared on the core ``Base`` (same naming convention, ``BigId`` ids, epoch-second
float times).  Personal values (custom fields) are only stored sealed by the
vault; template and campaign definitions are business data and stay readable.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from aman.storage.models import Base, BigId

__all__ = [
    "CampaignRecipientRow",
    "CampaignRow",
    "CampaignRunRow",
    "CampaignSettingsRow",
    "ContactProfileRow",
    "ContactTagRow",
    "MessageTemplateRow",
    "SegmentMemberRow",
    "SegmentRow",
]


class ContactProfileRow(Base):
    """Campaign attributes of one contact; custom fields sealed as one JSON object."""

    __tablename__ = "contact_profiles"
    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    fields_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    marketing: Mapped[str] = mapped_column(String(8), default="unknown")  # granted|denied|unknown
    marketing_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    number_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    orders_total: Mapped[int] = mapped_column(BigInteger, default=0)
    last_order_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[float] = mapped_column(Float)


class ContactTagRow(Base):
    """One tag on one contact (short business labels such as ``vip``; never personal data)."""

    __tablename__ = "contact_tags"
    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_contact_tags_tenant_tag", "tenant", "tag"),)


class SegmentRow(Base):
    """A saved audience: JSON rules, evaluated at send time (dynamic) or snapshotted (static)."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8))  # dynamic | static
    rules: Mapped[str] = mapped_column(Text)  # canonical JSON, validated on save
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    snapshot_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_segments_tenant_name"),)


class SegmentMemberRow(Base):
    """A contact in a static segment's snapshot."""

    __tablename__ = "segment_members"
    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class MessageTemplateRow(Base):
    """Local mirror of one Cloud API message template (name + language)."""

    __tablename__ = "message_templates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(15))
    category: Mapped[str] = mapped_column(String(16))  # marketing | utility | authentication
    components: Mapped[str] = mapped_column(Text)  # JSON, Cloud API template components
    status: Mapped[str] = mapped_column(String(24))  # APPROVED, PENDING, REJECTED, PAUSED...
    quality: Mapped[str] = mapped_column(String(16), default="UNKNOWN")
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    meta_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("tenant", "name", "language", name="uq_message_templates_key"),
    )


class CampaignSettingsRow(Base):
    """Per-tenant broadcast policy: time zone, quiet hours, messaging tier, frequency cap."""

    __tablename__ = "campaign_settings"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    tz: Mapped[str] = mapped_column(String(64))
    quiet_start: Mapped[int | None] = mapped_column(Integer, nullable=True)  # minute of day
    quiet_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tier_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: unlimited
    frequency_cap_hours: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class CampaignRow(Base):
    """A broadcast definition: audience, message, schedule and lifecycle state."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id"))
    template_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("message_templates.id"), nullable=True
    )
    variables: Mapped[str] = mapped_column(Text)  # JSON: component -> value specs
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # in-window session text
    category: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12))  # draft|active|paused|done|cancelled
    run_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cron: Mapped[str | None] = mapped_column(String(120), nullable=True)
    tz: Mapped[str] = mapped_column(String(64))
    next_run_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_campaigns_due", "state", "next_run_at"),)


class CampaignRunRow(Base):
    """One execution of a campaign: a cursor over its audience, materialised in batches."""

    __tablename__ = "campaign_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    scheduled_for: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(12))  # running|paused|done|cancelled
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    hold_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[int] = mapped_column(Integer, default=0)
    consent_seen: Mapped[int] = mapped_column(BigInteger, default=0)  # last consent event checked
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        UniqueConstraint("campaign_id", "scheduled_for", name="uq_campaign_runs_occurrence"),
        Index("ix_campaign_runs_ready", "state", "not_before"),
    )


class CampaignRecipientRow(Base):
    """One contact considered by a run: queued (with its outbox ref), held, or excluded."""

    __tablename__ = "campaign_recipients"
    run_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("campaign_runs.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    contact_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    tenant: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int] = mapped_column(BigId)
    contact_ix: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # queued|held|excluded|cancelled
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(10), nullable=True)  # template | text
    ref: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    queued_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_campaign_recipients_contact", "tenant", "contact_id", "queued_at"),
        Index("ix_campaign_recipients_window", "tenant", "state", "queued_at"),
        Index("ix_campaign_recipients_run_state", "run_id", "state"),
    )
