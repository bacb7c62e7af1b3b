"""SQLAlchemy 2 typed models: the whole schema in one place.

Personal data (phone numbers, names, message bodies) is stored only as
AES-GCM ciphertext (``*_enc`` columns, see ``aman.storage.vault``); rows that
must be found by phone number carry a keyed blind index (``contact_ix``).
Times are epoch seconds (float) so SQLite and PostgreSQL behave the same.
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
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditEntryRow",
    "AuditHeadRow",
    "Base",
    "ConsentEvent",
    "Contact",
    "Conversation",
    "DataKeyRow",
    "Inbox",
    "Lease",
    "Outbox",
    "PrivacyRequest",
    "SendAttempt",
    "StatusEvent",
    "TimerRow",
    "VerifyToken",
    "WebhookEvent",
    "Worker",
    "metadata",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# BIGINT ids on PostgreSQL, rowid-aliased INTEGER on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = metadata


class Inbox(Base):
    """One inbound customer message, stored before the webhook is acknowledged."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    wamid: Mapped[str] = mapped_column(String(256), unique=True)
    contact_ix: Mapped[str] = mapped_column(String(64))  # conversation lock key
    msg_type: Mapped[str] = mapped_column(String(32))
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    msg_ts: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), default="todo")  # todo|doing|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("workers.id", ondelete="SET NULL"), nullable=True
    )
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        Index("ix_inbox_todo", "status", "id"),
        Index("ix_inbox_contact", "contact_ix", "status", "id"),
        # Backstop for per-conversation ordering: one message of a conversation in work.
        Index(
            "uq_inbox_one_doing",
            "contact_ix",
            unique=True,
            sqlite_where=text("status = 'doing'"),
            postgresql_where=text("status = 'doing'"),
        ),
    )


class Outbox(Base):
    """One request to the Graph API (a reply, an agent message or a read receipt)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(64), unique=True)  # idempotency key, AAD row id
    inbox_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # message|read
    contact_ix: Mapped[str] = mapped_column(String(64))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10), default="todo")
    # todo|sending|sent|failed|uncertain
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    worker_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("workers.id", ondelete="SET NULL"), nullable=True
    )
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reconcile_by: Mapped[float | None] = mapped_column(Float, nullable=True)
    settled_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    wamid: Mapped[str | None] = mapped_column(String(256), nullable=True, unique=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status_rank: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        UniqueConstraint("inbox_id", "seq", "kind", name="uq_outbox_reply"),
        Index("ix_outbox_ready", "state", "id"),  # claim order (migration 0009)
        Index("ix_outbox_contact", "contact_ix", "state", "id"),
    )


class SendAttempt(Base):
    """One delivery attempt of an outbox row, for the console and for audits."""

    __tablename__ = "send_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(BigId, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))  # sent|retry|failed
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)


class StatusEvent(Base):
    """A delivery status webhook (sent/delivered/read/failed...), deduplicated."""

    __tablename__ = "status_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    wamid: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    status_ts: Mapped[int] = mapped_column(BigInteger)
    outbox_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("wamid", "status", name="uq_status_events_wamid_status"),)


class WebhookEvent(Base):
    """Any other webhook field (template/account/quality updates, user preferences...)."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(160), unique=True)
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[float] = mapped_column(Float)
    processed: Mapped[bool] = mapped_column(Boolean, default=False)

    # The campaigns' claim reads a tenant's unprocessed rows in id order (migration 0010).
    __table_args__ = (Index("ix_webhook_events_claim", "tenant", "processed", "id"),)


class Contact(Base):
    """A customer, found by keyed blind index; identity fields encrypted."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contact_ix: Mapped[str] = mapped_column(String(64))
    wa_id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_inbound_at: Mapped[float] = mapped_column(Float)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The customer objected to automated processing (UU PDP): a human answers instead.
    objected_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (UniqueConstraint("tenant", "contact_ix", name="uq_contacts_tenant_ix"),)


class ConsentEvent(Base):
    """Proof of consent and opt-out: what the customer decided, where and when (UU PDP)."""

    __tablename__ = "consent_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contact_ix: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # messaging | marketing
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))  # e.g. chat:STOP, webhook:user_preferences
    at: Mapped[float] = mapped_column(Float)


class Conversation(Base):
    """Bot state of one conversation (one contact on one business number)."""

    __tablename__ = "conversations"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_ix: Mapped[str] = mapped_column(String(64), primary_key=True)
    state_enc: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(8), default="bot")  # bot | human
    handoff_reason: Mapped[str | None] = mapped_column(String(120), nullable=True)
    handoff_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_inbound_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    assigned_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    assigned_team: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_conversations_mode", "tenant", "mode", "handoff_at"),)


class TimerRow(Base):
    """A durable wake-up for one conversation (reminders, flow delays, inactivity)."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    contact_ix: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    fire_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending | fired
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("tenant", "phone_number_id", "contact_ix", "name", name="uq_timers_key"),
        Index("ix_timers_due", "state", "fire_at"),
    )


class VerifyToken(Base):
    """A single-use step-up verification link (only its hash is stored)."""

    __tablename__ = "verify_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    contact_ix: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    # Retention purges a tenant's expired links in batches (``privacy.retention``).
    __table_args__ = (Index("ix_verify_tokens_expiry", "tenant", "expires_at"),)


class AuditEntryRow(Base):
    """One audit ledger entry; ``seq`` is its index in the RFC 6962 Merkle tree."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Float)
    tenant: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, never secrets
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHeadRow(Base):
    """A signed tree head (size, root, time) over the audit ledger."""

    __tablename__ = "audit_heads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    ts: Mapped[float] = mapped_column(Float)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))


class DataKeyRow(Base):
    """A data-encryption key, stored only wrapped by the master key."""

    __tablename__ = "data_keys"
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    provider_key_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    # Per-contact keys (purpose "contact"): the contact's blind index while the key lives.
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Crypto-shredded: wrapped key wiped, subject cleared; the row stays as a tombstone.
    destroyed_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (UniqueConstraint("tenant", "subject", name="uq_data_keys_subject"),)


class PrivacyRequest(Base):
    """A customer's data-rights request (export or erasure) with its legal due time."""

    __tablename__ = "privacy_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contact_ix: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # export | erasure
    source: Mapped[str] = mapped_column(String(64))  # whatsapp | api:<user> | cli
    status: Mapped[str] = mapped_column(String(16))  # pending | done | cancelled
    requested_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_privacy_requests_due", "tenant", "status", "due_at"),)


class Lease(Base):
    """A named, expiring lock held by one worker (e.g. the sender of one phone number)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[float] = mapped_column(Float)


class Worker(Base):
    """A live aman process (heartbeat) so stalled claims can be reclaimed."""

    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
