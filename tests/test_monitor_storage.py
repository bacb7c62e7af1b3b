"""aman.monitor storage: migration = models, alert dedupe, audited status changes, controls,
fraud reports, batched writes and the seen-filter; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from aman.audit.service import AuditService
from aman.monitor import (
    AlertNotFoundError,
    ControlError,
    InvalidAlertTransitionError,
    Monitor,
    MonitorInputError,
    MonitorSettings,
)
from aman.monitor.models import AlertRow, ContactControlRow, FraudReportRow
from aman.storage.models import metadata
from aman.storage.vault import Vault

T = "default"
PN = "106540352242922"
MY_TABLES = (AlertRow.__table__, ContactControlRow.__table__, FraudReportRow.__table__)


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def master() -> bytes:
    return secrets.token_bytes(32)


def make_monitor(engine: Engine, master: bytes, clock: Clock, **settings: object) -> Monitor:
    vault = Vault.open_or_create(engine, T, master)
    return Monitor(
        engine,
        vault,
        AuditService(master),
        MonitorSettings(**settings),
        clock=clock,  # type: ignore[arg-type]
    )


def ix(n: int) -> str:
    return secrets.token_hex(16) if n < 0 else f"{n:08x}" + "c0ffee" * 4


def audit_rows(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("select actor, action, target, details from audit_entries order by seq")
            )
        ]


def test_migration_creates_exactly_the_model_tables(engine: Engine) -> None:
    insp = inspect(engine)
    for table in MY_TABLES:
        cols = {c["name"]: c for c in insp.get_columns(table.name)}
        assert set(cols) == {c.name for c in table.columns}, table.name
        for col in table.columns:
            assert cols[col.name]["nullable"] == col.nullable, (table.name, col.name)
        pk = insp.get_pk_constraint(table.name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns]
        indexes = {i["name"] for i in insp.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes
    mine = {t.name for t in MY_TABLES}

    def only_mine(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in mine

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": only_mine, "compare_type": True}
        )
        assert compare_metadata(ctx, metadata) == []


def test_findings_merge_into_one_alert_until_resolved(engine: Engine, master: bytes) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock, dedupe_window_seconds=600.0)
    for k in range(12):
        m.signature_failure(clock.now + k, "203.0.113.9")
    new = m.flush()
    assert [a.kind for a in new] == ["signature_failure_source"]
    first = new[0]
    assert first.count == 1 and first.subject.startswith("ip:")
    assert "203.0.113.9" not in str(first.to_dict()) and first.details["address"] == "203.0.113.x"
    clock.now += 120  # next minute: another finding, same kind and subject -> same alert
    for k in range(12):
        m.signature_failure(clock.now + k, "203.0.113.9")
    assert m.flush() == []
    (merged,) = m.alerts.list(T, kind="signature_failure_source")
    assert merged.id == first.id and merged.count == 2 and merged.last_seen > first.last_seen
    acked = m.alerts.acknowledge(T, first.id, "siti")
    assert acked.status == "acknowledged" and acked.acknowledged_by == "siti"
    clock.now += 120
    for k in range(12):
        m.signature_failure(clock.now + k, "203.0.113.9")
    m.flush()
    assert m.alerts.get(T, first.id).count == 3  # acknowledged alerts still absorb repeats
    resolved = m.alerts.resolve(T, first.id, "siti")
    assert resolved.status == "resolved" and resolved.resolved_by == "siti"
    clock.now += 120
    for k in range(12):
        m.signature_failure(clock.now + k, "203.0.113.9")
    (fresh,) = m.flush()
    assert fresh.id != first.id and fresh.count == 1
    clock.now += 3600  # outside the window: a new alert even though the old one is open
    for k in range(12):
        m.signature_failure(clock.now + k, "203.0.113.9")
    (later,) = m.flush()
    assert later.id not in (first.id, fresh.id)
    assert m.alerts.open_counts(T)["high"] == 2
    actions = [(a, act, tgt) for a, act, tgt, _ in audit_rows(engine)]
    assert actions == [
        ("siti", "alert_acknowledged", f"alert:{first.id}"),
        ("siti", "alert_resolved", f"alert:{first.id}"),
    ]


def test_alert_service_rejects_bad_requests(engine: Engine, master: bytes) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock)
    for k in range(12):
        m.signature_failure(clock.now + k, "198.51.100.1")
    (alert,) = m.flush()
    m.alerts.resolve(T, alert.id, "siti")
    with pytest.raises(InvalidAlertTransitionError):
        m.alerts.acknowledge(T, alert.id, "siti")
    with pytest.raises(InvalidAlertTransitionError):
        m.alerts.resolve(T, alert.id, "siti")
    with pytest.raises(AlertNotFoundError):
        m.alerts.get(T, alert.id + 999)
    with pytest.raises(AlertNotFoundError):
        m.alerts.get("other-tenant", alert.id)  # tenants never see each other's alerts
    with pytest.raises(MonitorInputError):
        m.alerts.list(T, status="closed")
    with pytest.raises(MonitorInputError):
        m.alerts.list(T, limit=0)
    with pytest.raises(MonitorInputError):
        m.alerts.acknowledge(T, alert.id, "")
    assert len(audit_rows(engine)) == 1  # refused requests leave no audit entry


def test_staff_quarantine_and_release_are_audited(engine: Engine, master: bytes) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock)
    c = ix(7)
    assert m.control_for(T, c) is None and m.reply_allowed(T, c)
    q = m.controls.quarantine(T, c, actor="siti", reason="abusive messages", seconds=3600)
    assert m.control_for(T, c) == q and q.quarantined and not m.reply_allowed(T, c)
    assert [x.contact_ix for x in m.controls.list(T)] == [c]
    other = make_monitor(engine, master, clock)  # another process picks it up on reload
    assert other.control_for(T, c) is None
    other.controls.load()
    assert other.control_for(T, c) is not None
    released = m.controls.release(T, c, actor="budi", reason="customer verified by phone")
    assert released.mode == "quarantined" and m.control_for(T, c) is None
    with pytest.raises(ControlError):
        m.controls.release(T, c, actor="budi", reason="again")
    with pytest.raises(ControlError):
        m.controls.quarantine(T, c, actor="siti", reason="spam from 081234567890")
    with pytest.raises(MonitorInputError):
        m.controls.quarantine(T, "+6281234567890", actor="siti", reason="x")
    th = m.controls.throttle(T, c, actor="siti", reason="noisy", per_minute=2, seconds=60)
    assert [m.reply_allowed(T, c) for _ in range(3)] == [True, True, False]
    clock.now += 61  # throttle expired
    assert m.control_for(T, c) is None and th.until == pytest.approx(clock.now - 1)
    rows = audit_rows(engine)
    assert [(a, act) for a, act, _t, _d in rows] == [
        ("siti", "contact_quarantined"),
        ("budi", "contact_released"),
        ("siti", "contact_throttled"),
    ]
    assert all(t == f"contact:{c[:12]}" for _a, _act, t, _d in rows)
    assert all("0812" not in d for *_x, d in rows)
    assert AuditService(master).verify(engine).ok


def test_automatic_quarantine_is_immediate_persisted_and_audited(
    engine: Engine, master: bytes
) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock)
    c = ix(9)
    for k in range(5):
        m.verification_failed(T, c, clock.now + k)
    control = m.control_for(T, c)
    assert control is not None and control.quarantined and control.set_by == "monitor"
    with engine.connect() as conn:  # nothing written yet: the hot path never writes
        assert conn.execute(select(ContactControlRow)).all() == []
    kinds = sorted(a.kind for a in m.flush())
    assert kinds == ["contact_quarantined", "verification_bruteforce"]
    (stored,) = m.controls.list(T)
    assert stored.mode == "quarantined" and stored.reason == "automatic: verification_bruteforce"
    assert [(a, act) for a, act, _t, _d in audit_rows(engine)] == [
        ("monitor", "contact_quarantined")
    ]
    m.controls.load()  # a reload keeps it (and would keep it even before the flush)
    assert m.control_for(T, c) is not None
    m.controls.release(T, c, actor="siti", reason="false positive")
    for k in range(10):  # staff decided: no automatic re-quarantine during the grace period
        m.verification_failed(T, c, clock.now + 1000 + k)
    assert m.control_for(T, c) is None


def test_fraud_reports_are_sealed_redacted_and_listed_for_staff(
    engine: Engine, master: bytes
) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock)
    c = ix(3)
    report = "tadi ada yg ngaku CS minta PIN saya 123456, ini penipuan ya?"
    phish = "Akun anda diblokir, verifikasi di http://bca-verifikasi.xyz/login sekarang"
    assert m.inbound_text(T, c, report, ["bank.example.co.id"], clock.now)
    assert m.inbound_text(T, ix(4), phish, ["bank.example.co.id"], clock.now)
    assert m.inbound_text(T, ix(5), "halo kak, paket saya sudah sampai?", [], clock.now)
    assert m.scanner.drain() == 3
    kinds = sorted(a.kind for a in m.flush())
    assert kinds == ["fraud_report", "phishing_inbound"]
    with engine.connect() as conn:
        blob = conn.execute(select(FraudReportRow.text_enc)).scalar_one()
    assert b"penipuan" not in blob and b"123456" not in blob
    (fr,) = m.fraud.list(T)
    assert fr.contact_ix == c and "penipuan" in fr.text and "123456" not in fr.text
    (ph,) = m.alerts.list(T, kind="phishing_inbound")
    assert ph.subject == f"contact:{ix(4)}" and ph.details["score"] >= 0.7
    assert "bca-verifikasi" not in ph.subject
    m.fraud.set_status(T, fr.id, "reviewed", "siti")
    assert m.fraud.list(T) == [] and m.fraud.list(T, status="reviewed")[0].reviewed_by == "siti"
    assert audit_rows(engine)[-1][:3] == ("siti", "fraud_report_status", f"fraud_report:{fr.id}")


def test_flush_failure_keeps_pending_work(engine: Engine, master: bytes) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock)
    for k in range(12):
        m.signature_failure(clock.now + k, "192.0.2.1")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE alerts RENAME TO alerts_gone"))
    with pytest.raises(Exception):  # noqa: B017 - any database error
        m.flush()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE alerts_gone RENAME TO alerts"))
    (alert,) = m.flush()
    assert alert.kind == "signature_failure_source"


def test_seen_filter_is_seeded_from_known_contacts(engine: Engine, master: bytes) -> None:
    clock = Clock()
    m = make_monitor(engine, master, clock, new_contacts_min=5)
    vault = m.vaults[T]
    old = [vault.contact_index(f"62812000{k:05d}") for k in range(10)]
    with engine.begin() as conn:
        for k, c in enumerate(old):
            conn.execute(
                text(
                    "insert into contacts (tenant, contact_ix, wa_id_enc, created_at, "
                    "last_inbound_at, opted_out) values (:t, :c, :w, :a, :a, false)"
                ),
                {"t": T, "c": c, "w": base64.b64encode(b"x"), "a": clock.now - k},
            )
    assert m.seed_known_contacts() == 10
    for k, c in enumerate(old):  # returning customers are not a "new contact" wave
        m.inbound_message(T, PN, c, clock.now + k)
    assert m.flush() == []
    for k in range(10):
        m.inbound_message(T, PN, vault.contact_index(f"62813000{k:05d}"), clock.now + 20 + k)
    assert [a.kind for a in m.flush()] == ["new_contact_burst"]
    with pytest.raises(MonitorInputError):
        m.inbound_message(T, PN, "", clock.now)
    with pytest.raises(MonitorInputError):
        m.delivery_status(T, PN, "failed", "131048", clock.now)  # type: ignore[arg-type]
