"""SQL of aman.monitor (the only module here that talks to the database), parameterised Core.

Alerts are merged under one transaction-scoped advisory lock on PostgreSQL
(SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so two processes
flushing the same finding never create two alerts for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text, update

from aman.monitor.findings import SEVERITIES, Severity, max_severity, severity_rank
from aman.monitor.models import AlertRow, ContactControlRow, FraudReportRow
from aman.storage.models import Contact
from aman.storage.sql import upsert

__all__ = [
    "ALERT_STATUSES",
    "Alert",
    "MonitorRepository",
    "PendingAlert",
    "StoredControl",
    "StoredFraudReport",
]

ALERT_STATUSES = ("open", "acknowledged", "resolved")
_UNRESOLVED = ("open", "acknowledged")
_ALERTS_LOCK = 0x616C7274  # "alrt"


@dataclass(slots=True)
class PendingAlert:
    """Findings of one (tenant, kind, subject) not yet written."""

    tenant: str
    kind: str
    subject: str
    severity: Severity
    first_seen: float
    last_seen: float
    count: int
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    tenant: str
    kind: str
    severity: str
    subject: str
    details: dict[str, Any]
    first_seen: float
    last_seen: float
    count: int
    status: str
    acknowledged_by: str | None
    acknowledged_at: float | None
    resolved_by: str | None
    resolved_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "details": self.details,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": self.count,
            "status": self.status,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
            "resolved_by": self.resolved_by,
            "resolved_at": self.resolved_at,
        }


@dataclass(frozen=True, slots=True)
class StoredControl:
    tenant: str
    contact_ix: str
    mode: str
    until: float | None
    per_minute: int
    reason: str
    set_by: str
    set_at: float


@dataclass(frozen=True, slots=True)
class StoredFraudReport:
    id: int
    ref: str
    tenant: str
    contact_ix: str
    text_enc: bytes
    created_at: float
    status: str
    reviewed_by: str | None
    reviewed_at: float | None


def _alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id),
        tenant=row.tenant,
        kind=row.kind,
        severity=row.severity,
        subject=row.subject,
        details=orjson.loads(row.details),
        first_seen=float(row.first_seen),
        last_seen=float(row.last_seen),
        count=int(row.count),
        status=row.status,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


def _json(details: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(details), option=orjson.OPT_SORT_KEYS).decode()


class MonitorRepository:
    """Reads and writes alerts, contact controls and fraud reports."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._upsert_control = upsert(
            dialect,
            ContactControlRow,
            ["tenant", "contact_ix"],
            ["mode", "until", "per_minute", "reason", "set_by", "set_at"],
        )

    # -- alerts --------------------------------------------------------------------------
    def merge_alerts(
        self, conn: Connection, pending: Sequence[PendingAlert], window: float
    ) -> list[Alert]:
        """Fold findings into alerts; returns alerts that are new or rose in severity."""
        if not pending:
            return []
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ALERTS_LOCK})
        changed: list[Alert] = []
        for p in pending:
            row = conn.execute(
                select(AlertRow)
                .where(
                    AlertRow.tenant == p.tenant,
                    AlertRow.kind == p.kind,
                    AlertRow.subject == p.subject,
                    AlertRow.status.in_(_UNRESOLVED),
                )
                .order_by(AlertRow.id.desc())
                .limit(1)
            ).first()
            if row is not None and row.last_seen >= p.first_seen - window:
                severity = max_severity(row.severity, p.severity)
                conn.execute(
                    update(AlertRow)
                    .where(AlertRow.id == row.id)
                    .values(
                        count=AlertRow.count + p.count,
                        last_seen=max(row.last_seen, p.last_seen),
                        severity=severity,
                        details=_json(p.details),
                    )
                )
                if severity_rank(severity) > severity_rank(row.severity):
                    self._collect(conn, p.tenant, int(row.id), changed)
                continue
            new_id = conn.execute(
                insert(AlertRow)
                .values(
                    tenant=p.tenant,
                    kind=p.kind[:48],
                    severity=p.severity,
                    subject=p.subject[:128],
                    details=_json(p.details),
                    first_seen=p.first_seen,
                    last_seen=p.last_seen,
                    count=p.count,
                    status="open",
                )
                .returning(AlertRow.id)
            ).scalar_one()
            self._collect(conn, p.tenant, int(new_id), changed)
        return changed

    def _collect(self, conn: Connection, tenant: str, alert_id: int, out: list[Alert]) -> None:
        alert = self.get_alert(conn, tenant, alert_id)
        if alert is not None:
            out.append(alert)

    def get_alert(self, conn: Connection, tenant: str, alert_id: int) -> Alert | None:
        row = conn.execute(
            select(AlertRow).where(AlertRow.tenant == tenant, AlertRow.id == alert_id)
        ).first()
        return None if row is None else _alert(row)

    def list_alerts(
        self,
        conn: Connection,
        tenant: str,
        *,
        statuses: Sequence[str] | None = None,
        kind: str | None = None,
        min_severity: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Alert]:
        stmt = select(AlertRow).where(AlertRow.tenant == tenant)
        if statuses:
            stmt = stmt.where(AlertRow.status.in_(list(statuses)))
        if kind is not None:
            stmt = stmt.where(AlertRow.kind == kind)
        if min_severity is not None:
            allowed = [s for s in SEVERITIES if severity_rank(s) >= severity_rank(min_severity)]
            stmt = stmt.where(AlertRow.severity.in_(allowed))
        if before_id is not None:
            stmt = stmt.where(AlertRow.id < before_id)
        rows = conn.execute(stmt.order_by(AlertRow.id.desc()).limit(limit)).all()
        return [_alert(r) for r in rows]

    def set_alert_status(
        self,
        conn: Connection,
        tenant: str,
        alert_id: int,
        *,
        expected: Sequence[str],
        status: str,
        actor: str,
        now: float,
    ) -> bool:
        """Move an alert from one of ``expected`` to ``status``; False if it was not there."""
        values: dict[str, Any] = {"status": status}
        if status == "acknowledged":
            values |= {"acknowledged_by": actor, "acknowledged_at": now}
        elif status == "resolved":
            values |= {"resolved_by": actor, "resolved_at": now}
        result = conn.execute(
            update(AlertRow)
            .where(
                AlertRow.tenant == tenant,
                AlertRow.id == alert_id,
                AlertRow.status.in_(list(expected)),
            )
            .values(**values)
        )
        return result.rowcount == 1

    def open_counts(self, conn: Connection, tenant: str | None = None) -> dict[str, int]:
        """Unresolved alerts per severity (every tenant when ``tenant`` is None)."""
        stmt = select(AlertRow.severity, func.count()).where(AlertRow.status.in_(_UNRESOLVED))
        if tenant is not None:
            stmt = stmt.where(AlertRow.tenant == tenant)
        counts: dict[str, int] = {s: 0 for s in SEVERITIES}
        for sev, n in conn.execute(stmt.group_by(AlertRow.severity)).all():
            counts[str(sev)] = int(n)
        return counts

    # -- contact controls ----------------------------------------------------------------
    def put_control(self, conn: Connection, control: StoredControl) -> None:
        conn.execute(
            self._upsert_control,
            {
                "tenant": control.tenant,
                "contact_ix": control.contact_ix,
                "mode": control.mode,
                "until": control.until,
                "per_minute": control.per_minute,
                "reason": control.reason[:120],
                "set_by": control.set_by[:128],
                "set_at": control.set_at,
            },
        )

    def delete_control(
        self, conn: Connection, tenant: str, contact_ix: str
    ) -> StoredControl | None:
        row = conn.execute(
            select(ContactControlRow).where(
                ContactControlRow.tenant == tenant, ContactControlRow.contact_ix == contact_ix
            )
        ).first()
        if row is None:
            return None
        conn.execute(
            delete(ContactControlRow).where(
                ContactControlRow.tenant == tenant, ContactControlRow.contact_ix == contact_ix
            )
        )
        return _control(row)

    def active_controls(
        self, conn: Connection, now: float, tenant: str | None = None
    ) -> list[StoredControl]:
        stmt = select(ContactControlRow).where(
            or_(ContactControlRow.until.is_(None), ContactControlRow.until > now)
        )
        if tenant is not None:
            stmt = stmt.where(ContactControlRow.tenant == tenant)
        return [_control(r) for r in conn.execute(stmt).all()]

    def purge_expired_controls(self, conn: Connection, now: float) -> int:
        result = conn.execute(
            delete(ContactControlRow).where(
                and_(ContactControlRow.until.is_not(None), ContactControlRow.until <= now)
            )
        )
        return int(result.rowcount or 0)

    # -- core tables (read only) ---------------------------------------------------------
    def recent_contacts(self, conn: Connection, tenant: str, limit: int) -> list[str]:
        """Blind indexes of the most recently active contacts, newest first."""
        rows = conn.execute(
            select(Contact.contact_ix)
            .where(Contact.tenant == tenant)
            .order_by(Contact.last_inbound_at.desc())
            .limit(limit)
        ).all()
        return [str(r[0]) for r in rows]

    # -- fraud reports -------------------------------------------------------------------
    def add_fraud_reports(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            conn.execute(insert(FraudReportRow), [dict(r) for r in rows])

    def list_fraud_reports(
        self, conn: Connection, tenant: str, *, status: str | None, limit: int
    ) -> list[StoredFraudReport]:
        stmt = select(FraudReportRow).where(FraudReportRow.tenant == tenant)
        if status is not None:
            stmt = stmt.where(FraudReportRow.status == status)
        rows = conn.execute(stmt.order_by(FraudReportRow.id.desc()).limit(limit)).all()
        return [_fraud(r) for r in rows]

    def get_fraud_report(
        self, conn: Connection, tenant: str, report_id: int
    ) -> StoredFraudReport | None:
        row = conn.execute(
            select(FraudReportRow).where(
                FraudReportRow.tenant == tenant, FraudReportRow.id == report_id
            )
        ).first()
        return None if row is None else _fraud(row)

    def set_fraud_status(
        self, conn: Connection, tenant: str, report_id: int, status: str, actor: str, now: float
    ) -> bool:
        result = conn.execute(
            update(FraudReportRow)
            .where(FraudReportRow.tenant == tenant, FraudReportRow.id == report_id)
            .values(status=status, reviewed_by=actor[:128], reviewed_at=now)
        )
        return result.rowcount == 1


def _control(row: Any) -> StoredControl:
    return StoredControl(
        tenant=row.tenant,
        contact_ix=row.contact_ix,
        mode=row.mode,
        until=row.until,
        per_minute=int(row.per_minute),
        reason=row.reason,
        set_by=row.set_by,
        set_at=float(row.set_at),
    )


def _fraud(row: Any) -> StoredFraudReport:
    return StoredFraudReport(
        id=int(row.id),
        ref=row.ref,
        tenant=row.tenant,
        contact_ix=row.contact_ix,
        text_enc=bytes(row.text_enc),
        created_at=float(row.created_at),
        status=row.status,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
    )
