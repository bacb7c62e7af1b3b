"""SQL for the webhook events campaigns consume: claim unprocessed rows of given fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

__all__ = ["ClaimedEvent", "EventsRepository"]

_CLAIM = """
UPDATE webhook_events SET processed = :yes
WHERE id IN (
  SELECT id FROM webhook_events
  WHERE processed = :no AND tenant = :tenant AND field IN :fields
  ORDER BY id LIMIT :limit {lock}
)
RETURNING id, field, event_key, payload_enc
"""


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    id: int
    field: str
    event_key: str
    payload_enc: bytes


class EventsRepository:
    def __init__(self, dialect: str) -> None:
        lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        self._claim = text(_CLAIM.format(lock=lock)).bindparams(bindparam("fields", expanding=True))

    def claim(
        self, conn: Connection, tenant: str, fields: Sequence[str], limit: int
    ) -> list[ClaimedEvent]:
        """Mark up to ``limit`` unprocessed events processed (in this transaction), oldest first."""
        rows = conn.execute(
            self._claim,
            {"yes": True, "no": False, "tenant": tenant, "fields": list(fields), "limit": limit},
        ).all()
        events = [ClaimedEvent(int(r[0]), r[1], r[2], r[3]) for r in rows]
        events.sort(key=lambda e: e.id)
        return events
