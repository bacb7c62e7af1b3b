"""Durable ingest: turn a parsed webhook into encrypted rows and commit them.

Persist, then acknowledge, then process: the receiver awaits ``Ingestor.store``
and answers 200 only after the group commit returned.  Messages are
deduplicated by wamid, statuses by (wamid, status) and other fields by a content
key, all with ``ON CONFLICT DO NOTHING``, so Meta's redeliveries are harmless.
Statuses are applied to the outbox in the same transaction with a rank guard,
so a status never moves backwards whatever order they arrive in.

A signed body the database refuses for itself (``Unstorable``: it would fail on
every one of Meta's retries, for days) is kept aside instead, sealed, as a
``webhook_events`` row of field ``UNSTORED``, and acknowledged; ``aman webhooks
replay`` stores it once the cause is fixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, select, text

from aman.outbox.fallback import requeue_window_closed
from aman.outbox.graph import WINDOW_CLOSED
from aman.outbox.repository import APPLY_BY_WAMID
from aman.security.blind_index import InvalidIdentifierError
from aman.security.redact import redact
from aman.storage.groupcommit import GroupCommitter, StorageUnavailable, Unstorable, item_failure
from aman.storage.models import WebhookEvent
from aman.storage.sql import DriverSQL, insert_ignore, int32
from aman.storage.vault import Vault
from aman.webhook.parser import (
    STATUS_RANK,
    WebhookShapeError,
    parse_webhook_bytes,
    replaces_below,
)
from aman.webhook.types import InboundMessage, ParsedWebhook, StatusUpdate

__all__ = ["CALLBACK_PREFIX", "UNSTORED", "IngestBatch", "Ingestor", "Observer", "Replay"]

log = logging.getLogger(__name__)
CALLBACK_PREFIX = "aman:"
# The webhook_events field of bodies kept aside (not a Meta field name).
UNSTORED = "aman_unstored"
# Sees each stored webhook after its commit: (parsed, contact_ix of each message, now);
# its messages and statuses are only those stored for the first time (a redelivery is not
# new traffic).
Observer = Callable[[ParsedWebhook, Sequence[str], float], None]
# When a write skipped some of its messages or statuses (stored before): which stored
# rows are whose, looked up in chunks (SQLite allows 32766 parameters).
_INBOX_AT = DriverSQL("SELECT wamid, received_at FROM inbox WHERE wamid IN ({wamids})")
_STATUSES_AT = DriverSQL(
    "SELECT wamid, status, received_at FROM status_events WHERE wamid IN ({wamids})"
)
_LOOKUP_CHUNK = 500

# Delivery progress (webhook.parser.STATUS_RANK): a status only ever raises the rank,
# and "failed" only replaces a status below "read"; :below is replaces_below(status).

_APPLY_BY_REF = text(
    """
    UPDATE outbox SET
      delivery_status = :status,
      status_rank = :rank,
      error_code = COALESCE(:error_code, error_code),
      error_title = COALESCE(:error_title, error_title),
      wamid = COALESCE(wamid, :wamid),
      settled_by = CASE WHEN state = 'uncertain' THEN 'status' ELSE settled_by END,
      sent_at = COALESCE(sent_at, :now),
      state = CASE WHEN state IN ('sending', 'uncertain', 'todo') THEN 'sent' ELSE state END
    WHERE ref = :ref AND status_rank < :below
    """
)


def _col(value: str, limit: int) -> str:
    """A value fit for a text column: no NUL (PostgreSQL refuses it), cut to ``limit``."""
    return value.replace("\x00", "\ufffd")[:limit]


def _key(value: str, limit: int, what: str) -> str:
    """An identifier that is also associated data or a dedup key: refused, never cut."""
    if len(value) > limit:
        raise WebhookShapeError(what, f"longer than {limit} characters")
    return value.replace("\x00", "\ufffd")


def _event_key(key: str) -> str:
    """The dedup key of a field event as stored (a stable digest when it is too long)."""
    if len(key) <= 160 and "\x00" not in key:
        return key
    return "long:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class Replay:
    """What ``Ingestor.replay_unstored`` did: stored now, refused again (and why)."""

    stored: int = 0
    refused: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class IngestBatch:
    """The rows one webhook body produces."""

    inbox: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    applies_by_ref: list[dict[str, Any]] = field(default_factory=list)
    applies_by_wamid: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Replies Meta failed with 131047 after accepting them: by callback ref, else by wamid.
    window_refs: list[str] = field(default_factory=list)
    window_wamids: list[str] = field(default_factory=list)
    # Set by the write: what of ``inbox`` and ``statuses`` was not stored before.
    new_wamids: set[str] = field(default_factory=set)
    new_statuses: set[tuple[str, str]] = field(default_factory=set)


def _wamid(row: dict[str, Any]) -> str:
    return str(row["wamid"])


def _wamid_status(row: dict[str, Any]) -> tuple[str, str]:
    return str(row["wamid"]), str(row["status"])


def _insert_new(
    conn: Connection,
    insert: DriverSQL,
    lookup: DriverSQL,
    rows: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], Any],
) -> set[tuple[Any, float]]:
    """Insert ``rows`` (those stored before are skipped); (key, received_at) of the new.

    ``lookup`` selects the key's columns, then ``received_at``.  When the driver counts
    every row inserted, all are new and nothing is looked up (the common case).
    Otherwise a row this write stored carries the ``received_at`` of the webhook that
    brought it, and one stored before (or by an earlier webhook of this write) another.
    """
    if insert.many(conn, rows) == len(rows):
        return {(key(r), r["received_at"]) for r in rows}
    stored: set[tuple[Any, float]] = set()
    wamids = list({r["wamid"] for r in rows})
    for i in range(0, len(wamids), _LOOKUP_CHUNK):
        for *cols, at in lookup.rows(conn, {"wamids": wamids[i : i + _LOOKUP_CHUNK]}):
            stored.add((cols[0] if len(cols) == 1 else tuple(cols), at))
    return stored


def _first_stored(parsed: ParsedWebhook, batch: IngestBatch) -> tuple[ParsedWebhook, list[str]]:
    """``parsed`` with only the messages and statuses this webhook stored first, and the
    blind index of each message kept (so the observer need not compute it again).

    Meta redelivers for days: a message or a failure seen again must not count twice
    towards a flood or a failure spike.
    """
    messages, contacts, seen = [], [], set()
    for msg, row in zip(parsed.messages, batch.inbox, strict=True):
        wamid = row["wamid"]
        if wamid in batch.new_wamids and wamid not in seen:
            seen.add(wamid)
            messages.append(msg)
            contacts.append(row["contact_ix"])
    statuses, pairs = [], set()
    for st, row in zip(parsed.statuses, batch.statuses, strict=True):
        pair = (row["wamid"], row["status"])
        if pair in batch.new_statuses and pair not in pairs:
            pairs.add(pair)
            statuses.append(st)
    if len(messages) == len(parsed.messages) and len(statuses) == len(parsed.statuses):
        return parsed, contacts
    return dataclasses.replace(parsed, messages=tuple(messages), statuses=tuple(statuses)), contacts


class Ingestor:
    """Builds rows from parsed webhooks and commits them through a group commit."""

    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        *,
        dialect: str,
        queue_limit: int = 20000,
        on_inbox: Callable[[], None] | None = None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._vault = vault
        self._tenant = vault.tenant
        self._clock = clock
        self._on_inbox = on_inbox
        self._observer = observer
        # Statements are built once, not per request.
        # One per webhook at low rates: on the driver (storage.sql.DriverSQL).
        self._ins_inbox = DriverSQL(
            "INSERT INTO inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
            "payload_enc, msg_ts, received_at, status, attempts, not_before) "
            "VALUES (:tenant, :phone_number_id, :wamid, :contact_ix, :msg_type, :payload_enc, "
            ":msg_ts, :received_at, :status, :attempts, :not_before) "
            "ON CONFLICT (wamid) DO NOTHING"
        )
        self._ins_status = DriverSQL(
            "INSERT INTO status_events (tenant, wamid, status, status_ts, outbox_ref, "
            "error_code, payload_enc, received_at) VALUES (:tenant, :wamid, :status, "
            ":status_ts, :outbox_ref, :error_code, :payload_enc, :received_at) "
            "ON CONFLICT (wamid, status) DO NOTHING"
        )
        self._ins_event = insert_ignore(dialect, WebhookEvent, ["event_key"])
        self.committer: GroupCommitter[IngestBatch] = GroupCommitter(
            engine,
            self._write,
            queue_limit=queue_limit,
            after_commit=self._after_commit,
            name="ingest",
            # A webhook's answer waits for this commit: never behind a worker's batch.
            own_thread=True,
        )

    def start(self) -> None:
        self.committer.start()

    async def close(self) -> None:
        await self.committer.close()

    async def store(self, parsed: ParsedWebhook, body: bytes | None = None) -> bool:
        """Commit everything in ``parsed``; returns only once it is durable.

        False when the database refused the rows themselves and ``body`` (the raw
        webhook) was kept aside instead; without ``body`` that raises ``Unstorable``.
        """
        batch = self.build(parsed)
        if batch.inbox or batch.statuses or batch.events:
            try:
                await self.committer.submit(batch)
            except Unstorable as exc:
                if body is None:
                    raise
                await self.committer.submit(self.unstored_batch(body, str(exc)))
                log.error(
                    "webhook %s kept aside: the database refused its rows (%s); "
                    "run `aman webhooks replay` once the cause is fixed",
                    hashlib.sha256(body).hexdigest()[:16],
                    exc,
                )
                return False
        if self._observer is not None:
            try:
                fresh, contacts = _first_stored(parsed, batch)
                self._observer(fresh, contacts, self._clock())
            except Exception:
                log.exception("webhook observer failed")
        return True

    def unstored_batch(self, body: bytes, reason: str) -> IngestBatch:
        """A body kept aside: one sealed row, deduplicated by the body's digest."""
        key = "unstored:" + hashlib.sha256(body).hexdigest()
        payload = {"body": body.decode("utf-8", "replace"), "reason": reason[:200]}
        row = {
            "tenant": self._tenant,
            "field": UNSTORED,
            "entry_id": "",
            "phone_number_id": "",
            "event_key": key,
            "payload_enc": self._vault.seal_json("webhook_events", "payload", key, payload),
            "received_at": self._clock(),
            "processed": False,
        }
        return IngestBatch(events=[row])

    def kept_aside(self, engine: Engine) -> list[tuple[int, float, dict[str, Any]]]:
        """The bodies kept aside, oldest first: (row id, received at, opened payload)."""
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    WebhookEvent.id,
                    WebhookEvent.received_at,
                    WebhookEvent.event_key,
                    WebhookEvent.payload_enc,
                )
                .where(WebhookEvent.tenant == self._tenant, WebhookEvent.field == UNSTORED)
                .order_by(WebhookEvent.id)
            ).all()
        return [
            (
                r.id,
                r.received_at,
                self._vault.open_json("webhook_events", "payload", r.event_key, r.payload_enc),
            )
            for r in rows
        ]

    def replay_unstored(self, engine: Engine) -> Replay:
        """Store each body kept aside, and drop its row in the same transaction.

        A body refused again stays kept aside (counted by reason); a database that
        cannot be reached stops the replay with ``StorageUnavailable``.
        """
        report = Replay()
        for row_id, _, payload in self.kept_aside(engine):
            try:
                batch = self.build(parse_webhook_bytes(str(payload["body"]).encode()))
                with engine.begin() as conn:
                    self._write(conn, [batch])
                    conn.execute(delete(WebhookEvent).where(WebhookEvent.id == row_id))
            except WebhookShapeError:
                report.refused["bad shape"] += 1
                continue
            except Exception as exc:  # sorted into an outage or a refusal
                failure = item_failure(exc)
                if isinstance(failure, StorageUnavailable):
                    raise failure from exc
                report.refused[str(failure)] += 1
                continue
            report.stored += 1
        if report.stored and self._on_inbox is not None:
            self._on_inbox()
        return report

    # -- row building (event loop, cheap) -----------------------------------
    def build(self, parsed: ParsedWebhook) -> IngestBatch:
        """Rows for ``parsed``; ``WebhookShapeError`` for content that cannot be stored."""
        try:
            return self._build(parsed)
        except InvalidIdentifierError:
            raise WebhookShapeError("messages[].from", "not a phone number") from None
        except orjson.JSONEncodeError:
            raise WebhookShapeError("messages|statuses", "nested too deeply to store") from None

    def _build(self, parsed: ParsedWebhook) -> IngestBatch:
        now = self._clock()
        batch = IngestBatch()
        for msg in parsed.messages:
            batch.inbox.append(self._inbox_row(msg, now))
        for st in parsed.statuses:
            self._status_rows(st, now, batch)
        for ev in parsed.events:
            key = _event_key(ev.event_key)
            batch.events.append(
                {
                    "tenant": self._tenant,
                    "field": _col(ev.field, 64),
                    "entry_id": _col(ev.entry_id, 64),
                    "phone_number_id": _col(ev.phone_number_id, 64),
                    "event_key": key,
                    "payload_enc": self._vault.seal_json(
                        "webhook_events", "payload", key, ev.value
                    ),
                    "received_at": now,
                    "processed": False,
                }
            )
        return batch

    def _inbox_row(self, msg: InboundMessage, now: float) -> dict[str, Any]:
        text_value = msg.text
        secrets: list[str] = []
        raw: Any = msg.raw
        if text_value:
            red = redact(text_value)
            if red.findings:
                secrets = sorted({f.kind for f in red.findings})
                text_value = red.text
                raw = {"redacted": True, "type": msg.type}  # never keep the secret
        payload = {
            "wa": msg.wa_id,
            "uid": msg.user_id,
            "name": msg.profile_name,
            "disp": msg.display_phone_number,
            "type": msg.type,
            "sub": msg.subtype,
            "text": text_value,
            "reply": msg.reply_id,
            "ctx": msg.context_wamid,
            "ref": dict(msg.referral) if msg.referral is not None else None,
            "err": [e.code for e in msg.errors],
            "secrets": secrets,
            "raw": raw,
        }
        wamid = _key(msg.wamid, 256, "a message id")
        return {
            "tenant": self._tenant,
            "phone_number_id": _col(msg.phone_number_id, 64),
            "wamid": wamid,
            "contact_ix": self._vault.contact_index(msg.wa_id),
            "msg_type": _col(msg.type, 32),
            "payload_enc": self._vault.seal_json("inbox", "payload", wamid, payload),
            "msg_ts": msg.timestamp,
            "received_at": now,
            "status": "todo",
            "attempts": 0,
            "not_before": 0.0,
        }

    def _status_rows(self, st: StatusUpdate, now: float, batch: IngestBatch) -> None:
        rank = STATUS_RANK.get(st.status)
        error = st.errors[0] if st.errors else None
        # Graph error codes fit in 32 bits; anything else stays in the sealed payload only.
        code = int32(error.code) if error else None
        wamid = _key(st.wamid, 256, "a status's message id")
        status = _key(st.status, 16, "a status")
        ref = None
        cb = st.biz_opaque_callback_data
        if cb and cb.startswith(CALLBACK_PREFIX):
            ref = _col(cb[len(CALLBACK_PREFIX) :], 64)
        batch.statuses.append(
            {
                "tenant": self._tenant,
                "wamid": wamid,
                "status": status,
                "status_ts": st.timestamp,
                "outbox_ref": ref,
                "error_code": code,
                "payload_enc": self._vault.seal_json(
                    "status_events", "payload", f"{wamid}:{status}", st.raw
                ),
                "received_at": now,
            }
        )
        if rank is None:
            return
        if status == "failed" and code == WINDOW_CLOSED:
            if ref is not None:
                batch.window_refs.append(ref)
            else:
                batch.window_wamids.append(wamid)
        params = {
            "status": status,
            "rank": rank,
            "below": replaces_below(status),
            "error_code": code,
            "error_title": _col(error.title, 200) if error else None,
            "wamid": wamid,
            "now": now,
        }
        if ref is not None:
            params["ref"] = ref
            batch.applies_by_ref.append(params)
        else:
            batch.applies_by_wamid.append(params)

    # -- writing (writer thread) -------------------------------------------
    def _write(self, conn: Connection, batches: Sequence[IngestBatch]) -> None:
        inbox = [r for b in batches for r in b.inbox]
        statuses = [r for b in batches for r in b.statuses]
        events = [r for b in batches for r in b.events]
        by_ref = [r for b in batches for r in b.applies_by_ref]
        by_wamid = [r for b in batches for r in b.applies_by_wamid]
        new = _insert_new(conn, self._ins_inbox, _INBOX_AT, inbox, _wamid)
        for b in batches:
            b.new_wamids = {_wamid(r) for r in b.inbox if (_wamid(r), r["received_at"]) in new}
        new = _insert_new(conn, self._ins_status, _STATUSES_AT, statuses, _wamid_status)
        for b in batches:
            b.new_statuses = {
                _wamid_status(r) for r in b.statuses if (_wamid_status(r), r["received_at"]) in new
            }
        if events:
            conn.execute(self._ins_event, events)
        # The rank guard in the UPDATE: a late webhook never moves a status backwards
        # (parser.status_advances has the rules, "failed" being terminal).
        if by_ref:
            conn.execute(_APPLY_BY_REF, by_ref)
        APPLY_BY_WAMID.many(conn, by_wamid)
        refs = [r for b in batches for r in b.window_refs]
        wamids = [w for b in batches for w in b.window_wamids]
        if refs or wamids:  # after the failed statuses above were applied
            requeued = requeue_window_closed(conn, self._vault, refs=refs, wamids=wamids)
            if requeued:
                log.info(
                    "ingest: %d repl(ies) refused for a closed window go out as templates", requeued
                )

    def _after_commit(self, batches: Sequence[IngestBatch]) -> None:
        if self._on_inbox is not None and any(b.inbox for b in batches):
            self._on_inbox()
