"""The team inbox: conversations waiting for a human, agent replies, hand back to the bot.

Every function takes the caller's ``TenantScope``: queries are tenant-scoped in
one place (``accounts.scope.scoped``) and agents only see conversations
assigned to them or their team.  Reading a conversation, replying, assigning
and closing are audited; agent replies pass the outbound guard and go through
the same durable outbox (pacing, retries) as bot replies.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, can, require, scoped, visibility
from aman.audit.service import AuditService
from aman.guard.outbound import check_outbound
from aman.inbox.events import EventWriter, event_row
from aman.outbox.repository import OutboxRepository
from aman.storage.models import Contact, Conversation, Inbox
from aman.storage.vault import Vault

__all__ = [
    "ConversationSummary",
    "NotFound",
    "OutboundRejected",
    "TeamInbox",
    "TeamInboxError",
    "conversation_id",
]


class TeamInboxError(Exception):
    """A team-inbox action is not possible (e.g. the conversation is not with a human)."""


class NotFound(TeamInboxError):
    """No such conversation for this caller (also when it exists but is not theirs)."""


class OutboundRejected(TeamInboxError):
    """The outbound guard blocked an agent's message."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__("message blocked by the outbound guard: " + ", ".join(codes))
        self.codes = tuple(codes)


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    phone_number_id: str
    mode: str
    handoff_reason: str | None
    handoff_at: float | None
    last_inbound_at: float | None
    assigned_user_id: int | None
    assigned_team: str | None


def conversation_id(phone_number_id: str, contact_ix: str) -> str:
    return f"{phone_number_id}.{contact_ix}"


def _split(conv_id: str) -> tuple[str, str]:
    pnid, _, ix = conv_id.partition(".")
    if not pnid or not ix or len(conv_id) > 200:
        raise NotFound("no such conversation")
    return pnid, ix


_COLUMNS = (
    Conversation.phone_number_id, Conversation.contact_ix, Conversation.mode,
    Conversation.handoff_reason, Conversation.handoff_at, Conversation.last_inbound_at,
    Conversation.assigned_user_id, Conversation.assigned_team,
)


def _summary(row: Any) -> ConversationSummary:
    return ConversationSummary(conversation_id(row[0], row[1]), row[0], *row[2:])


class TeamInbox:
    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        audit: AuditService,
        dialect: str,
        *,
        allowed_domains: Callable[[], Sequence[str]] = tuple,
        wake_worker: Callable[[], None] | None = None,
        wake_sender: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._audit = audit
        self._outbox = OutboxRepository(dialect)
        self._events = EventWriter(dialect)
        self._allowed_domains = allowed_domains
        self._wake_worker = wake_worker
        self._wake_sender = wake_sender

    # -- queries -------------------------------------------------------------
    def conversations(
        self, scope: TenantScope, *, mode: str | None = "human", after: str | None = None,
        limit: int = 50,
    ) -> list[ConversationSummary]:
        """Conversations the caller may see, newest handoff first; cursor = last id seen."""
        vis = visibility(scope)
        stmt = scoped(select(*_COLUMNS), Conversation, scope)
        if mode is not None:
            stmt = stmt.where(Conversation.mode == mode)
        if not vis.all:
            mine = [Conversation.assigned_user_id == vis.user_id]
            if vis.team:
                mine.append(Conversation.assigned_team == vis.team)
            stmt = stmt.where(or_(*mine))
        if after is not None:
            pnid, ix = _split(after)
            stmt = stmt.where((Conversation.phone_number_id > pnid) | (
                (Conversation.phone_number_id == pnid) & (Conversation.contact_ix > ix)))
        stmt = stmt.order_by(Conversation.phone_number_id, Conversation.contact_ix).limit(limit)
        with self._engine.connect() as conn:
            return [_summary(r) for r in conn.execute(stmt).all()]

    def _get(self, conn: Connection, scope: TenantScope, conv_id: str) -> ConversationSummary:
        pnid, ix = _split(conv_id)
        row = conn.execute(scoped(select(*_COLUMNS), Conversation, scope).where(
            Conversation.phone_number_id == pnid, Conversation.contact_ix == ix)).first()
        if row is None or scope.tenant != self._vault.tenant:
            raise NotFound("no such conversation")
        summary = _summary(row)
        if not can(scope, perms.CONVERSATIONS_LIST, self._resource(scope, summary)):
            raise NotFound("no such conversation")
        return summary

    @staticmethod
    def _resource(scope: TenantScope, conv: ConversationSummary) -> dict[str, Any]:
        return {"tenant": scope.tenant, "assigned_user": conv.assigned_user_id,
                "assigned_team": conv.assigned_team}

    def get(self, scope: TenantScope, conv_id: str) -> ConversationSummary:
        with self._engine.connect() as conn:
            return self._get(conn, scope, conv_id)

    def messages(self, scope: TenantScope, conv_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest inbound messages of a conversation (decrypted); the read is audited."""
        with self._engine.connect() as conn:
            conv = self._get(conn, scope, conv_id)
            require(scope, perms.MESSAGES_READ, self._resource(scope, conv))
            pnid, ix = _split(conv_id)
            rows = conn.execute(
                scoped(select(Inbox.wamid, Inbox.payload_enc, Inbox.msg_ts), Inbox, scope)
                .where(Inbox.contact_ix == ix, Inbox.phone_number_id == pnid,
                       Inbox.msg_type != "event")
                .order_by(Inbox.id.desc()).limit(limit)
            ).all()
        out = []
        for wamid, blob, ts in reversed(rows):
            p = self._vault.open_json("inbox", "payload", wamid, blob)
            out.append({"wamid": wamid, "ts": ts, "type": p.get("type"), "text": p.get("text")})
        self._audit.record(self._engine, tenant=scope.tenant, actor=scope.principal,
                           action="conversation_read", target=f"conversation:{ix[:12]}",
                           details={"messages": len(out)})
        return out

    # -- actions ---------------------------------------------------------------
    def _wa_id(self, conn: Connection, contact_ix: str) -> str:
        blob = conn.execute(
            select(Contact.wa_id_enc).where(Contact.tenant == self._vault.tenant,
                                            Contact.contact_ix == contact_ix)
        ).scalar()
        if blob is None:
            raise NotFound("no such contact")
        return self._vault.open("contacts", "wa_id", contact_ix, blob).decode()

    def _in_transaction(self, work: Callable[[Connection], Any]) -> Any:
        try:
            with self._engine.begin() as conn:
                result = work(conn)
        except Exception:
            self._audit.discard()
            raise
        self._audit.committed()
        return result

    def reply(self, scope: TenantScope, conv_id: str, message: dict[str, Any]) -> str:
        """Queue an agent's message (Cloud API body without messaging_product/to)."""
        text = _text_of(message)
        violations = check_outbound(text, list(self._allowed_domains())) if text else []
        if violations:
            codes = [v.code for v in violations]
            self._audit.record(self._engine, tenant=scope.tenant, actor=scope.principal,
                               action="agent_reply_blocked",
                               target=f"conversation:{_split(conv_id)[1][:12]}",
                               details={"violations": codes})
            raise OutboundRejected(codes)
        now = time.time()
        ref = "a" + uuid.uuid4().hex[:20]

        def work(conn: Connection) -> None:
            conv = self._get(conn, scope, conv_id)
            require(scope, perms.MESSAGES_SEND, self._resource(scope, conv))
            if conv.mode != "human":
                raise TeamInboxError("the conversation is not with a human agent")
            pnid, ix = _split(conv_id)
            wa_id = self._wa_id(conn, ix)
            body = {"msg": {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": wa_id, **message}, "fallback": None}
            self._outbox.enqueue(conn, [{
                "tenant": self._vault.tenant, "phone_number_id": pnid, "inbox_id": None,
                "seq": 0, "kind": "message", "contact_ix": ix, "ref": ref,
                "body_enc": self._vault.seal_json(
                    "outbox", "body", ref, body, contact=ix, conn=conn
                ),
                "state": "todo", "attempts": 0, "next_attempt_at": 0.0, "status_rank": 0,
                "created_at": now,
            }])
            self._audit.append(conn, tenant=scope.tenant, actor=scope.principal,
                               action="agent_reply", target=f"conversation:{ix[:12]}",
                               details={"type": str(message.get("type", ""))})

        self._in_transaction(work)
        if self._wake_sender is not None:
            self._wake_sender()
        return ref

    def assign(self, scope: TenantScope, conv_id: str, *, user_id: int | None,
               team: str | None) -> None:
        def work(conn: Connection) -> None:
            conv = self._get(conn, scope, conv_id)
            require(scope, perms.CONVERSATIONS_ASSIGN, self._resource(scope, conv))
            pnid, ix = _split(conv_id)
            conn.execute(scoped(update(Conversation), Conversation, scope).where(
                Conversation.phone_number_id == pnid, Conversation.contact_ix == ix
            ).values(assigned_user_id=user_id, assigned_team=team))
            self._audit.append(conn, tenant=scope.tenant, actor=scope.principal,
                               action="conversation_assigned", target=f"conversation:{ix[:12]}",
                               details={"user_id": user_id, "team": team})

        self._in_transaction(work)

    def close(self, scope: TenantScope, conv_id: str) -> None:
        """Hand the conversation back to the bot (delivered to it as ``agent_closed``)."""
        now = time.time()

        def work(conn: Connection) -> None:
            conv = self._get(conn, scope, conv_id)
            require(scope, perms.CONVERSATIONS_CLOSE, self._resource(scope, conv))
            if conv.mode != "human":
                raise TeamInboxError("the conversation is not with a human agent")
            pnid, ix = _split(conv_id)
            wa_id = self._wa_id(conn, ix)
            self._events.write(conn, [event_row(
                self._vault, phone_number_id=pnid, contact_ix=ix, wa_id=wa_id,
                event="agent_closed", data={"agent": scope.principal},
                key=f"close:{ix}:{now!r}", now=now)])
            self._audit.append(conn, tenant=scope.tenant, actor=scope.principal,
                               action="handoff_closed", target=f"conversation:{ix[:12]}")

        self._in_transaction(work)
        if self._wake_worker is not None:
            self._wake_worker()


def _text_of(message: dict[str, Any]) -> str:
    """All human-readable text of a Cloud API message body, for the outbound guard."""
    parts: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in {"body", "text", "title", "description",
                                                "caption", "link", "footer"}:
            parts.append(value)

    walk(message)
    return "\n".join(parts)
