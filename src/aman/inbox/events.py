"""Synthetic conversation events (timers, verification, agent hand-back) as inbox rows.

They travel through the same ordered inbox as customer messages, so a timer
or a completed verification is handled in order with the conversation and
exactly once (the dedup key becomes the row's unique ``wamid``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from aman.storage.models import Inbox
from aman.storage.sql import insert_ignore
from aman.storage.vault import Vault

__all__ = ["EventWriter", "event_row"]


def event_row(
    vault: Vault,
    *,
    phone_number_id: str,
    contact_ix: str,
    wa_id: str,
    event: str,
    data: Mapping[str, Any],
    key: str,
    now: float,
) -> dict[str, Any]:
    """An inbox row carrying ``event`` for one conversation; ``key`` makes it unique."""
    wamid = f"event:{key}"[:256]
    payload = {"wa": wa_id, "type": "event", "event": event, "data": dict(data), "secrets": []}
    return {
        "tenant": vault.tenant,
        "phone_number_id": phone_number_id,
        "wamid": wamid,
        "contact_ix": contact_ix,
        "msg_type": "event",
        "payload_enc": vault.seal_json("inbox", "payload", wamid, payload),
        "msg_ts": int(now),
        "received_at": now,
        "status": "todo",
        "attempts": 0,
        "not_before": 0.0,
    }


class EventWriter:
    def __init__(self, dialect: str) -> None:
        self._insert = insert_ignore(dialect, Inbox, ["wamid"])

    def write(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._insert, list(rows))
