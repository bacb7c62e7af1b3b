"""Read-only queries behind the console's live feed and conversation timeline (tenant-scoped).

Only ids, timestamps and states leave this module for the live feed; the
timeline returns sealed outbound bodies for the caller to open through the vault.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from aman.accounts.scope import TenantScope, scoped
from aman.storage.models import Contact, Inbox, Outbox

__all__ = [
    "MAX_WATCHED",
    "ContactRow",
    "InboundMark",
    "OutboundMark",
    "OutboundRow",
    "contact",
    "inbound_since",
    "latest_ids",
    "outbound_marks",
    "outbound_rows",
]

# At most this many conversations are watched by one live-feed connection.
MAX_WATCHED = 500


@dataclass(frozen=True, slots=True)
class InboundMark:
    id: int
    phone_number_id: str
    contact_ix: str
    wamid: str
    ts: int


@dataclass(frozen=True, slots=True)
class OutboundMark:
    id: int
    ref: str
    phone_number_id: str
    contact_ix: str
    state: str
    delivery_status: str | None
    error_code: int | None
    created_at: float
    sent_at: float | None


@dataclass(frozen=True, slots=True)
class OutboundRow:
    mark: OutboundMark
    body_enc: bytes


@dataclass(frozen=True, slots=True)
class ContactRow:
    wa_id_enc: bytes
    name_enc: bytes | None
    created_at: float
    last_inbound_at: float
    opted_out: bool


def latest_ids(conn: Connection, scope: TenantScope) -> tuple[int, int]:
    """The highest inbox and outbox ids of the tenant now (0 when empty)."""
    inbox = conn.execute(scoped(select(func.max(Inbox.id)), Inbox, scope)).scalar()
    outbox = conn.execute(scoped(select(func.max(Outbox.id)), Outbox, scope)).scalar()
    return int(inbox or 0), int(outbox or 0)


def inbound_since(
    conn: Connection, scope: TenantScope, contact_ixs: Collection[str], after_id: int,
    limit: int = 500,
) -> list[InboundMark]:
    """Inbound messages (not events) newer than ``after_id`` of the given contacts."""
    if not contact_ixs:
        return []
    stmt = (
        scoped(
            select(Inbox.id, Inbox.phone_number_id, Inbox.contact_ix, Inbox.wamid, Inbox.msg_ts),
            Inbox,
            scope,
        )
        .where(
            Inbox.contact_ix.in_(list(contact_ixs)[:MAX_WATCHED]),
            Inbox.id > after_id,
            Inbox.msg_type != "event",
        )
        .order_by(Inbox.id)
        .limit(limit)
    )
    return [InboundMark(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in conn.execute(stmt)]


_OUT_COLUMNS = (
    Outbox.id, Outbox.ref, Outbox.phone_number_id, Outbox.contact_ix, Outbox.state,
    Outbox.delivery_status, Outbox.error_code, Outbox.created_at, Outbox.sent_at,
)


def _mark(row: Sequence[Any]) -> OutboundMark:
    return OutboundMark(int(row[0]), *row[1:9])


def outbound_marks(
    conn: Connection, scope: TenantScope, contact_ixs: Collection[str], after_id: int,
    limit: int = 2000,
) -> list[OutboundMark]:
    """Outbound messages (not read receipts) newer than ``after_id`` of the given contacts."""
    if not contact_ixs:
        return []
    stmt = (
        scoped(select(*_OUT_COLUMNS), Outbox, scope)
        .where(
            Outbox.contact_ix.in_(list(contact_ixs)[:MAX_WATCHED]),
            Outbox.id > after_id,
            Outbox.kind == "message",
        )
        .order_by(Outbox.id)
        .limit(limit)
    )
    return [_mark(r) for r in conn.execute(stmt)]


def outbound_rows(
    conn: Connection, scope: TenantScope, phone_number_id: str, contact_ix: str, limit: int
) -> list[OutboundRow]:
    """The latest outbound messages of one conversation, oldest first, with sealed bodies."""
    stmt = (
        scoped(select(*_OUT_COLUMNS, Outbox.body_enc), Outbox, scope)
        .where(
            Outbox.contact_ix == contact_ix,
            Outbox.phone_number_id == phone_number_id,
            Outbox.kind == "message",
        )
        .order_by(Outbox.id.desc())
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    return [OutboundRow(_mark(r[:9]), bytes(r[9])) for r in reversed(rows)]


def contact(conn: Connection, scope: TenantScope, contact_ix: str) -> ContactRow | None:
    """The stored contact behind a conversation, or None."""
    stmt = scoped(
        select(Contact.wa_id_enc, Contact.name_enc, Contact.created_at, Contact.last_inbound_at,
               Contact.opted_out),
        Contact,
        scope,
    ).where(Contact.contact_ix == contact_ix)
    row = conn.execute(stmt).first()
    if row is None:
        return None
    return ContactRow(
        bytes(row[0]), bytes(row[1]) if row[1] is not None else None, float(row[2]),
        float(row[3]), bool(row[4]),
    )
