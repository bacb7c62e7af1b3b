"""The team inbox: conversations waiting for a human, agent replies, hand back to the bot.

Service functions used by the REST API and the console.  Reading a
conversation, replying and closing are audited; agent replies go through the
same durable outbox (and pacing, retries, opt-out) as bot replies.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from aman.audit.service import AuditService
from aman.inbox.events import EventWriter, event_row
from aman.outbox.repository import OutboxRepository
from aman.storage.models import Contact, Conversation, Inbox
from aman.storage.vault import Vault

__all__ = ["ConversationSummary", "TeamInbox", "TeamInboxError"]


class TeamInboxError(Exception):
    """A team-inbox action is not possible (unknown conversation, not with a human...)."""


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    phone_number_id: str
    contact_ix: str
    mode: str
    handoff_reason: str | None
    handoff_at: float | None
    last_inbound_at: float | None


class TeamInbox:
    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        audit: AuditService,
        dialect: str,
        *,
        wake_worker: Callable[[], None] | None = None,
        wake_sender: Callable[[], None] | None = None,
    ) -> None:
        self._wake_worker = wake_worker
        self._wake_sender = wake_sender
        self._engine = engine
        self._vault = vault
        self._audit = audit
        self._outbox = OutboxRepository(dialect)
        self._events = EventWriter(dialect)

    def waiting(self, limit: int = 100) -> list[ConversationSummary]:
        """Conversations handed to a human, oldest handoff first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    Conversation.phone_number_id,
                    Conversation.contact_ix,
                    Conversation.mode,
                    Conversation.handoff_reason,
                    Conversation.handoff_at,
                    Conversation.last_inbound_at,
                )
                .where(Conversation.tenant == self._vault.tenant, Conversation.mode == "human")
                .order_by(Conversation.handoff_at)
                .limit(limit)
            ).all()
        return [ConversationSummary(*r) for r in rows]

    def _wa_id(self, conn: Any, contact_ix: str) -> str:
        blob = conn.execute(
            select(Contact.wa_id_enc).where(
                Contact.tenant == self._vault.tenant, Contact.contact_ix == contact_ix
            )
        ).scalar()
        if blob is None:
            raise TeamInboxError("unknown contact")
        return self._vault.open("contacts", "wa_id", contact_ix, blob).decode()

    def read(
        self, agent: str, phone_number_id: str, contact_ix: str, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The latest inbound messages of a conversation (decrypted); the read is audited."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(Inbox.wamid, Inbox.payload_enc, Inbox.msg_ts)
                .where(
                    Inbox.tenant == self._vault.tenant,
                    Inbox.contact_ix == contact_ix,
                    Inbox.phone_number_id == phone_number_id,
                    Inbox.msg_type != "event",
                )
                .order_by(Inbox.id.desc())
                .limit(limit)
            ).all()
        out = []
        for wamid, blob, ts in reversed(rows):
            p = self._vault.open_json("inbox", "payload", wamid, blob)
            out.append({"wamid": wamid, "ts": ts, "type": p.get("type"), "text": p.get("text")})
        self._audit.record(
            self._engine,
            tenant=self._vault.tenant,
            actor=f"agent:{agent}",
            action="conversation_read",
            target=f"contact:{contact_ix[:12]}",
            details={"messages": len(out)},
        )
        return out

    def reply(
        self, agent: str, phone_number_id: str, contact_ix: str, message: dict[str, Any]
    ) -> str:
        """Queue an agent's message (Cloud API body without messaging_product/to)."""
        now = time.time()
        ref = "a" + uuid.uuid4().hex[:20]
        try:
            with self._engine.begin() as conn:
                if self._mode(conn, phone_number_id, contact_ix) != "human":
                    raise TeamInboxError("the conversation is not with a human agent")
                wa_id = self._wa_id(conn, contact_ix)
                body = {
                    "msg": {
                        "messaging_product": "whatsapp",
                        "recipient_type": "individual",
                        "to": wa_id,
                        **message,
                    },
                    "fallback": None,
                }
                self._outbox.enqueue(
                    conn,
                    [
                        {
                            "tenant": self._vault.tenant,
                            "phone_number_id": phone_number_id,
                            "inbox_id": None,
                            "seq": 0,
                            "kind": "message",
                            "contact_ix": contact_ix,
                            "ref": ref,
                            "body_enc": self._vault.seal_json("outbox", "body", ref, body),
                            "state": "todo",
                            "attempts": 0,
                            "next_attempt_at": 0.0,
                            "status_rank": 0,
                            "created_at": now,
                        }
                    ],
                )
                self._audit.append(
                    conn,
                    tenant=self._vault.tenant,
                    actor=f"agent:{agent}",
                    action="agent_reply",
                    target=f"contact:{contact_ix[:12]}",
                    details={"type": str(message.get("type", ""))},
                )
        except Exception:
            self._audit.discard()
            raise
        self._audit.committed()
        if self._wake_sender is not None:
            self._wake_sender()
        return ref

    def close(self, agent: str, phone_number_id: str, contact_ix: str) -> None:
        """Hand the conversation back to the bot (delivered to it as ``agent_closed``)."""
        now = time.time()
        try:
            with self._engine.begin() as conn:
                if self._mode(conn, phone_number_id, contact_ix) != "human":
                    raise TeamInboxError("the conversation is not with a human agent")
                wa_id = self._wa_id(conn, contact_ix)
                self._events.write(
                    conn,
                    [
                        event_row(
                            self._vault,
                            phone_number_id=phone_number_id,
                            contact_ix=contact_ix,
                            wa_id=wa_id,
                            event="agent_closed",
                            data={"agent": agent},
                            key=f"close:{contact_ix}:{now!r}",
                            now=now,
                        )
                    ],
                )
                self._audit.append(
                    conn,
                    tenant=self._vault.tenant,
                    actor=f"agent:{agent}",
                    action="handoff_closed",
                    target=f"contact:{contact_ix[:12]}",
                )
        except Exception:
            self._audit.discard()
            raise
        self._audit.committed()
        if self._wake_worker is not None:
            self._wake_worker()

    def _mode(self, conn: Any, phone_number_id: str, contact_ix: str) -> str | None:
        mode: str | None = conn.execute(
            select(Conversation.mode).where(
                Conversation.tenant == self._vault.tenant,
                Conversation.phone_number_id == phone_number_id,
                Conversation.contact_ix == contact_ix,
            )
        ).scalar()
        return mode
