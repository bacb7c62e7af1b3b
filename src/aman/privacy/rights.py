"""One customer's data: export as JSON, erasure by crypto-shredding plus deletion, requests.

A customer asks in chat (see ``aman.privacy.commands``) or staff act through the
API/CLI.  Requests are stored with their legal due time (UU PDP: 3 x 24 hours);
chat erasure requests run after a short grace period in which the customer can
cancel (``BATAL HAPUS``), so the confirmation reply still reaches them.  Every
export and erasure is written to the audit ledger under a shortened blind index,
never the number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from aman.audit.service import AuditService
from aman.campaigns.models import (
    CampaignRecipientRow,
    ContactProfileRow,
    ContactTagRow,
    SegmentMemberRow,
)
from aman.monitor.models import ContactControlRow, FraudReportRow
from aman.security.crypto import DecryptionError
from aman.storage.models import (
    ConsentEvent,
    Contact,
    Conversation,
    Inbox,
    Outbox,
    PrivacyRequest,
    SendAttempt,
    StatusEvent,
    TimerRow,
    VerifyToken,
)
from aman.storage.sql import DriverSQL
from aman.storage.vault import Vault

__all__ = [
    "LEGAL_DEADLINE",
    "DataRights",
    "ErasureReport",
    "PrivacyError",
    "cancel_request",
    "contact_target",
    "pending_kinds",
    "record_request",
]

LEGAL_DEADLINE = 3 * 24 * 3600.0  # UU PDP: requests answered within 3 x 24 hours
ERASED = "erased"  # replaces the blind index on rows kept for aggregate counts


class PrivacyError(Exception):
    """A data-rights request that cannot be carried out (unknown contact, bad input)."""


@dataclass(slots=True)
class ErasureReport:
    keys_destroyed: int = 0
    messages: int = 0
    replies: int = 0
    statuses: int = 0
    conversations: int = 0
    timers: int = 0
    consents: int = 0
    contact: int = 0
    campaign_rows: int = 0
    fraud_reports: int = 0


def contact_target(contact_ix: str) -> str:
    """How the audit ledger names a contact: a prefix of its keyed blind index."""
    return f"contact:{contact_ix[:12]}"


class DataRights:
    """Export, erase and track requests for the contacts of one tenant."""

    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        audit: AuditService,
        *,
        erasure_grace: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._audit = audit
        self._grace = erasure_grace
        self._clock = clock

    @property
    def tenant(self) -> str:
        return self._vault.tenant

    @property
    def audit(self) -> AuditService:
        return self._audit

    # -- finding the customer ---------------------------------------------------------
    def contact_ix_of(self, *, contact_id: int | None = None, wa_id: str | None = None) -> str:
        """The blind index of a contact given its id or its WhatsApp number."""
        if wa_id is not None:
            digits = "".join(ch for ch in wa_id if ch.isdigit())
            if not 8 <= len(digits) <= 15:
                raise PrivacyError("a WhatsApp number has 8 to 15 digits")
            return self._vault.contact_index(digits)
        if contact_id is None:
            raise PrivacyError("name the contact by id or by number")
        with self._engine.connect() as conn:
            ix = conn.execute(
                select(Contact.contact_ix).where(
                    Contact.tenant == self.tenant, Contact.id == contact_id
                )
            ).scalar()
        if ix is None:
            raise PrivacyError("no such contact")
        return str(ix)

    # -- export (right of access / portability) ---------------------------------------
    def export(self, actor: str, contact_ix: str) -> dict[str, Any]:
        """Everything stored about one customer, decrypted, as JSON-ready data (audited)."""
        v, t = self._vault, self.tenant
        with self._engine.connect() as conn:
            contact = conn.execute(
                select(Contact).where(Contact.tenant == t, Contact.contact_ix == contact_ix)
            ).first()
            inbox = conn.execute(
                select(Inbox)
                .where(Inbox.tenant == t, Inbox.contact_ix == contact_ix)
                .order_by(Inbox.id)
            ).all()
            outbox = conn.execute(
                select(Outbox)
                .where(
                    Outbox.tenant == t, Outbox.contact_ix == contact_ix, Outbox.kind == "message"
                )
                .order_by(Outbox.id)
            ).all()
            consents = conn.execute(
                select(ConsentEvent)
                .where(ConsentEvent.tenant == t, ConsentEvent.contact_ix == contact_ix)
                .order_by(ConsentEvent.id)
            ).all()
            conversations = conn.execute(
                select(Conversation).where(
                    Conversation.tenant == t, Conversation.contact_ix == contact_ix
                )
            ).all()
            profile = tags = None
            if contact is not None:
                profile = conn.execute(
                    select(ContactProfileRow).where(ContactProfileRow.contact_id == contact.id)
                ).first()
                tags = sorted(
                    conn.execute(
                        select(ContactTagRow.tag).where(ContactTagRow.contact_id == contact.id)
                    ).scalars()
                )
            reports = conn.execute(
                select(FraudReportRow).where(
                    FraudReportRow.tenant == t, FraudReportRow.contact_ix == contact_ix
                )
            ).all()
            requests = conn.execute(
                select(PrivacyRequest).where(
                    PrivacyRequest.tenant == t, PrivacyRequest.contact_ix == contact_ix
                )
            ).all()
        if contact is None and not inbox:
            raise PrivacyError("no data is stored for this contact")

        def opened(table: str, column: str, row: str, blob: bytes | None) -> Any:
            if not blob:
                return None
            try:
                return v.open_json(table, column, row, blob)
            except DecryptionError:
                return None

        def text(table: str, column: str, row: str, blob: bytes | None) -> str | None:
            if not blob:
                return None
            try:
                return v.open(table, column, row, blob).decode("utf-8")
            except DecryptionError:
                return None

        out: dict[str, Any] = {
            "format": "aman.export/1",
            "tenant": t,
            "exported_at": self._clock(),
            "contact": None,
            "consent": [
                {"purpose": c.purpose, "granted": c.granted, "source": c.source, "at": c.at}
                for c in consents
            ],
            "conversations": [
                {
                    "phone_number_id": c.phone_number_id,
                    "mode": c.mode,
                    "state": opened(
                        "conversations",
                        "state",
                        f"{c.phone_number_id}:{c.contact_ix}",
                        c.state_enc,
                    ),
                    "last_inbound_at": c.last_inbound_at,
                }
                for c in conversations
            ],
            "messages_received": [
                _message_out(m, opened("inbox", "payload", m.wamid, m.payload_enc))
                for m in inbox
                if m.msg_type != "event"
            ],
            "messages_sent": [
                {
                    "at": o.created_at,
                    "state": o.state,
                    "delivery_status": o.delivery_status,
                    "message": (opened("outbox", "body", o.ref, o.body_enc) or {}).get("msg"),
                }
                for o in outbox
            ],
            "fraud_reports": [
                {
                    "ref": r.ref,
                    "at": r.created_at,
                    "status": r.status,
                    "text": text("fraud_reports", "text", r.ref, r.text_enc),
                }
                for r in reports
            ],
            "requests": [
                {
                    "kind": r.kind,
                    "status": r.status,
                    "requested_at": r.requested_at,
                    "due_at": r.due_at,
                    "done_at": r.done_at,
                }
                for r in requests
            ],
        }
        if contact is not None:
            fields = opened(
                "contact_profiles",
                "fields",
                str(contact.id),
                profile.fields_enc if profile is not None else None,
            )
            out["contact"] = {
                "wa_id": text("contacts", "wa_id", contact_ix, contact.wa_id_enc),
                "name": text("contacts", "name", contact_ix, contact.name_enc),
                "created_at": contact.created_at,
                "last_inbound_at": contact.last_inbound_at,
                "opted_out": contact.opted_out,
                "opted_out_at": contact.opted_out_at,
                "objected_to_automation_at": contact.objected_at,
                "language": profile.language if profile is not None else None,
                "marketing_consent": profile.marketing if profile is not None else None,
                "custom_fields": fields or {},
                "tags": tags or [],
            }
        counts = {k: len(out[k]) for k in ("messages_received", "messages_sent", "consent")}
        self._audit.record(
            self._engine,
            tenant=t,
            actor=actor,
            action="data_export",
            target=contact_target(contact_ix),
            details=counts,
        )
        return out

    # -- erasure (crypto-shredding + deletion) ----------------------------------------
    def erase(self, actor: str, contact_ix: str, *, reason: str = "request") -> ErasureReport:
        """Destroy the contact's key and delete or anonymise every row about them (audited).

        Rows kept for aggregate counts (handled-message ids for deduplication,
        campaign recipients, fraud-report counts) lose their blind index and
        their sealed content; nothing left can be linked back to the number.
        """
        t, now = self.tenant, self._clock()
        rep = ErasureReport()
        try:
            with self._engine.begin() as conn:
                self._erase_rows(conn, contact_ix, rep)
                rep.keys_destroyed = len(self._vault.erase_contact(conn, contact_ix, now))
                conn.execute(
                    update(PrivacyRequest)
                    .where(
                        PrivacyRequest.tenant == t,
                        PrivacyRequest.contact_ix == contact_ix,
                        PrivacyRequest.status == "pending",
                        PrivacyRequest.kind == "erasure",
                    )
                    .values(status="done", done_at=now)
                )
                conn.execute(
                    update(PrivacyRequest)
                    .where(PrivacyRequest.tenant == t, PrivacyRequest.contact_ix == contact_ix)
                    .values(contact_ix=ERASED)
                )
                self._audit.append(
                    conn,
                    tenant=t,
                    actor=actor,
                    action="data_erased",
                    target=contact_target(contact_ix),
                    details={"reason": reason[:64], **asdict(rep)},
                )
        except BaseException:
            self._audit.discard()
            raise
        self._audit.committed()
        return rep

    def _erase_rows(self, conn: Connection, ix: str, rep: ErasureReport) -> None:
        t = self.tenant
        outbox_ids = select(Outbox.id).where(Outbox.tenant == t, Outbox.contact_ix == ix)
        wamids = select(Outbox.wamid).where(
            Outbox.tenant == t, Outbox.contact_ix == ix, Outbox.wamid.is_not(None)
        )
        rep.statuses = _count(
            conn.execute(
                delete(StatusEvent).where(StatusEvent.tenant == t, StatusEvent.wamid.in_(wamids))
            )
        )
        conn.execute(delete(SendAttempt).where(SendAttempt.outbox_id.in_(outbox_ids)))
        rep.replies = _count(
            conn.execute(delete(Outbox).where(Outbox.tenant == t, Outbox.contact_ix == ix))
        )
        # Handled message ids stay (Meta redelivers for days: deduplication), emptied.
        rep.messages = _count(
            conn.execute(
                update(Inbox)
                .where(Inbox.tenant == t, Inbox.contact_ix == ix)
                .values(payload_enc=b"", contact_ix=ERASED, status="erased", worker_id=None)
            )
        )
        for model in (Conversation, TimerRow, VerifyToken):
            n = _count(conn.execute(delete(model).where(model.tenant == t, model.contact_ix == ix)))
            if model is Conversation:
                rep.conversations = n
            elif model is TimerRow:
                rep.timers = n
        rep.consents = _count(
            conn.execute(
                delete(ConsentEvent).where(ConsentEvent.tenant == t, ConsentEvent.contact_ix == ix)
            )
        )
        ids = select(Contact.id).where(Contact.tenant == t, Contact.contact_ix == ix)
        conn.execute(delete(ContactProfileRow).where(ContactProfileRow.contact_id.in_(ids)))
        conn.execute(delete(ContactTagRow).where(ContactTagRow.contact_id.in_(ids)))
        conn.execute(delete(SegmentMemberRow).where(SegmentMemberRow.contact_id.in_(ids)))
        rep.campaign_rows = _count(
            conn.execute(
                update(CampaignRecipientRow)
                .where(CampaignRecipientRow.tenant == t, CampaignRecipientRow.contact_ix == ix)
                .values(contact_ix=ERASED)
            )
        )
        rep.contact = _count(
            conn.execute(delete(Contact).where(Contact.tenant == t, Contact.contact_ix == ix))
        )
        conn.execute(
            delete(ContactControlRow).where(
                ContactControlRow.tenant == t, ContactControlRow.contact_ix == ix
            )
        )
        rep.fraud_reports = _count(
            conn.execute(
                update(FraudReportRow)
                .where(FraudReportRow.tenant == t, FraudReportRow.contact_ix == ix)
                .values(contact_ix=ERASED, text_enc=b"")
            )
        )

    # -- requests -------------------------------------------------------------------
    def complete(self, actor: str, request_id: int) -> None:
        """Mark an export request fulfilled (staff handed the export over)."""
        now = self._clock()
        with self._engine.begin() as conn:
            n = conn.execute(
                update(PrivacyRequest)
                .where(
                    PrivacyRequest.tenant == self.tenant,
                    PrivacyRequest.id == request_id,
                    PrivacyRequest.status == "pending",
                )
                .values(status="done", done_at=now)
            ).rowcount
            if not n:
                raise PrivacyError("no such pending request")
            self._audit.append(
                conn,
                tenant=self.tenant,
                actor=actor,
                action="privacy_request_done",
                target=f"privacy_request:{request_id}",
            )
        self._audit.committed()

    def pending(self) -> list[dict[str, Any]]:
        """Open requests, oldest due first (for the console and ``aman privacy requests``)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(PrivacyRequest)
                .where(PrivacyRequest.tenant == self.tenant, PrivacyRequest.status == "pending")
                .order_by(PrivacyRequest.due_at, PrivacyRequest.id)
            ).all()
        now = self._clock()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "source": r.source,
                "contact": contact_target(r.contact_ix),
                "requested_at": r.requested_at,
                "due_at": r.due_at,
                "overdue": r.due_at < now,
            }
            for r in rows
        ]

    def run_due(self, limit: int = 50) -> int:
        """Carry out chat erasure requests whose grace period has passed; returns how many."""
        cutoff = self._clock() - self._grace
        with self._engine.connect() as conn:
            due = [
                str(r[0])
                for r in conn.execute(
                    select(PrivacyRequest.contact_ix)
                    .where(
                        PrivacyRequest.tenant == self.tenant,
                        PrivacyRequest.kind == "erasure",
                        PrivacyRequest.status == "pending",
                        PrivacyRequest.requested_at <= cutoff,
                    )
                    .order_by(PrivacyRequest.id)
                    .limit(limit)
                )
            ]
        for ix in due:
            self.erase("system:privacy", ix, reason="customer request")
        return len(due)


# The inbox worker asks for every batch: on the driver (storage.sql.DriverSQL).
_PENDING_KINDS = DriverSQL(
    "SELECT contact_ix, kind FROM privacy_requests "
    "WHERE tenant = :tenant AND contact_ix IN ({ixs}) AND status = 'pending'"
)


def record_request(
    conn: Connection, tenant: str, contact_ix: str, kind: str, source: str, now: float
) -> bool:
    """Record a pending request in ``conn``'s transaction; False if one is already pending."""
    if kind not in ("export", "erasure"):
        raise PrivacyError(f"unknown request kind {kind!r}")
    if kind in pending_kinds(conn, tenant, [contact_ix]).get(contact_ix, set()):
        return False
    conn.execute(
        insert(PrivacyRequest).values(
            tenant=tenant,
            contact_ix=contact_ix,
            kind=kind,
            source=source[:64],
            status="pending",
            requested_at=now,
            due_at=now + LEGAL_DEADLINE,
        )
    )
    return True


def cancel_request(conn: Connection, tenant: str, contact_ix: str, kind: str, now: float) -> bool:
    """Cancel the contact's pending request of ``kind``; False if there was none."""
    n = conn.execute(
        update(PrivacyRequest)
        .where(
            PrivacyRequest.tenant == tenant,
            PrivacyRequest.contact_ix == contact_ix,
            PrivacyRequest.kind == kind,
            PrivacyRequest.status == "pending",
        )
        .values(status="cancelled", done_at=now)
    ).rowcount
    return bool(n)


def pending_kinds(conn: Connection, tenant: str, contact_ixs: Iterable[str]) -> dict[str, set[str]]:
    """The kinds of pending requests of each of these contacts."""
    ixs = list(set(contact_ixs))
    out: dict[str, set[str]] = {}
    if not ixs:
        return out
    for ix, kind in _PENDING_KINDS.rows(conn, {"tenant": tenant, "ixs": ixs}):
        out.setdefault(str(ix), set()).add(str(kind))
    return out


def _count(result: Any) -> int:
    return max(int(result.rowcount or 0), 0)


def _message_out(row: Any, payload: Any) -> dict[str, Any]:
    p = payload if isinstance(payload, dict) else {}
    return {
        "at": row.received_at,
        "type": row.msg_type,
        "text": p.get("text"),
        "name": p.get("name"),
        "withheld": p.get("secrets") or [],
    }
