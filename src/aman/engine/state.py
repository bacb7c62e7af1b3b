"""Conversation state persistence (encrypted), loaded and saved by the inbox worker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from aman.storage.models import Conversation
from aman.storage.vault import Vault

__all__ = ["StateStore"]


class StateStore:
    def __init__(self, dialect: str, vault: Vault) -> None:
        self._vault = vault
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = ins(Conversation)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["tenant", "phone_number_id", "contact_ix"],
            set_={"state_enc": stmt.excluded.state_enc, "updated_at": stmt.excluded.updated_at},
        )

    @staticmethod
    def _row(phone_number_id: str, contact_ix: str) -> str:
        return f"{phone_number_id}:{contact_ix}"

    def load(
        self, conn: Connection, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """States for (phone_number_id, contact_ix) pairs; missing ones are absent."""
        wanted = set(keys)
        if not wanted:
            return {}
        rows = conn.execute(
            select(Conversation.phone_number_id, Conversation.contact_ix, Conversation.state_enc)
            .where(Conversation.tenant == self._vault.tenant)
            .where(Conversation.contact_ix.in_({ix for _, ix in wanted}))
        ).all()
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for pnid, ix, blob in rows:
            if (pnid, ix) in wanted:
                out[(pnid, ix)] = self._vault.open_json(
                    "conversations", "state", self._row(pnid, ix), blob
                )
        return out

    def save(
        self, conn: Connection, states: Mapping[tuple[str, str], Mapping[str, Any]], now: float
    ) -> None:
        rows = [
            {
                "tenant": self._vault.tenant,
                "phone_number_id": pnid,
                "contact_ix": ix,
                "state_enc": self._vault.seal_json(
                    "conversations", "state", self._row(pnid, ix), dict(state)
                ),
                "updated_at": now,
            }
            for (pnid, ix), state in states.items()
        ]
        if rows:
            conn.execute(self._upsert, rows)
