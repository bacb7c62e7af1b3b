"""Tables of aman.monitor: alerts, contact controls (throttle/quarantine) and fraud reports.

Declared on the core ``Base`` (same naming convention); created by migration
``0003`` on the ``monitor`` branch.  No personal data in clear: alert subjects are
blind indexes or hashes, fraud-report text is sealed by the vault.
"""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aman.storage.models import Base, BigId

__all__ = ["AlertRow", "ContactControlRow", "FraudReportRow"]


class AlertRow(Base):
    """One deduplicated alert: findings of the same kind and subject within a window."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(8))  # low|medium|high|critical
    subject: Mapped[str] = mapped_column(String(128))  # masked/hashed, never a phone number
    details: Mapped[str] = mapped_column(Text)  # JSON: counts, scores, reason codes
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|acknowledged|resolved
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_alerts_dedupe", "tenant", "kind", "subject", "status"),
        Index("ix_alerts_list", "tenant", "status", "last_seen"),
    )


class ContactControlRow(Base):
    """A throttled or quarantined contact (one row per contact; deleted on release)."""

    __tablename__ = "contact_controls"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_ix: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(12))  # throttled|quarantined
    until: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: until released
    per_minute: Mapped[int] = mapped_column(Integer, default=3)  # replies while throttled
    reason: Mapped[str] = mapped_column(String(120))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[float] = mapped_column(Float)


class FraudReportRow(Base):
    """A customer's report of a scam attempt; the text is sealed (AAD row = ``ref``)."""

    __tablename__ = "fraud_reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    tenant: Mapped[str] = mapped_column(String(64))
    contact_ix: Mapped[str] = mapped_column(String(64))
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|reviewed|closed
    reviewed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_fraud_reports_list", "tenant", "status", "created_at"),)
