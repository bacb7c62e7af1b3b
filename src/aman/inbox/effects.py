"""What handling one message changes, applied atomically with marking it done.

The worker turns a ``BotResult`` into ``MessageEffects`` (outbox rows, the new
conversation record, contact refresh, timers, audit entries, opt-out change,
verification links) and ``EffectsWriter.apply`` writes all of them in the
completion transaction, only for messages this worker still owns.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert

from aman.audit.service import AuditService
from aman.contacts.repository import ContactRepository
from aman.engine.bot import AuditRecord, Incoming, Timer
from aman.engine.state import ConversationRecord, StateStore
from aman.inbox.repository import ClaimedMessage
from aman.outbox.repository import OutboxRepository
from aman.privacy.rights import cancel_request, contact_target, record_request
from aman.scheduler.timers import TimerRepository
from aman.storage.models import VerifyToken
from aman.storage.vault import Vault

__all__ = ["LINK_PLACEHOLDER", "VERIFY_TTL_SECONDS", "EffectsWriter", "MessageEffects"]

LINK_PLACEHOLDER = "{verify_link}"
VERIFY_TTL_SECONDS = 600.0


@dataclass(slots=True)
class MessageEffects:
    msg: ClaimedMessage
    incoming: Incoming
    record: ConversationRecord
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    contact_row: dict[str, Any] | None = None
    timers: tuple[Timer, ...] = ()
    audit: tuple[AuditRecord, ...] = ()
    opt_out: bool | None = None
    opt_out_source: str = "chat"
    handoff_opened: bool = False
    tokens: list[dict[str, Any]] = field(default_factory=list)
    payload_enc: bytes | None = None  # the inbox payload re-sealed under the contact's key
    rights: str | None = None  # a data-rights command (aman.privacy.commands)


class EffectsWriter:
    """Writes a batch's effects inside the caller's transaction."""

    def __init__(
        self,
        *,
        dialect: str,
        vault: Vault,
        audit: AuditService | None,
        actor: str,
        public_url: str,
    ) -> None:
        self._vault = vault
        self._audit = audit
        self._actor = actor
        self._public_url = public_url.rstrip("/")
        self.outbox = OutboxRepository(dialect)
        self.contacts = ContactRepository()
        self.states = StateStore(vault)
        self.timers = TimerRepository(dialect, vault)

    def mint_link(self, effects: MessageEffects, purpose: str, now: float) -> str:
        """A single-use, short-lived verification URL for this conversation."""
        token = secrets.token_urlsafe(24)
        digest = hashlib.sha256(token.encode()).hexdigest()
        effects.tokens.append(
            {
                "token_hash": digest,
                "tenant": self._vault.tenant,
                "phone_number_id": effects.msg.phone_number_id,
                "contact_ix": effects.msg.contact_ix,
                "purpose": purpose[:32],
                "data_enc": self._vault.seal_json(
                    "verify_tokens",
                    "data",
                    digest,
                    {"wa": effects.incoming.wa_id},
                    contact=effects.msg.contact_ix,
                ),
                "created_at": now,
                "expires_at": now + VERIFY_TTL_SECONDS,
                "attempts": 0,
            }
        )
        return f"{self._public_url}/verify/{token}"

    def _apply_rights(self, conn: Connection, e: MessageEffects, now: float) -> None:
        """Store a customer's data-rights command and its proof (audited)."""
        tenant, ix = self._vault.tenant, e.msg.contact_ix
        if e.rights in ("erasure", "export"):
            done = record_request(conn, tenant, ix, e.rights, "chat", now)
            action = "privacy_request" if done else None
        elif e.rights == "cancel_erasure":
            action = (
                "privacy_request_cancelled"
                if cancel_request(conn, tenant, ix, "erasure", now)
                else None
            )
        elif e.rights in ("object", "allow"):
            objected = e.rights == "object"
            self.contacts.set_objection(
                conn, tenant=tenant, contact_ix=ix, objected=objected, source="chat", now=now
            )
            action = "automation_objection" if objected else "automation_allowed"
        else:
            action = None
        if action is not None and self._audit is not None:
            self._audit.append(
                conn,
                tenant=tenant,
                actor="customer",
                action=action,
                target=contact_target(ix),
                details={"kind": e.rights, "source": "chat"},
            )

    def apply(self, conn: Connection, batch: Sequence[MessageEffects], now: float) -> None:
        rows = [r for e in batch for r in e.outbox_rows]
        self.outbox.enqueue(conn, rows)
        self.contacts.touch(conn, [e.contact_row for e in batch if e.contact_row is not None])
        self.states.save(
            conn, {(e.msg.phone_number_id, e.msg.contact_ix): e.record for e in batch}, now
        )
        tokens = [t for e in batch for t in e.tokens]
        if tokens:
            conn.execute(insert(VerifyToken), tokens)
        for e in batch:
            for timer in e.timers:
                self.timers.set(
                    conn,
                    phone_number_id=e.msg.phone_number_id,
                    contact_ix=e.msg.contact_ix,
                    wa_id=e.incoming.wa_id,
                    name=timer.name,
                    at=timer.at,
                    data=dict(timer.data),
                )
            if e.opt_out is not None:
                self.contacts.set_opt_out(
                    conn,
                    tenant=self._vault.tenant,
                    contact_ix=e.msg.contact_ix,
                    opted_out=e.opt_out,
                    source=e.opt_out_source,
                    now=now,
                )
            if e.rights is not None:
                self._apply_rights(conn, e, now)
            if self._audit is not None:
                for rec in e.audit:
                    self._audit.append(
                        conn,
                        tenant=self._vault.tenant,
                        actor=self._actor,
                        action=rec.action,
                        target=rec.target,
                        details=dict(rec.details),
                    )
                if e.opt_out is not None:
                    self._audit.append(
                        conn,
                        tenant=self._vault.tenant,
                        actor="customer",
                        action="opt_out" if e.opt_out else "opt_in",
                        target=f"contact:{e.msg.contact_ix[:12]}",
                        details={"source": e.opt_out_source},
                    )
                if e.handoff_opened:
                    self._audit.append(
                        conn,
                        tenant=self._vault.tenant,
                        actor=self._actor,
                        action="handoff",
                        target=f"contact:{e.msg.contact_ix[:12]}",
                        details={"reason": e.record.handoff_reason or ""},
                    )
