"""SQL for contacts: upsert on every inbound message (last inbound time, profile name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from aman.storage.models import Contact

__all__ = ["ContactRepository"]


class ContactRepository:
    def __init__(self, dialect: str) -> None:
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = ins(Contact)
        excluded = stmt.excluded
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["tenant", "contact_ix"],
            set_={
                "last_inbound_at": excluded.last_inbound_at,
                "name_enc": excluded.name_enc,
            },
            where=Contact.last_inbound_at <= excluded.last_inbound_at,
        )

    def touch(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or refresh contacts: keys tenant, contact_ix, wa_id_enc, name_enc, times."""
        if rows:
            conn.execute(self._upsert, list(rows))
