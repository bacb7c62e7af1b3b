"""Conversation records (encrypted bot state, bot/human mode), loaded and saved by the worker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from aman.storage.sql import DriverSQL
from aman.storage.vault import Vault

__all__ = ["ConversationRecord", "StateStore"]

Key = tuple[str, str]  # (phone_number_id, contact_ix)


@dataclass(slots=True)
class ConversationRecord:
    state: dict[str, Any] = field(default_factory=dict)
    mode: str = "bot"  # "human" while an agent owns the conversation
    handoff_reason: str | None = None
    handoff_at: float | None = None
    last_inbound_at: float | None = None
    # As loaded: the state's JSON and the sealed blob it came from.  The worker saves
    # every conversation it handled; a state the bot left as it was keeps its blob.
    sealed: tuple[bytes, bytes] | None = field(default=None, repr=False, compare=False)


class StateStore:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        # Every batch saves its states: on the driver (storage.sql.DriverSQL).
        self._upsert = DriverSQL(
            "INSERT INTO conversations (tenant, phone_number_id, contact_ix, state_enc, "
            "updated_at, mode, handoff_reason, handoff_at, last_inbound_at) VALUES (:tenant, "
            ":phone_number_id, :contact_ix, :state_enc, :updated_at, :mode, :handoff_reason, "
            ":handoff_at, :last_inbound_at) ON CONFLICT (tenant, phone_number_id, contact_ix) "
            "DO UPDATE SET state_enc = excluded.state_enc, updated_at = excluded.updated_at, "
            "mode = excluded.mode, handoff_reason = excluded.handoff_reason, "
            "handoff_at = excluded.handoff_at, last_inbound_at = excluded.last_inbound_at"
        )
        # The inbox worker loads states for every batch: on the driver (storage.sql.DriverSQL).
        # Every column of the primary key is bound, so the lookup is a point search per
        # (number, contact) pair; without the number it read all of the tenant's rows.
        self._load = DriverSQL(
            "SELECT phone_number_id, contact_ix, state_enc, mode, handoff_reason, handoff_at, "
            "last_inbound_at FROM conversations WHERE tenant = :tenant "
            "AND phone_number_id IN ({numbers}) AND contact_ix IN ({ixs})"
        )

    @staticmethod
    def _row(phone_number_id: str, contact_ix: str) -> str:
        return f"{phone_number_id}:{contact_ix}"

    def load(self, conn: Connection, keys: Iterable[Key]) -> dict[Key, ConversationRecord]:
        """Records for (phone_number_id, contact_ix) pairs; missing ones are absent."""
        wanted = set(keys)
        if not wanted:
            return {}
        rows = self._load.rows(
            conn,
            {
                "tenant": self._vault.tenant,
                "numbers": list({pnid for pnid, _ in wanted}),
                "ixs": list({ix for _, ix in wanted}),
            },
        )
        out: dict[Key, ConversationRecord] = {}
        for pnid, ix, blob, mode, reason, at, last in rows:
            if (pnid, ix) in wanted:
                plain = self._vault.open("conversations", "state", self._row(pnid, ix), blob)
                out[(pnid, ix)] = ConversationRecord(
                    orjson.loads(plain), mode, reason, at, last, sealed=(plain, blob)
                )
        return out

    def _sealed(self, conn: Connection, pnid: str, ix: str, rec: ConversationRecord) -> bytes:
        """The state's blob: the loaded one if the state is unchanged and under the
        contact's current key (a tenant-key blob from before contact keys, or one whose
        key was erased meanwhile, is sealed anew), else a new seal."""
        plain = orjson.dumps(rec.state)
        if rec.sealed is not None:
            old_plain, old_blob = rec.sealed
            if old_plain == plain and self._vault.is_contact_sealed(old_blob, ix):
                return old_blob
        return self._vault.seal(
            "conversations", "state", self._row(pnid, ix), plain, contact=ix, conn=conn
        )

    def save(self, conn: Connection, records: Mapping[Key, ConversationRecord], now: float) -> None:
        rows = [
            {
                "tenant": self._vault.tenant,
                "phone_number_id": pnid,
                "contact_ix": ix,
                "state_enc": self._sealed(conn, pnid, ix, rec),
                "updated_at": now,
                "mode": rec.mode,
                "handoff_reason": rec.handoff_reason,
                "handoff_at": rec.handoff_at,
                "last_inbound_at": rec.last_inbound_at,
            }
            for (pnid, ix), rec in records.items()
        ]
        self._upsert.many(conn, rows)
