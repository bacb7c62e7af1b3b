"""The durable campaign scheduler: fire due schedules, materialise running broadcasts.

``run_due(engine, vault, now)`` is what the scheduler role calls every second
or so; ``now`` is a parameter so tests drive a controllable clock.  It is
safe with any number of scheduler processes: a due campaign is claimed with
its row locked (SKIP LOCKED on PostgreSQL, the write lock on SQLite) and its
occurrence becomes a run exactly once (unique (campaign, scheduled time));
runs are leased to one process at a time and every materialised contact has
an idempotent outbox ref.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine

from aman.audit.service import AuditService
from aman.campaigns.broadcast_repository import BroadcastRepository
from aman.campaigns.materialise import Materialiser
from aman.campaigns.schedule import next_cron, zone
from aman.storage.vault import Vault

__all__ = ["DueReport", "fire_schedules", "run_due"]

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
_OWNER = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class DueReport:
    runs_started: int = 0
    queued: int = 0
    excluded: int = 0
    runs_finished: int = 0


def fire_schedules(engine: Engine, vault: Vault, now: float, *, limit: int = 50) -> int:
    """Start a run for every campaign whose next occurrence is due; returns runs started.

    A recurring campaign that was due several times while no scheduler ran
    fires once and then moves to its next future occurrence: a late
    scheduler never floods customers with catch-up sends.
    """
    repo = BroadcastRepository(engine.dialect.name, vault.tenant)
    started = 0
    with engine.begin() as conn:
        for cid, cron, tz, due_at in repo.due_campaigns(conn, now, limit):
            if repo.create_run(conn, int(cid), float(due_at), now) is not None:
                started += 1
            if cron:
                nxt = next_cron(cron, max(now, float(due_at)), zone(tz))
                repo.set_campaign(conn, int(cid), next_run_at=nxt, updated_at=now)
            else:
                repo.set_campaign(conn, int(cid), next_run_at=None, updated_at=now)
    return started


def run_due(
    engine: Engine,
    vault: Vault,
    now: float,
    *,
    audit: AuditService | None = None,
    send_rate: float = 80.0,
    lead_seconds: float = 10.0,
    batch: int | None = None,
    max_seconds: float = 2.0,
    owner: str = _OWNER,
) -> DueReport:
    """One scheduler tick at time ``now`` (see the module docstring).

    ``batch`` (contacts per transaction) defaults to about one second of sending,
    so a step holds the database's write lock briefly whatever the audience size.
    """
    report = DueReport(runs_started=fire_schedules(engine, vault, now))
    mat = Materialiser(
        vault,
        engine.dialect.name,
        audit=audit,
        send_rate=send_rate,
        lead_seconds=lead_seconds,
        batch=batch if batch is not None else max(100, min(1000, int(send_rate))),
    )
    repo = mat.repo
    with engine.begin() as conn:
        # Refill only when the sender has used up half of the lead: a busy tick costs a
        # single short transaction, and SQLite's one writer is left to the sender.
        if repo.outbox_backlog(conn) >= mat.lead // 2:
            return report
        runs = repo.claim_runs(conn, owner, now, LEASE_SECONDS, limit=20)
    deadline = time.monotonic() + max_seconds
    for run_id in runs:
        try:
            while True:
                try:
                    with engine.begin() as conn:
                        step = mat.step(conn, run_id, now)
                except Exception:
                    if audit is not None:
                        audit.discard()
                    raise
                if audit is not None:
                    audit.committed()
                report.queued += step.queued
                report.excluded += step.excluded
                report.runs_finished += int(step.finished)
                if not step.more or time.monotonic() > deadline:
                    break
        finally:
            with engine.begin() as conn:
                row = repo.lock_run(conn, run_id)
                if row is not None and row.lease_owner == owner:
                    repo.set_run(conn, run_id, lease_until=0.0, lease_owner=None)
    return report
