"""Staff-facing services of aman.monitor (the REST routes call these): alerts, controls,
fraud reports.  Every state change is audited in the same transaction.

Audit targets never carry phone numbers: ``alert:<id>``, ``contact:<first 12 hex of
the blind index>`` (as the verification service does), ``fraud_report:<id>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from aman.audit.service import AuditService
from aman.monitor.controls import (
    MODES,
    Control,
    ControlBook,
    Mode,
    check_contact_ix,
    check_reason,
)
from aman.monitor.errors import (
    AlertNotFoundError,
    ControlError,
    FraudReportNotFoundError,
    InvalidAlertTransitionError,
    MonitorInputError,
    UnknownTenantError,
)
from aman.monitor.findings import KINDS, SEVERITIES
from aman.monitor.repository import (
    ALERT_STATUSES,
    Alert,
    MonitorRepository,
    StoredControl,
    StoredFraudReport,
)
from aman.storage.vault import Vault

__all__ = [
    "FRAUD_STATUSES",
    "AlertService",
    "ControlService",
    "FraudReport",
    "FraudReportService",
    "audited",
    "contact_target",
]

FRAUD_STATUSES = ("open", "reviewed", "closed")


def _actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 128:
        raise MonitorInputError("actor must be a non-empty id of at most 128 characters")
    return actor


def _tenant(tenant: object) -> str:
    if not isinstance(tenant, str) or not tenant or len(tenant) > 64:
        raise MonitorInputError("tenant must be a non-empty id of at most 64 characters")
    return tenant


def contact_target(contact_ix: str) -> str:
    return f"contact:{contact_ix[:12]}"


def audited(engine: Engine, audit: AuditService, work: Callable[[Connection], Any]) -> Any:
    """Run ``work`` in one transaction whose audit entries publish only after commit."""
    try:
        with engine.begin() as conn:
            result = work(conn)
    except Exception:
        audit.discard()
        raise
    audit.committed()
    return result


class AlertService:
    """List, acknowledge and resolve alerts."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditService,
        repo: MonitorRepository,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._repo = repo
        self._clock = clock

    def list(
        self,
        tenant: str,
        *,
        status: str | Sequence[str] | None = None,
        kind: str | None = None,
        min_severity: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Alert]:
        """Newest first; ``before_id`` pages backwards."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        for st in statuses:
            if st not in ALERT_STATUSES:
                raise MonitorInputError(f"status must be one of {', '.join(ALERT_STATUSES)}")
        if kind is not None and kind not in KINDS:
            raise MonitorInputError(f"unknown alert kind {kind[:48]!r}")
        if min_severity is not None and min_severity not in SEVERITIES:
            raise MonitorInputError(f"severity must be one of {', '.join(SEVERITIES)}")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise MonitorInputError("limit must be between 1 and 500")
        with self._engine.connect() as conn:
            return self._repo.list_alerts(
                conn,
                _tenant(tenant),
                statuses=statuses or None,
                kind=kind,
                min_severity=min_severity,
                limit=limit,
                before_id=before_id,
            )

    def get(self, tenant: str, alert_id: int) -> Alert:
        with self._engine.connect() as conn:
            alert = self._repo.get_alert(conn, _tenant(tenant), alert_id)
        if alert is None:
            raise AlertNotFoundError(f"no alert {alert_id}")
        return alert

    def open_counts(self, tenant: str) -> dict[str, int]:
        with self._engine.connect() as conn:
            return self._repo.open_counts(conn, _tenant(tenant))

    def acknowledge(self, tenant: str, alert_id: int, actor: str) -> Alert:
        return self._move(tenant, alert_id, actor, ("open",), "acknowledged")

    def resolve(self, tenant: str, alert_id: int, actor: str) -> Alert:
        return self._move(tenant, alert_id, actor, ("open", "acknowledged"), "resolved")

    def _move(
        self, tenant: str, alert_id: int, actor: str, expected: tuple[str, ...], status: str
    ) -> Alert:
        tenant, actor = _tenant(tenant), _actor(actor)

        def work(conn: Connection) -> Alert:
            current = self._repo.get_alert(conn, tenant, alert_id)
            if current is None:
                raise AlertNotFoundError(f"no alert {alert_id}")
            now = self._clock()
            if not self._repo.set_alert_status(
                conn, tenant, alert_id, expected=expected, status=status, actor=actor, now=now
            ):
                raise InvalidAlertTransitionError(
                    f"alert {alert_id} is {current.status}; cannot make it {status}"
                )
            self._audit.append(
                conn,
                tenant=tenant,
                actor=actor,
                action=f"alert_{status}",
                target=f"alert:{alert_id}",
                details={
                    "kind": current.kind,
                    "severity": current.severity,
                    "from": current.status,
                },
            )
            updated = self._repo.get_alert(conn, tenant, alert_id)
            if updated is None:
                raise AlertNotFoundError(f"no alert {alert_id}")
            return updated

        result: Alert = audited(self._engine, self._audit, work)
        return result


class ControlService:
    """Throttle, quarantine and release contacts (staff, API, or the monitor itself)."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditService,
        repo: MonitorRepository,
        book: ControlBook,
        *,
        default_per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._repo = repo
        self._book = book
        self._per_minute = default_per_minute
        self._clock = clock

    def throttle(
        self,
        tenant: str,
        contact_ix: str,
        *,
        actor: str,
        reason: str,
        seconds: float | None = 3600.0,
        per_minute: int | None = None,
    ) -> Control:
        return self._set(tenant, contact_ix, "throttled", actor, reason, seconds, per_minute)

    def quarantine(
        self,
        tenant: str,
        contact_ix: str,
        *,
        actor: str,
        reason: str,
        seconds: float | None = None,
    ) -> Control:
        return self._set(tenant, contact_ix, "quarantined", actor, reason, seconds, None)

    def _set(
        self,
        tenant: str,
        contact_ix: str,
        mode: Mode,
        actor: str,
        reason: str,
        seconds: float | None,
        per_minute: int | None,
    ) -> Control:
        if seconds is not None and not (
            isinstance(seconds, (int, float)) and 0 < seconds <= 90 * 86400
        ):
            raise ControlError("duration must be between 1 second and 90 days (or None)")
        limit = self._per_minute if per_minute is None else per_minute
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ControlError("per_minute must be between 1 and 1000")
        now = self._clock()
        control = Control(
            _tenant(tenant),
            check_contact_ix(contact_ix),
            mode,
            None if seconds is None else now + seconds,
            limit,
            check_reason(reason),
            _actor(actor),
            now,
        )
        audited(self._engine, self._audit, lambda conn: self.store(conn, [control]))
        self._book.put(control, saved=True)
        return control

    def store(self, conn: Connection, controls: Sequence[Control]) -> None:
        """Write controls and their audit entries in the caller's transaction."""
        for c in controls:
            self._repo.put_control(conn, _stored(c))
            self._audit.append(
                conn,
                tenant=c.tenant,
                actor=c.set_by,
                action=f"contact_{c.mode}",
                target=contact_target(c.contact_ix),
                details={"until": c.until, "per_minute": c.per_minute, "reason": c.reason},
            )

    def release(
        self, tenant: str, contact_ix: str, *, actor: str, reason: str = "released by staff"
    ) -> Control:
        """Lift a throttle or quarantine; ControlError when the contact has none."""
        tenant, contact_ix = _tenant(tenant), check_contact_ix(contact_ix)
        actor, reason = _actor(actor), check_reason(reason)

        def work(conn: Connection) -> StoredControl:
            old = self._repo.delete_control(conn, tenant, contact_ix)
            if old is None:
                raise ControlError("this contact is neither throttled nor quarantined")
            self._audit.append(
                conn,
                tenant=tenant,
                actor=actor,
                action="contact_released",
                target=contact_target(contact_ix),
                details={"was": old.mode, "reason": reason},
            )
            return old

        old: StoredControl = audited(self._engine, self._audit, work)
        self._book.remove(tenant, contact_ix, self._clock())
        return _control(old)

    def list(self, tenant: str) -> list[Control]:
        with self._engine.connect() as conn:
            rows = self._repo.active_controls(conn, self._clock(), _tenant(tenant))
        return [_control(r) for r in rows]

    def load(self) -> int:
        """Reload the in-memory book from the table (start-up and periodic refresh)."""
        now = self._clock()
        with self._engine.begin() as conn:
            self._repo.purge_expired_controls(conn, now)
            rows = self._repo.active_controls(conn, now)
        self._book.replace_all(_control(r) for r in rows)
        return len(rows)


def _stored(c: Control) -> StoredControl:
    return StoredControl(
        c.tenant, c.contact_ix, c.mode, c.until, c.per_minute, c.reason, c.set_by, c.set_at
    )


def _control(r: StoredControl) -> Control:
    if r.mode not in MODES:
        raise ControlError(f"stored control has unknown mode {r.mode[:16]!r}")
    mode: Mode = "quarantined" if r.mode == "quarantined" else "throttled"
    return Control(
        r.tenant, r.contact_ix, mode, r.until, r.per_minute, r.reason, r.set_by, r.set_at
    )


@dataclass(frozen=True, slots=True)
class FraudReport:
    """A customer's scam report as staff see it (text opened, secrets already redacted)."""

    id: int
    contact_ix: str
    text: str
    created_at: float
    status: str
    reviewed_by: str | None
    reviewed_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FraudReportService:
    """List customers' scam reports (text opened for staff) and mark them reviewed/closed."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditService,
        repo: MonitorRepository,
        vaults: Mapping[str, Vault],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._repo = repo
        self._vaults = vaults
        self._clock = clock

    def _vault(self, tenant: str) -> Vault:
        vault = self._vaults.get(tenant)
        if vault is None:
            raise UnknownTenantError(f"no vault for tenant {tenant[:64]!r}")
        return vault

    def _open(self, r: StoredFraudReport) -> FraudReport:
        text = self._vault(r.tenant).open("fraud_reports", "text", r.ref, r.text_enc).decode()
        return FraudReport(
            id=r.id,
            contact_ix=r.contact_ix,
            text=text,
            created_at=r.created_at,
            status=r.status,
            reviewed_by=r.reviewed_by,
            reviewed_at=r.reviewed_at,
        )

    def list(
        self, tenant: str, *, status: str | None = "open", limit: int = 100
    ) -> list[FraudReport]:
        if status is not None and status not in FRAUD_STATUSES:
            raise MonitorInputError(f"status must be one of {', '.join(FRAUD_STATUSES)}")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise MonitorInputError("limit must be between 1 and 500")
        with self._engine.connect() as conn:
            rows = self._repo.list_fraud_reports(conn, _tenant(tenant), status=status, limit=limit)
        return [self._open(r) for r in rows]

    def set_status(self, tenant: str, report_id: int, status: str, actor: str) -> None:
        if status not in FRAUD_STATUSES:
            raise MonitorInputError(f"status must be one of {', '.join(FRAUD_STATUSES)}")
        tenant, actor = _tenant(tenant), _actor(actor)

        def work(conn: Connection) -> None:
            old = self._repo.get_fraud_report(conn, tenant, report_id)
            if old is None:
                raise FraudReportNotFoundError(f"no fraud report {report_id}")
            self._repo.set_fraud_status(conn, tenant, report_id, status, actor, self._clock())
            self._audit.append(
                conn,
                tenant=tenant,
                actor=actor,
                action="fraud_report_status",
                target=f"fraud_report:{report_id}",
                details={"from": old.status, "to": status},
            )

        audited(self._engine, self._audit, work)
