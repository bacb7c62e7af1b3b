"""SQL for analytics: stream inbound/outbound rows and handoff events, first contacts, states."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from aman.campaigns.models import CampaignRow, CampaignRunRow
from aman.storage.models import AuditEntryRow, Conversation, Inbox, Outbox

__all__ = ["AnalyticsRepository"]

_STREAM = 5000


class AnalyticsRepository:
    def __init__(self, tenant: str, phone_number_id: str | None = None) -> None:
        self.tenant = tenant
        self.pnid = phone_number_id

    def inbound(self, conn: Connection, start: float, end: float) -> Iterator[Any]:
        """(id, phone_number_id, contact_ix, received_at, msg_type) in time order."""
        stmt = (
            select(
                Inbox.id, Inbox.phone_number_id, Inbox.contact_ix, Inbox.received_at, Inbox.msg_type
            )
            .where(
                Inbox.tenant == self.tenant,
                Inbox.msg_type != "event",
                Inbox.received_at >= start,
                Inbox.received_at < end,
            )
            .order_by(Inbox.received_at, Inbox.id)
        )
        if self.pnid:
            stmt = stmt.where(Inbox.phone_number_id == self.pnid)
        yield from conn.execute(stmt.execution_options(yield_per=_STREAM))

    def texts(self, conn: Connection, start: float, end: float) -> Iterator[Any]:
        """(phone_number_id, wamid, payload_enc) of inbound text messages in the window."""
        stmt = (
            select(Inbox.phone_number_id, Inbox.wamid, Inbox.payload_enc)
            .where(
                Inbox.tenant == self.tenant,
                Inbox.msg_type == "text",
                Inbox.received_at >= start,
                Inbox.received_at < end,
            )
            .order_by(Inbox.id)
        )
        if self.pnid:
            stmt = stmt.where(Inbox.phone_number_id == self.pnid)
        yield from conn.execute(stmt.execution_options(yield_per=_STREAM))

    def outbound(self, conn: Connection, start: float, end: float) -> Iterator[Any]:
        """Sent messages: (phone_number_id, contact_ix, ref, inbox_id, sent_at) in time order."""
        stmt = (
            select(
                Outbox.phone_number_id,
                Outbox.contact_ix,
                Outbox.ref,
                Outbox.inbox_id,
                Outbox.sent_at,
            )
            .where(
                Outbox.tenant == self.tenant,
                Outbox.kind == "message",
                Outbox.sent_at.is_not(None),
                Outbox.sent_at >= start,
                Outbox.sent_at < end,
            )
            .order_by(Outbox.sent_at, Outbox.id)
        )
        if self.pnid:
            stmt = stmt.where(Outbox.phone_number_id == self.pnid)
        yield from conn.execute(stmt.execution_options(yield_per=_STREAM))

    def handoffs(self, conn: Connection, start: float, end: float) -> list[Any]:
        """(ts, action, target) of handoff opened/closed ledger entries."""
        return list(
            conn.execute(
                select(AuditEntryRow.ts, AuditEntryRow.action, AuditEntryRow.target)
                .where(
                    AuditEntryRow.tenant == self.tenant,
                    AuditEntryRow.action.in_(["handoff", "handoff_closed"]),
                    AuditEntryRow.ts >= start,
                    AuditEntryRow.ts < end,
                )
                .order_by(AuditEntryRow.seq)
            ).all()
        )

    def first_contacts(self, conn: Connection, start: float, end: float) -> list[Any]:
        """(contact_ix, first inbound) of contacts whose first message ever is in the window."""
        first = func.min(Inbox.received_at)
        stmt = (
            select(Inbox.contact_ix, first)
            .where(Inbox.tenant == self.tenant, Inbox.msg_type != "event")
            .group_by(Inbox.contact_ix)
            .having(first >= start, first < end)
        )
        if self.pnid:
            stmt = stmt.where(Inbox.phone_number_id == self.pnid)
        return list(conn.execute(stmt).all())

    def states(self, conn: Connection, start: float, end: float) -> Iterator[Any]:
        """(phone_number_id, contact_ix, state_enc, updated_at) of conversations active then."""
        stmt = select(
            Conversation.phone_number_id,
            Conversation.contact_ix,
            Conversation.state_enc,
            Conversation.updated_at,
        ).where(
            Conversation.tenant == self.tenant,
            Conversation.updated_at >= start,
            Conversation.updated_at < end,
        )
        if self.pnid:
            stmt = stmt.where(Conversation.phone_number_id == self.pnid)
        yield from conn.execute(stmt.execution_options(yield_per=_STREAM))

    def runs(self, conn: Connection, start: float, end: float) -> list[Any]:
        """Campaign runs that overlap the window, with their campaign's name and number."""
        r = CampaignRunRow
        stmt = (
            select(
                r.id,
                r.campaign_id,
                CampaignRow.name,
                CampaignRow.phone_number_id,
                r.state,
                r.started_at,
                r.finished_at,
                r.queued,
                r.excluded,
            )
            .join(CampaignRow, CampaignRow.id == r.campaign_id)
            .where(
                r.tenant == self.tenant,
                r.started_at < end,
                (r.finished_at.is_(None)) | (r.finished_at >= start),
            )
            .order_by(r.id)
        )
        if self.pnid:
            stmt = stmt.where(CampaignRow.phone_number_id == self.pnid)
        return list(conn.execute(stmt).all())
