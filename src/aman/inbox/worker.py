"""The inbox worker: claim stored messages, ask the bot, write replies to the outbox.

One claim transaction takes a batch (at most one message per conversation) and
reads, in the same transaction, what handling it needs (contact keys,
conversation states, opt-outs, objections, pending data-rights requests);
one completion transaction marks them done and stores, atomically, the
replies (outbox rows), the read receipts, the new conversation states and the
contacts.  A crash between the two leaves the claims orphaned; the reaper
returns them to 'todo' and they are handled again, and because the outbox rows
only ever exist together with 'done', every message gets exactly one set of
replies.  After the completion commits, each handled customer text goes to
``on_text`` (the monitor's phishing and fraud-report scan): once per message,
as stored (secrets redacted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy import Connection, Engine

from aman import metrics
from aman.aio import sleep_or_stop, wait_any
from aman.audit.service import AuditService
from aman.engine.bot import Bot, Incoming, Reply, text_reply
from aman.engine.optout import OPT_IN_CONFIRMATION, OPT_OUT_CONFIRMATION, is_opt_in, is_opt_out
from aman.engine.state import ConversationRecord
from aman.inbox.effects import LINK_PLACEHOLDER, EffectsWriter, MessageEffects
from aman.inbox.repository import ClaimedMessage, InboxRepository
from aman.privacy.commands import CONFIRMATIONS, OBJECTION_REASON, command_of
from aman.privacy.rights import pending_kinds
from aman.storage.db import PinnedConnection
from aman.storage.threads import db_thread
from aman.storage.vault import Vault

__all__ = ["RETRY_DELAYS", "Handoff", "InboxWorker", "TextHook"]

log = logging.getLogger(__name__)

# Sees each handled customer text after its commit: (tenant, contact_ix, text, received at).
TextHook = Callable[[str, str, str, float], None]
# Seconds before handling a message again after the bot raised; then it is parked.
RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0)


class Handoff(Protocol):
    """An in-process sender that claims new replies inside the completion transaction.

    ``handoff_claim`` runs in that transaction (on the worker's database thread), then
    exactly one of ``handoff_committed`` (same thread) or ``handoff_failed``; ``adopt``
    gets the committed claim on the event loop.  The sender then needs no claim
    transaction of its own for these rows.
    """

    def handoff_claim(self, conn: Connection, now: float) -> Any: ...

    def handoff_committed(self, handed: Any) -> None: ...

    def handoff_failed(self) -> None: ...

    def adopt(self, handed: Any) -> None: ...


class InboxWorker:
    """Processes the inbox until stopped; woken by ``wake`` or by polling."""

    def __init__(
        self,
        *,
        engine: Engine,
        vault: Vault,
        bot: Bot,
        dialect: str,
        worker_id: Callable[[], int],
        batch: int = 200,
        mark_read: bool = True,
        poll_seconds: float = 1.0,
        on_outbox: Callable[[], None] | None = None,
        on_text: TextHook | None = None,
        audit: AuditService | None = None,
        public_url: str = "http://127.0.0.1:8080",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = PinnedConnection(engine)  # used on the worker thread only
        self._vault = vault
        self._bot = bot
        self._worker_id = worker_id
        self._batch = batch
        self._mark_read = mark_read
        self._poll = poll_seconds
        self._on_outbox = on_outbox
        self._on_text = on_text
        self._clock = clock
        self._inbox = InboxRepository(dialect)
        self._audit = audit
        self._fx = EffectsWriter(
            dialect=dialect,
            vault=vault,
            audit=audit,
            actor=f"bot:{bot.name}",
            public_url=public_url,
        )
        self._thread = db_thread(engine, "inbox")
        self.wake = asyncio.Event()
        self.processed = 0
        # Set by the runtime when the sender shares this worker's database thread.
        self.handoff: Handoff | None = None
        self._handed: Any = None  # what the last batch handed over, for ``run`` to adopt
        self._dirty = False  # a batch failed after claiming: release our claims first
        # The last claim left due messages behind (more than a batch, or the next ones
        # of a conversation in work): claim again at once instead of waiting.
        self.waiting = True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()
            try:
                handled = await self._thread.run(self.process_once)
            except Exception as exc:  # noqa: BLE001 - the loop must survive a DB outage
                log.warning("inbox worker: %s; retrying", type(exc).__name__)
                handled = 0
                await sleep_or_stop(stop, min(self._poll, 1.0))
                continue
            handed, self._handed = self._handed, None
            if handed is not None and self.handoff is not None:
                self.handoff.adopt(handed)  # wakes the sender only if rows still wait
            elif handled and self._on_outbox is not None:
                self._on_outbox()
            if handled and self.waiting:
                continue
            # Nothing was left to claim (new messages set ``wake``; messages of a
            # retry delay come with the poll).
            await wait_any(stop, self.wake, self._poll)

    def close(self) -> None:
        self._thread.close()
        self._conn.close()

    # -- synchronous core (worker thread) ------------------------------------
    def process_once(self) -> int:
        """Claim and handle one batch; returns how many messages were handled."""
        worker = self._worker_id()
        now = self._clock()
        if self._dirty:
            # The last batch failed midway (e.g. the database restarted): our claims are
            # still marked 'doing' under our live id, so nobody else would reclaim them.
            with self._conn.begin() as conn:
                released = self._inbox.release_own(conn, worker)
            self._dirty = False
            if released:
                log.info("inbox worker: released %d claim(s) of a failed batch", released)
        self._dirty = True
        # One transaction claims the batch and reads what handling it needs: the claimed
        # contacts' keys, conversation states, opt-outs, objections and pending requests.
        with self._conn.begin() as conn:
            claimed = self._inbox.claim(conn, worker, self._batch, now)
            loaded = self._load(conn, claimed) if claimed else None
            self.waiting = bool(claimed) and self._inbox.any_waiting(conn, now)
        if loaded is None:
            self._dirty = False
            return 0
        records, opted_out, objected, pending = loaded
        handled: list[MessageEffects] = []
        failed: list[tuple[ClaimedMessage, str]] = []
        for msg in claimed:
            key = (msg.phone_number_id, msg.contact_ix)
            try:
                payload = self._vault.open_json("inbox", "payload", msg.wamid, msg.payload_enc)
                record = records.get(key) or ConversationRecord()
                fx = self._handle(
                    msg,
                    payload,
                    record,
                    Standing(
                        msg.contact_ix in opted_out,
                        msg.contact_ix in objected,
                        pending.get(msg.contact_ix, set()),
                    ),
                    now,
                )
                if not self._vault.is_contact_sealed(msg.payload_enc, msg.contact_ix):
                    fx.payload_enc = self._vault.seal_json(
                        "inbox", "payload", msg.wamid, payload, contact=msg.contact_ix
                    )
                handled.append(fx)
            except Exception as exc:  # noqa: BLE001 - isolate one bad message from the batch
                failed.append((msg, type(exc).__name__))
        now = self._clock()
        try:
            owned = self._complete(worker, handled, failed, now, each=False)
        except _NotAllOurs:
            # Rare: a claim of this batch was reclaimed (we were judged dead meanwhile).
            owned = self._complete(worker, handled, failed, now, each=True)
        self._dirty = False
        if self._audit is not None:
            self._audit.committed()
        if failed:
            log.warning("inbox worker: %d message(s) failed in the bot", len(failed))
            metrics.INBOX_PROCESSED.labels("error").inc(len(failed))
        metrics.child(metrics.INBOX_PROCESSED, "done").inc(len(owned))
        self.processed += len(owned)
        if self._on_text is not None:
            self._texts_handled(self._on_text, owned)
        return len(claimed)

    def _complete(
        self,
        worker: int,
        handled: list[MessageEffects],
        failed: list[tuple[ClaimedMessage, str]],
        now: float,
        *,
        each: bool,
    ) -> list[MessageEffects]:
        """The completion transaction: mark done the messages we still own, apply their
        effects, hand their replies over, give failed ones back.  Returns those applied.

        Without ``each`` all of ``handled`` are marked at once, and ``_NotAllOurs`` (the
        transaction rolled back) says to call again with ``each``, one by one.
        """
        handoff = self.handoff
        handed = None
        try:
            with self._conn.begin() as conn:
                ids = self._inbox.mark_done(
                    conn, worker, [(e.msg.id, e.payload_enc) for e in handled], now, each=each
                )
                if ids is None:
                    raise _NotAllOurs
                mine = set(ids)
                owned = [e for e in handled if e.msg.id in mine]
                self._fx.apply(conn, owned, now)
                if handoff is not None and any(e.outbox_rows for e in owned):
                    handed = handoff.handoff_claim(conn, now)
                for msg, error in failed:
                    delay = (
                        RETRY_DELAYS[msg.attempts - 1]
                        if msg.attempts <= len(RETRY_DELAYS)
                        else None
                    )
                    self._inbox.release(
                        conn,
                        worker,
                        msg.id,
                        error=error,
                        retry_at=None if delay is None else now + delay,
                    )
        except Exception:
            if handed is not None and handoff is not None:
                handoff.handoff_failed()
            if self._audit is not None:
                self._audit.discard()
            raise
        if handed is not None and handoff is not None:
            handoff.handoff_committed(handed)
            self._handed = handed
        return owned

    @staticmethod
    def _texts_handled(hook: TextHook, handled: list[MessageEffects]) -> None:
        """Hand each committed customer text to ``hook``; its failure never fails the batch."""
        for fx in handled:
            incoming = fx.incoming
            if incoming.type == "event" or not incoming.text:
                continue
            try:
                hook(fx.msg.tenant, fx.msg.contact_ix, incoming.text, fx.msg.received_at)
            except Exception as exc:  # noqa: BLE001 - monitoring must not stop the inbox
                log.warning("inbox worker: text hook failed: %s", type(exc).__name__)

    def _load(self, conn: Connection, claimed: list[ClaimedMessage]) -> _Loaded:
        """What handling ``claimed`` needs, read in the claim transaction ``conn``."""
        ixs = {m.contact_ix for m in claimed}
        # Each customer's values are sealed under their own key (crypto-shredding); a new
        # key is written in this transaction and trusted once it commits.
        self._vault.ensure_contact_keys(ixs, conn)
        tenant = self._vault.tenant
        opted_out, objected = self._fx.contacts.standing(conn, tenant, ixs)
        return _Loaded(
            self._fx.states.load(conn, ((m.phone_number_id, m.contact_ix) for m in claimed)),
            opted_out,
            objected,
            pending_kinds(conn, tenant, ixs),
        )

    def _handle(
        self,
        msg: ClaimedMessage,
        payload: dict[str, Any],
        record: ConversationRecord,
        standing: Standing,
        now: float,
    ) -> MessageEffects:
        """Run the bot (unless an agent owns the conversation) and collect the effects."""
        incoming = _incoming(msg, payload)
        fx = MessageEffects(msg, incoming, record)
        is_event = incoming.type == "event"
        opted_out = standing.opted_out
        if not is_event:
            fx.contact_row = self._contact_row(msg, payload, now)
            record.last_inbound_at = float(msg.msg_ts) or now
        replies: tuple[Reply, ...] = ()
        command = None if is_event else command_of(incoming.text)
        if command is not None:
            # Data-rights commands work in every state and are always answered.
            fx.rights, reply = _rights_reply(command, standing)
            if command == "object" and record.mode != "human":
                record.mode, record.handoff_at = "human", now
                record.handoff_reason = OBJECTION_REASON
                fx.handoff_opened = True
            replies = (text_reply(reply),)
            opted_out = False  # the answer to an explicit request is not marketing
        elif standing.objected and incoming.event != "agent_closed":
            # The customer objected to automated processing: no bot, a human answers.
            if is_opt_out(incoming.text):
                fx.opt_out, replies = True, (text_reply(OPT_OUT_CONFIRMATION),)
            elif record.mode != "human" and not is_event:
                record.mode, record.handoff_at = "human", now
                record.handoff_reason = OBJECTION_REASON
                fx.handoff_opened = True
        # Timers still reach the bot (it may reschedule a reminder); nothing else does.
        elif record.mode == "human" and incoming.event not in ("agent_closed", "timer"):
            # An agent owns the conversation: the bot stays quiet, but STOP always works.
            if is_opt_out(incoming.text):
                fx.opt_out, replies = True, (text_reply(OPT_OUT_CONFIRMATION),)
        else:
            if incoming.event == "agent_closed":
                record.mode, record.handoff_reason, record.handoff_at = "bot", None, None
            result = self._bot.handle(incoming, record.state)
            record.state = dict(result.state)
            fx.timers, fx.audit, fx.opt_out = result.timers, result.audit, result.opt_out
            # While an agent owns the chat, a timer may reschedule but never speaks.
            replies = () if record.mode == "human" else result.replies
            if result.handoff == "open" and record.mode != "human":
                record.mode, record.handoff_at = "human", now
                fx.handoff_opened = True
                record.handoff_reason = (result.handoff_reason or "requested")[:120]
            if fx.opt_out is None and is_opt_out(incoming.text):
                fx.opt_out, replies = True, (text_reply(OPT_OUT_CONFIRMATION),)
            elif fx.opt_out is None and opted_out and is_opt_in(incoming.text):
                fx.opt_out, replies = False, (text_reply(OPT_IN_CONFIRMATION), *replies)
        if opted_out and fx.opt_out is None:
            replies = ()  # opted out: nothing is sent until the customer opts in again
        replies = tuple(self._with_links(fx, r, now) for r in replies)
        fx.outbox_rows = self._outbox_rows(msg, incoming, replies, now, receipt=not is_event)
        return fx

    def _with_links(self, fx: MessageEffects, reply: Reply, now: float) -> Reply:
        """Replace the verification-link placeholder with a freshly minted link."""
        body = orjson.dumps(reply.message)
        if LINK_PLACEHOLDER.encode() not in body:
            return reply
        pending = fx.record.state.get("pending_verify")
        purpose = str(pending.get("purpose", "verify")) if isinstance(pending, dict) else "verify"
        link = self._fx.mint_link(fx, purpose, now)
        message = orjson.loads(body.replace(LINK_PLACEHOLDER.encode(), link.encode()))
        return Reply(message, reply.fallback)

    def _contact_row(
        self, msg: ClaimedMessage, payload: dict[str, Any], now: float
    ) -> dict[str, Any]:
        name = payload.get("name")
        return {
            "tenant": msg.tenant,
            "contact_ix": msg.contact_ix,
            "wa_id_enc": self._vault.seal(
                "contacts", "wa_id", msg.contact_ix, payload["wa"].encode(), contact=msg.contact_ix
            ),
            "name_enc": self._vault.seal(
                "contacts", "name", msg.contact_ix, name.encode(), contact=msg.contact_ix
            )
            if name
            else None,
            "created_at": now,
            "last_inbound_at": float(msg.msg_ts) or now,
            "opted_out": False,
        }

    def _outbox_rows(
        self,
        msg: ClaimedMessage,
        incoming: Incoming,
        replies: tuple[Reply, ...],
        now: float,
        *,
        receipt: bool,
    ) -> list[dict[str, Any]]:
        base = {
            "tenant": msg.tenant,
            "phone_number_id": msg.phone_number_id,
            "inbox_id": msg.id,
            "contact_ix": msg.contact_ix,
            "state": "todo",
            "attempts": 0,
            "next_attempt_at": 0.0,
            "status_rank": 0,
            "created_at": now,
        }
        rows = []
        if self._mark_read and receipt:
            ref = f"r{msg.id}"
            read = {
                "msg": {"messaging_product": "whatsapp", "status": "read", "message_id": msg.wamid}
            }
            rows.append(
                base
                | {
                    "ref": ref,
                    "seq": 0,
                    "kind": "read",
                    "body_enc": self._vault.seal_json(
                        "outbox", "body", ref, read, contact=msg.contact_ix
                    ),
                }
            )
        head = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": incoming.wa_id,
        }
        for seq, reply in enumerate(replies):
            ref = f"m{msg.id}.{seq}"
            fallback = head | dict(reply.fallback) if reply.fallback is not None else None
            body: dict[str, Any] = {"msg": head | dict(reply.message), "fallback": fallback}
            rows.append(
                base
                | {
                    "ref": ref,
                    "seq": seq,
                    "kind": "message",
                    "body_enc": self._vault.seal_json(
                        "outbox", "body", ref, body, contact=msg.contact_ix
                    ),
                }
            )
        return rows


class _NotAllOurs(Exception):
    """A batch's claims were not all still ours when marking them done (rolled back)."""


class _Loaded(NamedTuple):
    """A claimed batch's conversation states and customers' standing (one query each)."""

    records: dict[tuple[str, str], ConversationRecord]
    opted_out: set[str]
    objected: set[str]
    pending: dict[str, set[str]]


@dataclass(frozen=True, slots=True)
class Standing:
    """What the customer has told us before this message (loaded once per batch)."""

    opted_out: bool = False
    objected: bool = False
    pending: set[str] = field(default_factory=set)  # kinds of pending data-rights requests


def _rights_reply(command: str, standing: Standing) -> tuple[str | None, str]:
    """The effect to store (None: nothing to change) and the reply for a rights command."""
    if command == "erasure" and "erasure" in standing.pending:
        return None, CONFIRMATIONS["erasure_pending"]
    if command == "export" and "export" in standing.pending:
        return None, CONFIRMATIONS["export_pending"]
    if command == "cancel_erasure" and "erasure" not in standing.pending:
        return None, CONFIRMATIONS["cancel_none"]
    return command, CONFIRMATIONS[command]


def _incoming(msg: ClaimedMessage, payload: dict[str, Any]) -> Incoming:
    return Incoming(
        wamid=msg.wamid,
        phone_number_id=msg.phone_number_id,
        wa_id=payload["wa"],
        profile_name=payload.get("name"),
        type=payload.get("type") or "unknown",
        text=payload.get("text"),
        reply_id=payload.get("reply"),
        timestamp=msg.msg_ts,
        secrets=tuple(payload.get("secrets") or ()),
        event=payload.get("event"),
        data=payload.get("data") or {},
        context_wamid=payload.get("ctx"),
        raw=payload.get("raw") or {},
        contact_ix=msg.contact_ix,
    )
