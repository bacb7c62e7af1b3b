"""The security self-assessment behind ``aman report security``: gather facts, run the checklist.

``assess(settings, engine)`` never raises for a broken deployment: an unreachable
database, a missing master key or a missing table become failing checks with
the reason as evidence.  The report (a JSON-ready dict, schema
``aman.security-report/1``) holds only configuration facts, counts and ids:
no secrets, phone numbers or message text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from aman import __version__
from aman.audit.service import AuditService
from aman.config import ConfigError, Settings
from aman.monitor.assessment_repository import AssessmentRepository, KeyFact, StaffFact
from aman.monitor.config import MonitorSettings
from aman.monitor.errors import MonitorError
from aman.monitor.repository import MonitorRepository
from aman.security.ledger import LedgerError

__all__ = ["SCHEMA", "Check", "Facts", "Status", "assess", "gather"]

SCHEMA = "aman.security-report/1"
Status = Literal["pass", "fail", "not_applicable"]


@dataclass(frozen=True, slots=True)
class Check:
    """One checklist item: ``id``, ASVS 5.0 ``chapter``, what is required, outcome, evidence."""

    id: str
    chapter: str
    title: str
    status: Status
    evidence: str

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "chapter": self.chapter,
            "title": self.title,
            "status": self.status,
            "evidence": self.evidence,
        }


@dataclass
class Facts:
    """Everything the checks look at, gathered once."""

    settings: Settings
    now: float
    dialect: str | None = None
    db_error: str | None = None
    tables: dict[str, set[str]] = field(default_factory=dict)
    master_key: bytes | None = None
    master_error: str | None = None
    monitor: MonitorSettings | None = None
    monitor_error: str | None = None
    keys: list[KeyFact] = field(default_factory=list)
    staff: StaffFact | None = None
    session_hours: float | None = None
    tokens: tuple[int, int] | None = None
    inbox_sample: list[bytes] = field(default_factory=list)
    unscoped_tables: list[str] = field(default_factory=list)
    alerts_open: dict[str, int] | None = None
    audit_ok: bool | None = None
    audit_entries: int = 0
    audit_heads: int = 0
    audit_problem: str | None = None


def gather(
    settings: Settings,
    engine: Engine | None,
    *,
    monitor_settings: MonitorSettings | None = None,
    now: float | None = None,
    unavailable: str | None = None,
) -> Facts:
    facts = Facts(settings=settings, now=time.time() if now is None else now)
    try:
        facts.master_key = settings.master_key_bytes()
    except ConfigError as exc:
        facts.master_error = str(exc)
    if monitor_settings is not None:
        facts.monitor = monitor_settings
    else:
        try:
            facts.monitor = MonitorSettings.from_env()
        except MonitorError as exc:
            facts.monitor_error = str(exc)
    if engine is None:
        facts.db_error = unavailable or "no database configured"
        return facts
    try:
        with engine.connect() as conn:
            facts.dialect = conn.dialect.name
            repo = AssessmentRepository(conn)
            facts.tables = repo.tables
            if "data_keys" in facts.tables:
                facts.keys = repo.keys()
            facts.staff = repo.staff()
            facts.session_hours = repo.longest_session_hours(facts.now)
            facts.tokens = repo.api_tokens(facts.now, 366.0)
            if "inbox" in facts.tables:
                facts.inbox_sample = repo.inbox_sample()
            facts.unscoped_tables = repo.encrypted_tables_without_tenant()
            if "alerts" in facts.tables:
                facts.alerts_open = MonitorRepository(facts.dialect).open_counts(conn)
    except SQLAlchemyError as exc:
        facts.db_error = f"database unreachable or unreadable: {type(exc).__name__}"
        return facts
    if facts.master_key is not None and "audit_entries" in facts.tables:
        witness = Path(settings.audit_witness) if settings.audit_witness else None
        service = AuditService(facts.master_key, witness=witness)
        try:
            report = service.verify(engine, witnessed=service.read_witness())
        except (LedgerError, SQLAlchemyError, OSError, ValueError) as exc:
            facts.audit_ok, facts.audit_problem = False, f"{type(exc).__name__}: {exc}"[:200]
        else:
            facts.audit_ok = report.ok
            facts.audit_entries, facts.audit_heads = report.entries, report.heads
            facts.audit_problem = report.problem
    return facts


def assess(
    settings: Settings,
    engine: Engine | None,
    *,
    monitor_settings: MonitorSettings | None = None,
    now: float | None = None,
    unavailable: str | None = None,
) -> dict[str, Any]:
    """Run every check and return the report (see ``SCHEMA``).

    ``unavailable`` explains why ``engine`` is None (shown as evidence).
    """
    from aman.monitor.checklist import run_checks

    facts = gather(
        settings, engine, monitor_settings=monitor_settings, now=now, unavailable=unavailable
    )
    checks = run_checks(facts)
    summary = {
        s: sum(1 for c in checks if c.status == s) for s in ("pass", "fail", "not_applicable")
    }
    staff = facts.staff
    return {
        "schema": SCHEMA,
        "generated_at": datetime.fromtimestamp(facts.now, UTC).isoformat(timespec="seconds"),
        "aman_version": __version__,
        "tenant": settings.tenant,
        "database": facts.dialect or "unreachable",
        "summary": summary | {"total": len(checks)},
        "checks": [c.to_dict() for c in checks],
        "two_factor": {
            "staff_accounts": None if staff is None else staff.users,
            "with_totp": None if staff is None else staff.with_totp,
            "coverage": None
            if staff is None or staff.users == 0
            else round(staff.with_totp / staff.users, 4),
            "note": _two_factor_note(facts),
        },
        "keys": [
            {
                "key_id": k.key_id,
                "tenant": k.tenant,
                "purpose": k.purpose,
                "active": k.active,
                "age_days": round(max(facts.now - k.created_at, 0.0) / 86400.0, 1),
            }
            for k in facts.keys
        ],
        "audit": {
            "verified": facts.audit_ok,
            "entries": facts.audit_entries,
            "signed_heads": facts.audit_heads,
            "problem": facts.audit_problem,
        },
        "alerts": {
            "open_by_severity": facts.alerts_open,
            "open_total": None if facts.alerts_open is None else sum(facts.alerts_open.values()),
        },
    }


def _two_factor_note(facts: Facts) -> str:
    staff = facts.staff
    if facts.db_error:
        return f"unknown: {facts.db_error}"
    if staff is None or staff.users == 0:
        return "no staff accounts yet"
    return f"{staff.with_totp} of {staff.users} active staff accounts use TOTP"
