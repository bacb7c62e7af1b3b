"""Wires one aman process together: storage, vault, receiver, workers, sender, reaper.

``Runtime`` owns the background tasks of the roles this process plays
(``web``, ``worker``, ``sender``, ``scheduler`` or ``all``) and starts and
stops them with the ASGI lifespan.  Within one process the stages wake each
other directly (webhook commit -> inbox worker -> sender); across processes
they fall back to polling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from aman.accounts.context import AccountsConfig, VaultCache
from aman.accounts.passwords import Argon2Params
from aman.accounts.service import Accounts
from aman.adapters.banking import default_bank
from aman.aio import sleep_or_stop
from aman.audit.service import AuditService
from aman.campaigns.scheduler import run_due
from aman.campaigns.template_events import process_template_events
from aman.config import Settings
from aman.engine.bot import Bot
from aman.engine.flows.switches import FlowSwitches, SwitchedBot
from aman.inbox.repository import InboxRepository
from aman.inbox.team import TeamInbox
from aman.inbox.worker import InboxWorker
from aman.monitor.config import MonitorSettings
from aman.monitor.monitor import Monitor
from aman.monitor.taps import GatedBot, observe_webhook
from aman.outbox.graph import GraphClient
from aman.outbox.repository import OutboxRepository
from aman.outbox.retry import RetryPolicy
from aman.outbox.sender import Sender
from aman.privacy import DataRights, RetentionPolicy, purge
from aman.scheduler.timers import TimerRepository
from aman.storage import workers
from aman.storage.db import dialect_of, make_engine
from aman.storage.migrate import upgrade
from aman.storage.notify import PgListener
from aman.storage.vault import Vault, open_keystore
from aman.verify.service import VerificationService
from aman.webhook.ingest import Ingestor
from aman.webhook.types import ParsedWebhook

__all__ = ["ROLES", "Runtime"]

log = logging.getLogger(__name__)
ROLES = ("all", "web", "worker", "sender", "scheduler")


@dataclass
class Runtime:
    """Everything one process runs, built from ``Settings``."""

    settings: Settings
    bot: Bot
    role: str = "all"
    monitor_settings: MonitorSettings | None = None
    engine: Engine = field(init=False)
    dialect: str = field(init=False)
    vault: Vault = field(init=False)
    audit: AuditService = field(init=False)
    timers: TimerRepository = field(init=False)
    team: TeamInbox = field(init=False)
    monitor: Monitor = field(init=False)
    accounts: Accounts = field(init=False)
    flow_switches: FlowSwitches = field(init=False)
    rights: DataRights = field(init=False)
    verification: VerificationService = field(init=False)
    listener: PgListener | None = field(init=False, default=None)
    ingestor: Ingestor | None = field(init=False, default=None)
    inbox_worker: InboxWorker | None = field(init=False, default=None)
    sender: Sender | None = field(init=False, default=None)
    worker_id: int = field(init=False, default=0)
    # How often our worker row was reaped and registered again (SQLite may hand the
    # same id out again, so the id alone does not tell a new registration apart).
    incarnation: int = field(init=False, default=0)
    # Our last committed heartbeat: the sender checks it before each Graph API request.
    liveness: workers.Liveness = field(init=False)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    _keys_checked: float = field(init=False, default=0.0)
    _retention_ran: float = field(init=False, default=0.0)
    # Since when housekeeping has seen the database without a break (None: not yet).
    _healthy_since: float | None = field(init=False, default=None)
    # Since when the database has been unreachable (None: it is not, as far as we know).
    _outage_since: float | None = field(init=False, default=None)
    # After an outage, uncertain sends are held back until then (statuses come late).
    _hold_until: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}: choose one of {', '.join(ROLES)}")
        s = self.settings
        self.liveness = workers.Liveness(s.worker_stale_seconds)
        master = s.master_key_bytes()
        self.dialect = dialect_of(s.database_url)
        # Hot-path writers keep a connection each (storage.db.PinnedConnection).
        self.engine = make_engine(s.database_url, pool_size=10)
        # Built once: housekeeping runs every few seconds for the life of the process.
        self._inbox_repo = InboxRepository(self.dialect)
        self._outbox_repo = OutboxRepository(self.dialect)
        upgrade(self.engine)
        keystore = open_keystore(s.keystore_url)
        self.vault = Vault.open_or_create(self.engine, s.tenant, master, keystore)
        self.audit = AuditService(
            master, witness=Path(s.audit_witness) if s.audit_witness else None
        )
        self.timers = TimerRepository(self.dialect, self.vault)
        self.monitor = Monitor(
            self.engine, self.vault, self.audit, self.monitor_settings or MonitorSettings.from_env()
        )
        # Flows an admin switched off do not start; quarantined contacts get no bot
        # replies; throttled ones a per-minute budget.
        self.flow_switches = FlowSwitches(self.engine, self.audit)
        switched = SwitchedBot(self.bot, self.flow_switches, s.tenant)
        self.bot = GatedBot(switched, self.monitor, self.vault.contact_index, s.tenant)
        self.rights = DataRights(self.engine, self.vault, self.audit, erasure_grace=s.erasure_grace)
        self.verification = VerificationService(
            self.engine,
            self.vault,
            self.audit,
            self.dialect,
            default_bank().authenticate,
            wake_worker=self._wake_worker,
            on_failure=self.monitor.verification_failed,
        )
        vaults = VaultCache(self.engine, master, keystore)
        vaults.add(self.vault)
        self.accounts = Accounts(
            self.engine,
            master,
            self.audit,
            config=AccountsConfig(
                public_url=s.public_url,
                argon2=Argon2Params(s.argon2_memory_kib, s.argon2_time_cost),
            ),
            vaults=vaults,
        )
        self.team = TeamInbox(
            self.engine,
            self.vault,
            self.audit,
            self.dialect,
            allowed_domains=self.allowed_domains,
            wake_worker=self._wake_worker,
            wake_sender=self._wake_sender,
        )

    def allowed_domains(self) -> tuple[str, ...]:
        """Domains outbound messages may link to: the configured ones and our own host."""
        host = urlsplit(self.settings.public_url).hostname or ""
        return tuple(
            dict.fromkeys(
                (*self.settings.allowed_domains, host) if host else self.settings.allowed_domains
            )
        )

    def _has(self, role: str) -> bool:
        return self.role in ("all", role)

    async def start(self) -> None:
        s = self.settings
        with self.engine.begin() as conn:
            self.worker_id = workers.register(conn, self.role)
        await self.monitor.start()
        wid = lambda: self.worker_id  # noqa: E731 - read at use: it changes if re-registered
        if self._has("worker"):
            self.inbox_worker = InboxWorker(
                engine=self.engine,
                vault=self.vault,
                bot=self.bot,
                dialect=self.dialect,
                worker_id=wid,
                batch=s.worker_batch,
                mark_read=s.mark_read,
                poll_seconds=s.poll_seconds,
                on_outbox=self._wake_sender,
                on_text=self._scan_text,
                audit=self.audit,
                public_url=s.public_url,
            )
        if self._has("sender"):
            if s.access_token is None:
                raise ValueError("AMAN_ACCESS_TOKEN is required to send")
            graph = GraphClient(
                s.graph_api_url,
                s.access_token.reveal(),
                timeout=s.graph_timeout,
                pool_size=max(8, s.sender_concurrency),
            )
            self.sender = Sender(
                engine=self.engine,
                vault=self.vault,
                graph=graph,
                dialect=self.dialect,
                worker_id=wid,
                incarnation=lambda: self.incarnation,
                liveness=self.liveness,
                rate=s.send_rate,
                concurrency=s.sender_concurrency,
                retry=RetryPolicy(max_attempts=s.max_send_attempts),
                poll_seconds=s.poll_seconds,
                reconcile_seconds=s.reconcile_seconds,
                numbers=[s.phone_number_id] if s.phone_number_id else [],
                on_failed=self._send_failed,
                on_halted=self._send_halted,
            )
        if self.inbox_worker is not None and self.sender is not None and self.dialect == "sqlite":
            # They share one database thread (storage/threads.py): new replies are claimed
            # in the completion transaction that writes them, not in one of the sender's.
            self.inbox_worker.handoff = self.sender
        if self._has("web"):
            self.ingestor = Ingestor(
                self.engine,
                self.vault,
                dialect=self.dialect,
                queue_limit=s.ingest_queue_limit,
                on_inbox=self._wake_worker,
                observer=self._observe,
            )
            self.ingestor.start()
        # Reclaim work of processes that died before we came up, then keep watch.
        await asyncio.get_running_loop().run_in_executor(None, self._housekeeping)
        if self.inbox_worker is not None:
            self._tasks.append(asyncio.create_task(self.inbox_worker.run(self._stop)))
        if self.sender is not None:
            self._tasks.append(asyncio.create_task(self.sender.run(self._stop)))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop()))
        if self.dialect == "postgresql" and (self.inbox_worker or self.sender):
            self.listener = PgListener(
                s.database_url, {"aman_inbox": self._wake_worker, "aman_outbox": self._wake_sender}
            )
            self._tasks.append(asyncio.create_task(self.listener.run(self._stop)))

    def _observe(self, parsed: ParsedWebhook, contacts: Sequence[str], now: float) -> None:
        """Feed the anomaly detectors (cheap; texts are scanned by the inbox worker)."""
        observe_webhook(self.monitor, self.settings.tenant, parsed, contacts, now)

    def _scan_text(self, tenant: str, contact_ix: str, text: str, ts: float) -> None:
        """Queue a handled customer text for the monitor's scan (inbox worker thread)."""
        self.monitor.inbound_text(tenant, contact_ix, text, self.settings.allowed_domains, ts)

    def _send_failed(self, phone_number_id: str, code: int | None) -> None:
        self.monitor.delivery_status(
            self.settings.tenant, phone_number_id, "failed", code, time.time()
        )

    def _send_halted(self, phone_number_id: str, code: int) -> None:
        self.monitor.sending_halted(self.settings.tenant, phone_number_id, code, time.time())

    def _wake_worker(self) -> None:
        if self.inbox_worker is not None:
            self.inbox_worker.wake.set()

    def _wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake.set()

    def _housekeeping(self) -> None:
        """Heartbeat, then move claims of dead processes back to work (idempotent)."""
        s = self.settings
        now, began = time.time(), time.monotonic()
        healthy_since = now if self._healthy_since is None else self._healthy_since
        recovering = self._outage_since is not None
        if self._outage_since is not None:
            # Webhooks were refused meanwhile; Meta retries them with a back-off about
            # as long as the outage: hold resends back that long, for every row that
            # becomes uncertain in that time too (orphans, outcomes written late).
            self._hold_until = now + max(s.reconcile_seconds, now - self._outage_since)
        hold = self._hold_until if now < self._hold_until else None
        try:
            with self.engine.begin() as conn:
                if not workers.heartbeat(conn, self.worker_id, now):
                    self.worker_id = workers.register(conn, self.role, now)
                    self.incarnation += 1
                    log.warning("worker row was reaped (stalled?); re-registered")
                # Nobody could beat while the database was away: a stale heartbeat means
                # death only once we have watched the database for a whole stale period.
                dead = workers.dead_workers(
                    conn,
                    s.worker_stale_seconds,
                    now,
                    judge_heartbeats=now - healthy_since >= s.worker_stale_seconds,
                )
                fired = self.timers.fire_due(conn, now) if self._has("scheduler") else 0
                reclaimed = self._inbox_repo.reap(conn)
                uncertain, held, resent = self._outbox_repo.reap(
                    conn, now, s.reconcile_seconds, hold_until=hold
                )
        except (OperationalError, InterfaceError):
            # The database is unreachable (no heartbeat; webhooks are refused too). Other
            # errors, here or in the scheduler's work below, are not an outage: counting
            # them would hold resends back for as long as a bug lasts.
            self._healthy_since = None
            if self._outage_since is None:
                self._outage_since = now
            raise
        self.liveness.beaten(began)
        self._healthy_since = healthy_since
        self._outage_since = None
        if recovering:
            log.info("database back: %d uncertain send(s) held back", held)
        if self._has("scheduler"):
            # Scheduled and recurring broadcasts, then template status / user preference
            # webhooks (a marketing stop becomes an opt-out).
            due = run_due(self.engine, self.vault, now, audit=self.audit, send_rate=s.send_rate)
            process_template_events(self.engine, self.vault, audit=self.audit, now=now)
            if due.queued:
                self._wake_sender()
        if self._has("scheduler"):
            self._privacy(now)
        if now - self._keys_checked > 30.0:
            # Pick up a data key rotated by `aman keys rotate` in another process.
            self._keys_checked = now
            if self.vault.refresh():
                log.info("data key rotated: new writes use the new active key")
        if fired:
            self._wake_worker()
        if dead or reclaimed or uncertain or resent:
            log.info(
                "housekeeping: %d dead worker(s), %d message(s) reclaimed, %d send(s) uncertain, "
                "%d resent after reconciliation",
                len(dead),
                reclaimed,
                uncertain,
                resent,
            )
            if reclaimed:
                self._wake_worker()
            if resent:
                self._wake_sender()

    def _privacy(self, now: float) -> None:
        """Carry out chat erasure requests past their grace period; hourly, the retention purge."""
        erased = self.rights.run_due()
        if erased:
            log.info("privacy: %d erasure request(s) carried out", erased)
        if now - self._retention_ran >= 3600.0:
            self._retention_ran = now
            report = purge(
                self.engine,
                self.settings.tenant,
                RetentionPolicy.parse(self.settings.retention),
                now,
                rights=self.rights,
                audit=self.audit,
            )
            if report.total:
                log.info("retention: %s", report.counts)

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(0.2, min(2.0, self.settings.worker_stale_seconds / 4))
        while not self._stop.is_set():
            await sleep_or_stop(self._stop, interval)
            try:
                await loop.run_in_executor(None, self._housekeeping)
            except Exception as exc:  # noqa: BLE001 - keep beating through DB outages
                log.warning("housekeeping failed: %s", type(exc).__name__)

    async def stop(self) -> None:
        """Graceful shutdown: stop claiming, finish in-flight work, release our row."""
        self._stop.set()
        if self.ingestor is not None:
            await self.ingestor.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        await self.monitor.stop()
        if self.inbox_worker is not None:
            self.inbox_worker.close()
        try:
            with self.engine.begin() as conn:
                workers.deregister(conn, self.worker_id)
                self._inbox_repo.reap(conn)
        except Exception as exc:  # noqa: BLE001 - best effort on the way out
            log.warning("could not deregister worker: %s", type(exc).__name__)
        self.engine.dispose()
