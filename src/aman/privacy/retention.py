"""The retention job: each data class is purged after its configured number of days.

``AMAN_RETENTION`` lists ``class=days`` pairs (0 keeps that class forever)::

    messages=365,statuses=90,webhook_events=90,conversations=365,contacts=730,campaign_recipients=180

* ``messages``: handled inbound messages and settled replies (with their send
  attempts); never below 7 days, because Meta redelivers webhooks for days and
  the stored message ids are what deduplicates them.
* ``statuses`` / ``webhook_events``: delivery receipts and other webhook fields.
* ``conversations``: conversation state not touched for that long.
* ``contacts``: customers silent (and on file) for that long are erased like an erasure
  request (their key is destroyed), so nothing about them outlives the purpose.
* ``campaign_recipients``: per-recipient broadcast records.

The audit ledger is never purged: it is the proof the rest was handled lawfully.
Each run deletes in bounded batches and writes one audit entry with the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, select, tuple_

from aman.campaigns.models import CampaignRecipientRow
from aman.privacy.policy import DEFAULT_RETENTION, RetentionPolicy
from aman.storage.db import make_reader
from aman.storage.models import (
    Contact,
    Conversation,
    Inbox,
    Outbox,
    SendAttempt,
    StatusEvent,
    VerifyToken,
    WebhookEvent,
)

if TYPE_CHECKING:
    from aman.audit.service import AuditService
    from aman.privacy.rights import DataRights

__all__ = ["DEFAULT_RETENTION", "RetentionPolicy", "RetentionReport", "purge"]

DAY = 86400.0
_BATCH = 1000
_SETTLED = ("sent", "failed")


@dataclass(slots=True)
class RetentionReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int) -> None:
        if n:
            self.counts[name] = self.counts.get(name, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _purge_batches(
    engine: Engine,
    reader: Engine,
    model: Any,
    where: tuple[Any, ...],
    children: Callable[[list[Any]], Any] | None = None,
) -> int:
    """Delete rows of ``model`` that match ``where``, one batch per write transaction.

    Each batch (of primary keys) is looked for on ``reader``: on SQLite that search (a
    scan where no index covers the cut-off, as for statuses) holds no write lock, so
    webhooks are stored meanwhile instead of waiting for it.  The write transaction
    checks the batch again by primary key and deletes what still matches.
    """
    columns = tuple(model.__table__.primary_key.columns)
    key = columns[0] if len(columns) == 1 else tuple_(*columns)
    search = select(*columns).where(*where).limit(_BATCH)
    total = 0
    while True:
        with reader.connect() as conn:
            found = _keys(conn.execute(search), len(columns))
        if not found:
            return total
        with engine.begin() as conn:
            keys = _keys(conn.execute(select(*columns).where(key.in_(found), *where)), len(columns))
            if keys:
                if children is not None:  # rows that point at these (deleted first)
                    conn.execute(children(keys))
                conn.execute(delete(model).where(key.in_(keys)))
        total += len(keys)
        if len(found) < _BATCH:
            return total


def _keys(result: Any, width: int) -> list[Any]:
    """Primary keys from a result: plain values for one column, tuples for several."""
    return list(result.scalars()) if width == 1 else [tuple(row) for row in result]


def purge(
    engine: Engine,
    tenant: str,
    policy: RetentionPolicy,
    now: float,
    *,
    rights: DataRights | None = None,
    audit: AuditService | None = None,
) -> RetentionReport:
    """Delete everything older than its class allows; audited when anything went."""
    reader = make_reader(engine)
    try:
        return _purge(engine, reader, tenant, policy, now, rights=rights, audit=audit)
    finally:
        if reader is not engine:
            reader.dispose()


def _purge(
    engine: Engine,
    reader: Engine,
    tenant: str,
    policy: RetentionPolicy,
    now: float,
    *,
    rights: DataRights | None,
    audit: AuditService | None,
) -> RetentionReport:
    rep = RetentionReport()
    if policy.messages:
        cut = now - policy.messages * DAY
        rep.add(
            "messages",
            _purge_batches(
                engine,
                reader,
                Inbox,
                (
                    Inbox.tenant == tenant,
                    Inbox.received_at < cut,
                    Inbox.status.in_(("done", "failed", "erased")),
                ),
            ),
        )
        rep.add(
            "replies",
            _purge_batches(
                engine,
                reader,
                Outbox,
                (Outbox.tenant == tenant, Outbox.created_at < cut, Outbox.state.in_(_SETTLED)),
                lambda ids: delete(SendAttempt).where(SendAttempt.outbox_id.in_(ids)),
            ),
        )
    if policy.statuses:
        cut = now - policy.statuses * DAY
        rep.add(
            "statuses",
            _purge_batches(
                engine,
                reader,
                StatusEvent,
                (StatusEvent.tenant == tenant, StatusEvent.received_at < cut),
            ),
        )
    if policy.webhook_events:
        cut = now - policy.webhook_events * DAY
        rep.add(
            "webhook_events",
            _purge_batches(
                engine,
                reader,
                WebhookEvent,
                (
                    WebhookEvent.tenant == tenant,
                    WebhookEvent.received_at < cut,
                    WebhookEvent.processed.is_(True),
                ),
            ),
        )
    if policy.conversations:
        cut = now - policy.conversations * DAY
        rep.add(
            "conversations",
            _purge_batches(
                engine,
                reader,
                Conversation,
                (
                    Conversation.tenant == tenant,
                    Conversation.updated_at < cut,
                    Conversation.mode == "bot",
                ),
            ),
        )
    # Expired verification links are useless after a day.
    rep.add(
        "verify_tokens",
        _purge_batches(
            engine,
            reader,
            VerifyToken,
            (VerifyToken.tenant == tenant, VerifyToken.expires_at < now - DAY),
        ),
    )
    if policy.campaign_recipients:
        cut = now - policy.campaign_recipients * DAY
        rep.add(
            "campaign_recipients",
            _purge_batches(
                engine,
                reader,
                CampaignRecipientRow,
                (CampaignRecipientRow.tenant == tenant, CampaignRecipientRow.queued_at < cut),
            ),
        )
    if policy.contacts and rights is not None:
        cut = now - policy.contacts * DAY
        with reader.connect() as conn:
            silent = list(
                conn.execute(
                    select(Contact.contact_ix)
                    .where(
                        Contact.tenant == tenant,
                        # silent since the cut-off *and* known to us for that long (an
                        # imported contact who never wrote has last_inbound_at = 0)
                        Contact.last_inbound_at < cut,
                        Contact.created_at < cut,
                    )
                    .limit(_BATCH)
                ).scalars()
            )
        for ix in silent:
            rights.erase("system:retention", ix, reason="retention period ended")
        rep.add("contacts", len(silent))
    if audit is not None and rep.total:
        audit.record(
            engine,
            tenant=tenant,
            actor="system:retention",
            action="retention_purge",
            target=f"tenant:{tenant}",
            details={"counts": dict(rep.counts), "policy": asdict(policy)},
        )
    return rep
