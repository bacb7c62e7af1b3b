"""SQL for the durable inbox: claim in order per conversation, complete, retry, reap.

Claiming is one UPDATE ... RETURNING (with FOR UPDATE SKIP LOCKED on
PostgreSQL).  A message is claimable only when no other message of the same
conversation is in work and none earlier is still waiting, so each
conversation is handled strictly in order while different conversations run
in parallel; a partial unique index (one 'doing' row per conversation) is the
backstop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from aman.storage.sql import DriverSQL

__all__ = ["ClaimedMessage", "InboxRepository"]

_CLAIM = """
UPDATE inbox SET status = 'doing', worker_id = :worker, attempts = attempts + 1
WHERE id IN (
  SELECT i.id FROM inbox i
  WHERE i.status = 'todo' AND i.not_before <= :now
    AND NOT EXISTS (SELECT 1 FROM inbox d
                    WHERE d.contact_ix = i.contact_ix AND d.status = 'doing')
    AND NOT EXISTS (SELECT 1 FROM inbox e
                    WHERE e.contact_ix = i.contact_ix AND e.status = 'todo' AND e.id < i.id)
  ORDER BY i.id
  LIMIT :limit
  {lock}
)
RETURNING id, tenant, phone_number_id, wamid, contact_ix, payload_enc, msg_ts,
          received_at, attempts
"""


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    tenant: str
    phone_number_id: str
    wamid: str
    contact_ix: str
    payload_enc: bytes
    msg_ts: int
    received_at: float
    attempts: int


class InboxRepository:
    """All inbox SQL; the only module that touches the inbox table's state."""

    def __init__(self, dialect: str) -> None:
        lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        # The worker's per-batch statements run on the driver (storage.sql.DriverSQL).
        self._claim = DriverSQL(_CLAIM.format(lock=lock))
        self._waiting = DriverSQL(
            "SELECT 1 FROM inbox WHERE status = 'todo' AND not_before <= :now LIMIT 1"
        )
        self._done = DriverSQL(
            "UPDATE inbox SET status = 'done', done_at = :now, worker_id = NULL, "
            "last_error = NULL, payload_enc = COALESCE(:payload, payload_enc) "
            "WHERE id = :id AND status = 'doing' AND worker_id = :worker"
        )
        self._retry = text(
            "UPDATE inbox SET status = :status, not_before = :not_before, worker_id = NULL, "
            "last_error = :error WHERE id = :id AND status = 'doing' AND worker_id = :worker"
        )
        self._release_own = text(
            "UPDATE inbox SET status = 'todo', worker_id = NULL "
            "WHERE status = 'doing' AND worker_id = :worker"
        )
        self._reap = text(
            "UPDATE inbox SET status = 'todo' WHERE status = 'doing' AND worker_id IS NULL"
        )

    def any_waiting(self, conn: Connection, now: float) -> bool:
        """Whether messages due by ``now`` are still 'todo' (claimable, or waiting behind
        an earlier message of their conversation)."""
        return bool(self._waiting.rows(conn, {"now": now}))

    def claim(self, conn: Connection, worker: int, limit: int, now: float) -> list[ClaimedMessage]:
        rows = self._claim.rows(conn, {"worker": worker, "limit": limit, "now": now})
        claimed = [ClaimedMessage(*row) for row in rows]
        claimed.sort(key=lambda m: m.id)
        return claimed

    def mark_done(
        self,
        conn: Connection,
        worker: int,
        done: Sequence[tuple[int, bytes | None]],
        now: float,
        *,
        each: bool = False,
    ) -> list[int] | None:
        """Mark messages ``(id, payload_enc)`` done if we still own their claims.

        ``payload_enc`` replaces the stored payload (re-sealed under the contact's key).
        At once (one ``executemany``): the ids, or None when the row count says that
        not all of them were still ours (someone reclaimed one: roll back and call
        again with ``each``).  With ``each``: one statement per message, the ids of
        those we still owned.
        """
        ids = [i for i, _ in done]
        params = [{"id": i, "worker": worker, "now": now, "payload": p} for i, p in done]
        if each:
            return [i for i, p in zip(ids, params, strict=True) if self._done.run(conn, p) == 1]
        return ids if self._done.many(conn, params) == len(params) else None

    def release(
        self, conn: Connection, worker: int, message_id: int, *, error: str, retry_at: float | None
    ) -> None:
        """Give a message back for a later retry, or park it as failed (retry_at None)."""
        params: dict[str, Any] = {
            "id": message_id,
            "worker": worker,
            "error": error[:200],
            "status": "todo" if retry_at is not None else "failed",
            "not_before": retry_at if retry_at is not None else 0.0,
        }
        conn.execute(self._retry, params)

    def release_own(self, conn: Connection, worker: int) -> int:
        """Give back every claim of ``worker`` (after a failed batch: none is in progress)."""
        return int(conn.execute(self._release_own, {"worker": worker}).rowcount)

    def reap(self, conn: Connection) -> int:
        """Orphaned claims (their worker row is gone) go back to 'todo'."""
        return int(conn.execute(self._reap).rowcount)
