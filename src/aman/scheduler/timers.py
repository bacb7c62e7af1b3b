"""Durable timers: bots set them, the scheduler fires due ones as conversation events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, text

from aman.inbox.events import EventWriter, event_row
from aman.storage.models import TimerRow
from aman.storage.sql import upsert
from aman.storage.vault import Vault

__all__ = ["TimerRepository"]

_CLAIM = """
UPDATE timers SET state = 'fired'
WHERE id IN (
  SELECT id FROM timers WHERE state = 'pending' AND fire_at <= :now AND tenant = :tenant
  ORDER BY fire_at LIMIT :limit {lock}
)
RETURNING id, phone_number_id, contact_ix, name, fire_at, data_enc
"""


class TimerRepository:
    def __init__(self, dialect: str, vault: Vault) -> None:
        self._vault = vault
        self._upsert = upsert(
            dialect,
            TimerRow,
            ["tenant", "phone_number_id", "contact_ix", "name"],
            ["fire_at", "state", "data_enc"],
        )
        lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        self._claim = text(_CLAIM.format(lock=lock))
        self._events = EventWriter(dialect)

    @staticmethod
    def _aad_row(pnid: str, ix: str, name: str) -> str:
        return f"{pnid}:{ix}:{name}"

    def set(
        self,
        conn: Connection,
        *,
        phone_number_id: str,
        contact_ix: str,
        wa_id: str,
        name: str,
        at: float | None,
        data: dict[str, Any],
    ) -> None:
        """Create or replace the conversation's timer ``name``; ``at=None`` cancels it."""
        if at is None:
            conn.execute(
                delete(TimerRow).where(
                    TimerRow.tenant == self._vault.tenant,
                    TimerRow.phone_number_id == phone_number_id,
                    TimerRow.contact_ix == contact_ix,
                    TimerRow.name == name,
                )
            )
            return
        blob = self._vault.seal_json(
            "timers",
            "data",
            self._aad_row(phone_number_id, contact_ix, name),
            {"wa": wa_id, "data": data},
            contact=contact_ix,
            conn=conn,
        )
        conn.execute(
            self._upsert,
            [
                {
                    "tenant": self._vault.tenant,
                    "phone_number_id": phone_number_id,
                    "contact_ix": contact_ix,
                    "name": name[:64],
                    "fire_at": at,
                    "state": "pending",
                    "data_enc": blob,
                }
            ],
        )

    def fire_due(self, conn: Connection, now: float, limit: int = 500) -> int:
        """Turn due timers into conversation events; returns how many fired."""
        rows: Sequence[Any] = conn.execute(
            self._claim, {"now": now, "limit": limit, "tenant": self._vault.tenant}
        ).all()
        events = []
        for tid, pnid, ix, name, fire_at, blob in rows:
            stored = self._vault.open_json("timers", "data", self._aad_row(pnid, ix, name), blob)
            events.append(
                event_row(
                    self._vault,
                    phone_number_id=pnid,
                    contact_ix=ix,
                    wa_id=stored["wa"],
                    event="timer",
                    data={"name": name, **stored.get("data", {})},
                    key=f"timer:{tid}:{fire_at!r}",
                    now=now,
                )
            )
        self._events.write(conn, events)
        return len(events)
