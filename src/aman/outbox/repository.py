"""SQL for the durable outbox: enqueue, claim in order per recipient, record results, reconcile.

A row moves todo -> sending -> sent | failed, or back to todo with a later
``next_attempt_at`` for a transient error.  A row found in 'sending' whose
worker died is *uncertain*: the request may or may not have reached Meta.  It
waits ``reconcile_seconds`` for a status webhook carrying its ref in
``biz_opaque_callback_data`` (then it is settled as sent without resending);
only if none arrives is it sent again.  After a database outage, during which the
receiver refused webhooks, the window is pushed back, since Meta delivers the
refused statuses only on its retries (``reap``'s ``hold_until``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from aman.storage.sql import DriverSQL
from aman.webhook.parser import STATUS_RANK, replaces_below

__all__ = ["APPLY_BY_WAMID", "ClaimedSend", "OutboxRepository", "SendOutcome"]

# A delivery status found by the message's wamid: never moves a status backwards (the
# rank guard), whatever order the webhooks came in.  Ingest applies statuses that carry
# no callback ref with it, and the outcome of a send applies those that came before it.
APPLY_BY_WAMID = DriverSQL(
    "UPDATE outbox SET delivery_status = :status, status_rank = :rank, "
    "error_code = COALESCE(:error_code, error_code), "
    "error_title = COALESCE(:error_title, error_title) "
    "WHERE wamid = :wamid AND status_rank < :below"
)

# What an enqueued row holds unless the caller says otherwise (the model's defaults).
_NEW_ROW: dict[str, Any] = {
    "inbox_id": None,
    "seq": 0,
    "state": "todo",
    "attempts": 0,
    "next_attempt_at": 0.0,
    "status_rank": 0,
}


_CLAIM = """
UPDATE outbox SET state = 'sending', worker_id = :worker, claimed_at = :now,
                  attempts = attempts + 1
WHERE id IN (
  SELECT o.id FROM outbox o
  WHERE o.state = 'todo' AND o.next_attempt_at <= :now
    AND o.phone_number_id IN ({numbers})
    AND (o.kind = 'read' OR NOT EXISTS (
          SELECT 1 FROM outbox p
          WHERE p.contact_ix = o.contact_ix AND p.kind = 'message' AND p.id < o.id
            AND p.state IN ('todo', 'sending', 'uncertain')))
  ORDER BY o.id
  LIMIT :limit
  {lock}
)
RETURNING id, ref, kind, phone_number_id, contact_ix, body_enc, attempts
"""


@dataclass(frozen=True, slots=True)
class ClaimedSend:
    id: int
    ref: str
    kind: str
    phone_number_id: str
    contact_ix: str
    body_enc: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one delivery attempt ended in; written back in a group commit."""

    outbox_id: int
    attempt: int
    outcome: str  # sent | retry | failed | uncertain | fallback | halted | deferred
    at: float
    latency_ms: float
    http_status: int | None = None
    wamid: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    next_attempt_at: float | None = None
    new_body_enc: bytes | None = None
    # Halted: (business number, time) its other waiting rows are put off until.
    halt: tuple[str, float] | None = None


class OutboxRepository:
    """All outbox SQL."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        # Every message passes through these: on the driver (storage.sql.DriverSQL).
        self._waiting = DriverSQL(
            "SELECT 1 FROM outbox WHERE state = 'todo' AND next_attempt_at <= :now "
            "AND phone_number_id IN ({numbers}) LIMIT 1"
        )
        self._claim = DriverSQL(_CLAIM.replace("{lock}", lock))
        self._discover = DriverSQL(
            "SELECT phone_number_id, MAX(id) FROM outbox WHERE id > :after GROUP BY phone_number_id"
        )
        self._insert = DriverSQL(
            "INSERT INTO outbox (tenant, phone_number_id, ref, inbox_id, seq, kind, contact_ix, "
            "body_enc, state, attempts, next_attempt_at, status_rank, created_at) "
            "VALUES (:tenant, :phone_number_id, :ref, :inbox_id, :seq, :kind, :contact_ix, "
            ":body_enc, :state, :attempts, :next_attempt_at, :status_rank, :created_at) "
            "ON CONFLICT (inbox_id, seq, kind) DO NOTHING"
        )
        self._insert_attempt = DriverSQL(
            "INSERT INTO send_attempts (outbox_id, attempt, at, outcome, http_status, "
            "error_code, latency_ms) VALUES (:outbox_id, :attempt, :at, :outcome, "
            ":http_status, :error_code, :latency_ms)"
        )
        self._sent = DriverSQL(
            "UPDATE outbox SET state = 'sent', wamid = COALESCE(wamid, :wamid), "
            "sent_at = COALESCE(sent_at, :at), worker_id = NULL WHERE id = :id "
            "AND state <> 'failed'"
        )
        self._retry = DriverSQL(
            "UPDATE outbox SET state = 'todo', next_attempt_at = :next, worker_id = NULL, "
            "error_code = :code, error_title = :title WHERE id = :id AND state = 'sending'"
        )
        # Halted (Meta refuses the number) or deferred (paced here, never sent): back to
        # the queue, and the attempt does not count against the retry budget.
        self._put_back = DriverSQL(
            "UPDATE outbox SET state = 'todo', next_attempt_at = :next, worker_id = NULL, "
            "attempts = attempts - 1, error_code = :code, error_title = :title "
            "WHERE id = :id AND state = 'sending'"
        )
        self._halt_queue = DriverSQL(
            "UPDATE outbox SET next_attempt_at = :next WHERE phone_number_id = :number "
            "AND state = 'todo' AND next_attempt_at < :next"
        )
        self._failed = DriverSQL(
            "UPDATE outbox SET state = 'failed', worker_id = NULL, error_code = :code, "
            "error_title = :title WHERE id = :id AND state = 'sending'"
        )
        self._uncertain = DriverSQL(
            "UPDATE outbox SET state = 'uncertain', worker_id = NULL, reconcile_by = :next "
            "WHERE id = :id AND state = 'sending'"
        )
        self._fallback = DriverSQL(
            "UPDATE outbox SET state = 'todo', body_enc = :body, next_attempt_at = :at, "
            "worker_id = NULL, error_code = :code WHERE id = :id AND state = 'sending'"
        )
        # Statuses found only by wamid (``failed`` carries no callback ref) that were
        # stored before the send's outcome gave its row that wamid.
        # On the driver: it runs with every outcome batch that has a wamid.
        self._early_statuses = DriverSQL(
            "SELECT wamid, status, error_code FROM status_events "
            "WHERE outbox_ref IS NULL AND wamid IN ({wamids})"
        )
        self._own_sending = text(
            "SELECT id FROM outbox WHERE state = 'sending' AND worker_id = :worker"
        )
        self._mark_uncertain = text(
            "UPDATE outbox SET state = 'uncertain', worker_id = NULL, reconcile_by = :deadline "
            "WHERE id = :id AND state = 'sending' AND worker_id = :worker"
        )
        # Read receipts are idempotent: resend at once.  Messages wait for reconciliation.
        self._reap = text(
            "UPDATE outbox SET state = 'uncertain', reconcile_by = :deadline "
            "WHERE state = 'sending' AND worker_id IS NULL AND kind = 'message'"
        )
        self._reap_reads = text(
            "UPDATE outbox SET state = 'todo', next_attempt_at = 0 "
            "WHERE state = 'sending' AND worker_id IS NULL AND kind = 'read'"
        )
        self._defer = text(
            "UPDATE outbox SET reconcile_by = :until "
            "WHERE state = 'uncertain' AND reconcile_by < :until"
        )
        self._resend = text(
            "UPDATE outbox SET state = 'todo', settled_by = 'resent', next_attempt_at = :now "
            "WHERE state = 'uncertain' AND reconcile_by <= :now"
        )

    def enqueue(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new rows (columns not given take the model's defaults); a row already
        written for the same inbound message (same inbox_id, seq, kind) is skipped."""
        self._insert.many(conn, [_NEW_ROW | row for row in rows])

    def discover(self, conn: Connection, after_id: int) -> tuple[set[str], int]:
        """Business numbers with outbox rows newer than ``after_id``, and the newest id."""
        rows = self._discover.rows(conn, {"after": after_id})
        return {r[0] for r in rows}, max((int(r[1]) for r in rows), default=after_id)

    def any_waiting(self, conn: Connection, now: float, numbers: Sequence[str]) -> bool:
        """Whether ready rows of ``numbers`` are still 'todo' (claimable, or held back
        behind an earlier message to the same recipient)."""
        if not numbers:
            return False
        params = {"now": now, "numbers": list(numbers)}
        return bool(self._waiting.rows(conn, params))

    def claim(
        self, conn: Connection, worker: int, limit: int, now: float, numbers: Sequence[str]
    ) -> list[ClaimedSend]:
        """Claim ready rows of the business numbers this sender holds the lease for."""
        if not numbers:
            return []
        params = {"worker": worker, "limit": limit, "now": now, "numbers": list(numbers)}
        claimed = [ClaimedSend(*row) for row in self._claim.rows(conn, params)]
        claimed.sort(key=lambda c: c.id)
        return claimed

    def record(self, conn: Connection, outcomes: Sequence[SendOutcome]) -> None:
        """Write a batch of attempt outcomes and their attempt log rows."""
        groups: dict[str, list[dict[str, Any]]] = {}
        attempts = []
        for o in outcomes:
            attempts.append(
                {
                    "outbox_id": o.outbox_id,
                    "attempt": o.attempt,
                    "at": o.at,
                    "outcome": o.outcome,
                    "http_status": o.http_status,
                    "error_code": o.error_code,
                    "latency_ms": o.latency_ms,
                }
            )
            params: dict[str, Any] = {"id": o.outbox_id}
            if o.outcome == "sent":
                params.update(wamid=o.wamid, at=o.at)
            elif o.outcome in ("retry", "halted", "deferred"):
                params.update(next=o.next_attempt_at, code=o.error_code, title=o.error_title)
            elif o.outcome == "failed":
                params.update(code=o.error_code, title=o.error_title)
            elif o.outcome == "uncertain":
                params.update(next=o.next_attempt_at)
            elif o.outcome == "fallback":
                params.update(body=o.new_body_enc, at=o.at, code=o.error_code)
            else:
                raise ValueError(f"unknown send outcome {o.outcome!r}")
            groups.setdefault(o.outcome, []).append(params)
        statements = {
            "sent": self._sent,
            "retry": self._retry,
            "failed": self._failed,
            "uncertain": self._uncertain,
            "fallback": self._fallback,
            "halted": self._put_back,
            "deferred": self._put_back,
        }
        for outcome, params_list in groups.items():
            statements[outcome].many(conn, params_list)
        self._insert_attempt.many(conn, attempts)
        halts = dict(o.halt for o in outcomes if o.halt is not None)
        self._halt_queue.many(conn, [{"number": n, "next": t} for n, t in halts.items()])
        wamids = [o.wamid for o in outcomes if o.outcome == "sent" and o.wamid]
        if wamids:
            self._link_early_statuses(conn, wamids)

    def _link_early_statuses(self, conn: Connection, wamids: list[str]) -> None:
        """Apply statuses that came by wamid before these rows had their wamid."""
        found = self._early_statuses.rows(conn, {"wamids": wamids})
        APPLY_BY_WAMID.many(
            conn,
            [
                {
                    "status": st,
                    "rank": STATUS_RANK[st],
                    "below": replaces_below(st),
                    "error_code": code,
                    "error_title": None,  # kept sealed in the stored status only
                    "wamid": wamid,
                }
                for wamid, st, code in found
                if st in STATUS_RANK
            ],
        )

    def sweep_untracked(
        self, conn: Connection, worker: int, owned: frozenset[int], deadline: float
    ) -> int:
        """Our 'sending' rows that we do not track any more become uncertain."""
        rows = conn.execute(self._own_sending, {"worker": worker}).scalars().all()
        lost = [i for i in rows if i not in owned]
        if not lost:
            return 0
        conn.execute(
            self._mark_uncertain,
            [{"id": i, "worker": worker, "deadline": deadline} for i in lost],
        )
        return len(lost)

    def reap(
        self,
        conn: Connection,
        now: float,
        reconcile_seconds: float,
        *,
        hold_until: float | None = None,
    ) -> tuple[int, int, int]:
        """Orphaned 'sending' rows become uncertain; uncertain rows past deadline are resent.

        With ``hold_until`` (after an outage) every uncertain row, the orphans just found
        included, first waits at least until then.  Returns (newly uncertain, held back,
        released for resend).
        """
        uncertain = conn.execute(self._reap, {"deadline": now + reconcile_seconds}).rowcount
        held = 0
        if hold_until is not None:
            held = conn.execute(self._defer, {"until": hold_until}).rowcount
        resent = conn.execute(self._resend, {"now": now}).rowcount
        resent += conn.execute(self._reap_reads).rowcount
        return int(uncertain), int(held), int(resent)
