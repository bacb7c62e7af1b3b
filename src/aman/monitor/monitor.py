"""The ``Monitor``: cheap event calls on the hot paths, detectors in memory, alerts in batches.

Hot-path calls (``inbound_message``, ``signature_failure``, ``verification_failed``,
``delivery_status``, ``staff_action``, ``inbound_text``, ``control_for``,
``reply_allowed``) take one uncontended lock, touch a few bounded in-memory
structures and never write to the database.  Findings are folded into pending
alerts (deduplicated by tenant + kind + subject); automatic throttles and
quarantines take effect in memory at once.  A background loop writes pending
alerts, controls (audited, actor ``monitor``) and fraud reports every
``flush_seconds`` in one transaction, then pushes new or escalated alerts to the
configured webhook.  The IsolationForest is retrained every ``retrain_seconds``
and rescored every ``score_seconds`` in its own thread; it stays quiet on ordinary
traffic (warm-up, calibrated threshold, deviation floor: see ``aman.monitor.forest``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from prometheus_client import Counter
from sqlalchemy import Connection, Engine

from aman.audit.service import AuditService
from aman.guard import Verdict, extract_urls
from aman.monitor.config import MonitorSettings
from aman.monitor.controls import Control, ControlBook
from aman.monitor.errors import MonitorInputError, UnknownTenantError
from aman.monitor.findings import (
    Finding,
    Severity,
    contact_subject,
    ip_subject,
    mask_ip,
    max_severity,
    number_subject,
)
from aman.monitor.forest import ForestModel, find_outliers, train
from aman.monitor.loops import controls_loop, flush_loop, forest_loop
from aman.monitor.push import AlertPusher
from aman.monitor.repository import Alert, MonitorRepository, PendingAlert
from aman.monitor.scanner import ScanJob, TextScanner
from aman.monitor.sentinels import SignatureDetector, StaffDetector
from aman.monitor.services import AlertService, ControlService, FraudReportService, audited
from aman.monitor.stats import KnownSet
from aman.monitor.traffic import TrafficDetector
from aman.security.blind_index import derive_tenant_key
from aman.security.redact import redact
from aman.storage.vault import Vault

__all__ = ["Monitor"]

log = logging.getLogger(__name__)

FINDINGS = Counter("aman_monitor_findings_total", "Detector findings by kind", ["kind"])
DROPPED = Counter(
    "aman_monitor_dropped_total", "Monitor work dropped because a bounded queue was full", ["what"]
)
_QUALITY_EVENTS = frozenset({"FLAGGED", "DOWNGRADE"})


def _text(value: object, name: str, limit: int = 64) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MonitorInputError(f"{name} must be a non-empty string of at most {limit} chars")
    return value


def _ts(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise MonitorInputError("ts must be epoch seconds")
    return float(value)


class Monitor:
    """Anomaly detection, alerts and automatic responses for one aman process."""

    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        audit: AuditService,
        settings: MonitorSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        extra_vaults: Iterable[Vault] = (),
    ) -> None:
        self.settings = s = settings or MonitorSettings()
        self.engine = engine
        self.audit = audit
        self.tenant = vault.tenant
        self.vaults: dict[str, Vault] = {vault.tenant: vault}
        for v in extra_vaults:
            self.vaults[v.tenant] = v
        self._clock = clock
        self._ip_key = derive_tenant_key(vault.master_key, vault.tenant, "monitor-address")
        self._lock = threading.Lock()
        self.traffic = TrafficDetector(s)
        self.signatures = SignatureDetector(s)
        self.staff = StaffDetector(s)
        self._known: dict[str, KnownSet] = {}
        self.repo = MonitorRepository(engine.dialect.name)
        self.book = ControlBook(s.release_grace_seconds)
        self.alerts = AlertService(engine, audit, self.repo, clock)
        self.controls = ControlService(
            engine,
            audit,
            self.repo,
            self.book,
            default_per_minute=s.throttle_per_minute,
            clock=clock,
        )
        self.fraud = FraudReportService(engine, audit, self.repo, self.vaults, clock)
        self.scanner = TextScanner(s.scan_queue, self._scanned)
        self.pusher: AlertPusher | None = None
        if s.webhook_url:
            self.pusher = AlertPusher(
                s.webhook_url,
                s.webhook_secret.encode(),
                queue_size=s.push_queue,
                attempts=s.push_attempts,
                base_delay=s.push_base_delay,
                max_delay=s.push_max_delay,
                timeout=s.push_timeout,
            )
        self.models: dict[str, ForestModel] = {}
        self._pending: dict[tuple[str, str, str], PendingAlert] = {}
        self._pending_controls: list[Control] = []
        self._pending_fraud: list[dict[str, Any]] = []
        self.dropped_alerts = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-io")
        self._ml = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-ml")

    # == hot path ===========================================================================
    def inbound_message(
        self,
        tenant: str,
        phone_number_id: str,
        contact_ix: str,
        ts: float,
        is_new_contact: bool | None = None,
    ) -> None:
        """A customer message arrived (call once per stored message).

        ``is_new_contact`` None lets the monitor decide with its bounded seen-filter
        (seeded at start from the most recently active contacts).
        """
        _text(tenant, "tenant")
        _text(phone_number_id, "phone_number_id")
        _text(contact_ix, "contact_ix")
        ts = _ts(ts)
        with self._lock:
            known = self._known.get(tenant)
            if known is None:
                known = self._known[tenant] = KnownSet(self.settings.known_contacts)
            seen = known.seen(contact_ix)
            new = (not seen) if is_new_contact is None else bool(is_new_contact)
            found = self.traffic.inbound(tenant, phone_number_id, contact_ix, ts, new)
            if found:
                self._record(found)

    def verification_failed(self, tenant: str, contact_ix: str, ts: float) -> None:
        """A step-up verification (PIN/OTP on the verify page) failed for this contact."""
        _text(tenant, "tenant")
        _text(contact_ix, "contact_ix")
        ts = _ts(ts)
        with self._lock:
            found = self.traffic.verification_failed(tenant, contact_ix, ts)
            if found:
                self._record(found)

    def signature_failure(self, ts: float, client_ip: str) -> None:
        """A webhook POST failed the HMAC check (``client_ip``: the peer address)."""
        ts = _ts(ts)
        ip = client_ip if isinstance(client_ip, str) and client_ip else "unknown"
        subject = ip_subject(self._ip_key, ip[:64])
        with self._lock:
            found = self.signatures.failure(self.tenant, ts, subject, mask_ip(ip))
            if found:
                self._record(found)

    def delivery_status(
        self,
        tenant: str,
        phone_number_id: str,
        status: str,
        error_code: int | None,
        ts: float,
    ) -> None:
        """A delivery status webhook for one of our messages (sent/delivered/read/failed)."""
        _text(tenant, "tenant")
        _text(phone_number_id, "phone_number_id")
        _text(status, "status", 16)
        if error_code is not None and (
            isinstance(error_code, bool) or not isinstance(error_code, int)
        ):
            raise MonitorInputError("error_code must be an int or None")
        ts = _ts(ts)
        with self._lock:
            found = self.traffic.delivery(tenant, phone_number_id, status, error_code, ts)
            if found:
                self._record(found)

    def staff_action(self, tenant: str, actor: str, action: str, client_ip: str, ts: float) -> None:
        """A staff member did something (login, export, opened a conversation…)."""
        _text(tenant, "tenant")
        _text(actor, "actor", 128)
        _text(action, "action")
        ts = _ts(ts)
        ip = client_ip if isinstance(client_ip, str) and client_ip else "unknown"
        address = ip_subject(self._ip_key, ip[:64])
        with self._lock:
            found = self.staff.action(tenant, actor, action, address, mask_ip(ip), ts)
            if found:
                self._record(found)

    def inbound_text(
        self,
        tenant: str,
        contact_ix: str,
        text: str,
        own_domains: Sequence[str],
        ts: float,
    ) -> bool:
        """Queue a customer's text for the phishing/fraud-report scan (False: queue full)."""
        _text(tenant, "tenant")
        _text(contact_ix, "contact_ix")
        if not isinstance(text, str):
            raise MonitorInputError("text must be a string")
        job = ScanJob(tenant, contact_ix, text, tuple(own_domains), _ts(ts))
        if not self.scanner.offer(job):
            DROPPED.labels("scan").inc()
            return False
        return True

    def quality_update(self, tenant: str, phone_number_id: str, event: str, ts: float) -> None:
        """Meta's ``phone_number_quality_update`` webhook (FLAGGED / DOWNGRADE alert)."""
        _text(tenant, "tenant")
        _text(phone_number_id, "phone_number_id")
        ev = _text(event, "event", 32).upper()
        if ev not in _QUALITY_EVENTS:
            return
        self._number_alert(
            tenant, phone_number_id, "number_quality_update", "high", ts, {"event": ev}
        )

    def sending_halted(self, tenant: str, phone_number_id: str, code: int, ts: float) -> None:
        """Meta refused a send with an error no retry mends (``outbox.graph.ALERT_CODES``)."""
        _text(tenant, "tenant")
        _text(phone_number_id, "phone_number_id")
        details = {"error_code": int(code)}
        self._number_alert(tenant, phone_number_id, "sending_halted", "critical", ts, details)

    def _number_alert(
        self,
        tenant: str,
        phone_number_id: str,
        kind: str,
        severity: Severity,
        ts: float,
        details: dict[str, Any],
    ) -> None:
        """Record one alert about a business number (inputs already checked)."""
        finding = Finding(tenant, kind, severity, number_subject(phone_number_id), _ts(ts), details)
        with self._lock:
            self._record((finding,))

    def expect_burst(self, tenant: str, phone_number_id: str, until: float) -> None:
        """A broadcast is going out: no number-level volume alerts until ``until``."""
        with self._lock:
            self.traffic.expect_burst(tenant, phone_number_id, _ts(until), self._clock())

    def control_for(self, tenant: str, contact_ix: str) -> Control | None:
        """The contact's active throttle/quarantine, if any (O(1), no database)."""
        return self.book.get(tenant, contact_ix, self._clock())

    def reply_allowed(self, tenant: str, contact_ix: str, ts: float | None = None) -> bool:
        """May the bot answer now?  False when quarantined or over the throttle budget."""
        return self.book.reply_allowed(tenant, contact_ix, self._clock() if ts is None else ts)

    # == findings -> pending alerts / controls (lock held) =====================================
    def _record(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            FINDINGS.labels(f.kind).inc()
            self._pend(f.tenant, f.kind, f.subject, f.severity, f.ts, f.details)
            if f.response is not None and f.contact_ix is not None:
                self._respond(f)

    def _pend(
        self,
        tenant: str,
        kind: str,
        subject: str,
        severity: Severity,
        ts: float,
        details: Mapping[str, Any],
        count: int = 1,
    ) -> None:
        key = (tenant, kind, subject)
        p = self._pending.get(key)
        if p is None:
            if len(self._pending) >= self.settings.max_pending_alerts:
                self.dropped_alerts += 1
                DROPPED.labels("alert").inc()
                return
            self._pending[key] = PendingAlert(
                tenant, kind, subject, severity, ts, ts, count, details
            )
            return
        p.count += count
        p.first_seen = min(p.first_seen, ts)
        p.last_seen = max(p.last_seen, ts)
        p.severity = max_severity(p.severity, severity)
        p.details = details

    def _respond(self, f: Finding) -> None:
        s = self.settings
        ix = f.contact_ix
        if ix is None or self.book.in_grace(f.tenant, ix, f.ts):
            return
        current = self.book.get(f.tenant, ix, f.ts)
        if current is not None and (current.quarantined or f.response == "throttle"):
            return
        quarantine = f.response == "quarantine"
        control = Control(
            f.tenant,
            ix,
            "quarantined" if quarantine else "throttled",
            f.ts + (s.quarantine_seconds if quarantine else s.throttle_seconds),
            s.throttle_per_minute,
            f"automatic: {f.kind}",
            "monitor",
            f.ts,
        )
        self.book.put(control, saved=False)
        self._pending_controls.append(control)
        if quarantine:
            self._pend(
                f.tenant,
                "contact_quarantined",
                contact_subject(ix),
                "high",
                f.ts,
                {"cause": f.kind, "until": control.until},
            )

    # == background scanner callback ===========================================================
    def _scanned(self, job: ScanJob, verdict: Verdict, is_report: bool) -> None:
        # The scan found the links of the whole text already; only a text longer than a
        # WhatsApp message is looked at again, in its first 4096 characters.
        urls = verdict.urls if len(job.text) <= 4096 else None
        has_url = bool(urls if urls is not None else extract_urls(job.text[:4096]))
        phishing = verdict.verdict == "phishing" and not is_report
        row: dict[str, Any] | None = None
        if is_report:
            vault = self.vaults.get(job.tenant)
            if vault is None:
                raise UnknownTenantError(f"no vault for tenant {job.tenant[:64]!r}")
            ref = secrets.token_hex(16)
            clean = redact(job.text[:4096]).text
            row = {
                "ref": ref,
                "tenant": job.tenant,
                "contact_ix": job.contact_ix,
                "text_enc": vault.seal(
                    "fraud_reports", "text", ref, clean.encode(), contact=job.contact_ix
                ),
                "created_at": job.ts,
                "status": "open",
            }
        subject = contact_subject(job.contact_ix)
        with self._lock:
            self.traffic.text_seen(
                job.tenant,
                job.contact_ix,
                len(job.text),
                has_url,
                phishing,
                job.ts,
            )
            if row is not None:
                self._pending_fraud.append(row)
                self._record(
                    (
                        Finding(
                            job.tenant,
                            "fraud_report",
                            "medium",
                            subject,
                            job.ts,
                            {"score": round(verdict.score, 3)},
                        ),
                    )
                )
            elif phishing:
                self._record(
                    (
                        Finding(
                            job.tenant,
                            "phishing_inbound",
                            "medium",
                            subject,
                            job.ts,
                            {
                                "score": round(verdict.score, 3),
                                "reasons": list(verdict.reasons[:10]),
                            },
                        ),
                    )
                )

    # == writing ===============================================================================
    def flush(self) -> list[Alert]:
        """Write pending alerts, controls and fraud reports in one transaction (sync).

        Returns the alerts that are new or escalated.  On failure everything is put
        back (within the caps) for the next attempt and the error is raised.
        """
        with self._lock:
            pending = list(self._pending.values())
            controls = self._pending_controls
            fraud = self._pending_fraud
            self._pending, self._pending_controls, self._pending_fraud = {}, [], []
        if not (pending or controls or fraud):
            return []

        def work(conn: Connection) -> list[Alert]:
            changed = self.repo.merge_alerts(conn, pending, self.settings.dedupe_window_seconds)
            self.controls.store(conn, controls)
            self.repo.add_fraud_reports(conn, fraud)
            return changed

        try:
            changed: list[Alert] = audited(self.engine, self.audit, work)
        except Exception:
            with self._lock:
                for p in pending:
                    self._pend(
                        p.tenant, p.kind, p.subject, p.severity, p.first_seen, p.details, p.count
                    )
                self._pending_controls[:0] = controls
                self._pending_fraud[:0] = fraud[: self.settings.max_pending_alerts]
            raise
        self.book.mark_saved(controls)
        for alert in changed:
            log.warning(
                "alert %s: %s (%s) on %s",
                alert.id,
                alert.kind,
                alert.severity,
                alert.subject.split(":", 1)[0],
            )
        return changed

    def sweep(self) -> int:
        """Drop idle detector state (bounded work per call)."""
        now = self._clock()
        with self._lock:
            return self.traffic.sweep(now) + self.signatures.sweep(now) + self.staff.sweep(now)

    def seed_known_contacts(self) -> int:
        """Fill the seen-filter with the most recently active contacts of each tenant."""
        total = 0
        for tenant in self.vaults:
            with self.engine.connect() as conn:
                ixs = self.repo.recent_contacts(conn, tenant, self.settings.known_contacts)
            with self._lock:
                known = self._known.setdefault(tenant, KnownSet(self.settings.known_contacts))
                for ix in reversed(ixs):
                    known.seen(ix)
            total += len(ixs)
        return total

    # == IsolationForest =======================================================================
    def train(self, tenant: str) -> ForestModel | None:
        """Retrain the tenant's forest on its current contacts, then score them (sync)."""
        now = self._clock()
        ixs, matrix = self._features(tenant, now)
        model = train(tenant, matrix, self.settings, now=now)
        if model is None:
            return None
        self.models[tenant] = model
        self._flag(model, ixs, matrix, now)
        return model

    def score(self, tenant: str) -> int:
        """Score current contacts with the last model; returns how many were flagged."""
        model = self.models.get(tenant)
        if model is None:
            return 0
        now = self._clock()
        ixs, matrix = self._features(tenant, now)
        return self._flag(model, ixs, matrix, now)

    def _features(self, tenant: str, now: float) -> tuple[list[str], Any]:
        with self._lock:
            keys = self.traffic.contact_keys(tenant)
        ixs: list[str] = []
        parts = []
        for i in range(0, max(len(keys), 1), 2000):  # short lock holds, hot path keeps going
            with self._lock:
                chunk_ixs, chunk = self.traffic.feature_rows(tenant, now, keys[i : i + 2000])
            ixs.extend(chunk_ixs)
            parts.append(chunk)
        return ixs, np.vstack(parts)

    def _flag(self, model: ForestModel, ixs: list[str], matrix: Any, now: float) -> int:
        outliers = find_outliers(model, ixs, matrix, self.settings)
        findings = [
            Finding(
                model.tenant,
                "behaviour_outlier",
                "low",
                contact_subject(o.contact_ix),
                now,
                {
                    "score": o.score,
                    "threshold": round(model.threshold, 3),
                    "features": o.features,
                    "trained_on": model.samples,
                },
            )
            for o in outliers
        ]
        if findings:
            with self._lock:
                self._record(findings)
        return len(findings)

    def tenants_seen(self) -> list[str]:
        with self._lock:
            return sorted({t for (t, _), _c in self.traffic.contacts.items()})

    # == lifecycle =============================================================================
    async def start(self) -> None:
        """Load controls, seed the seen-filter, start the scanner, pusher and loops."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._stop.clear()
        await loop.run_in_executor(self._io, self.controls.load)
        await loop.run_in_executor(self._io, self.seed_known_contacts)
        self.scanner.start()
        if self.pusher is not None:
            await self.pusher.start()
        self._tasks = [
            asyncio.create_task(flush_loop(self, self._stop, self._io)),
            asyncio.create_task(controls_loop(self, self._stop, self._io)),
            asyncio.create_task(forest_loop(self, self._stop, self._ml)),
        ]

    async def stop(self) -> None:
        """Stop the loops, scan what is queued, write what is pending, drain pushes.

        A stopped monitor cannot be started again (its executors are shut down).
        """
        if self._stop.is_set():
            return
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io, self.scanner.stop)
        try:
            changed = await loop.run_in_executor(self._io, self.flush)
            self.push(changed)
        except Exception as exc:  # noqa: BLE001 - best effort on the way out
            log.warning("monitor: final flush failed: %s", type(exc).__name__)
        if self.pusher is not None:
            await self.pusher.stop()
        self._io.shutdown(wait=True)
        self._ml.shutdown(wait=False, cancel_futures=True)

    def push(self, alerts: Sequence[Alert]) -> None:
        """Queue new or escalated alerts for the webhook (event-loop thread)."""
        if self.pusher is None:
            return
        for alert in alerts:
            if not self.pusher.offer({"event": "alert", "alert": alert.to_dict()}):
                DROPPED.labels("push").inc()
