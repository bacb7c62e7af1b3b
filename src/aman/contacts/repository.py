"""SQL for contacts: upsert on every inbound message, opt-out and objection with consent proof."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, update

from aman.storage.models import ConsentEvent, Contact
from aman.storage.sql import DriverSQL

__all__ = ["ContactRepository"]


class ContactRepository:
    def __init__(self) -> None:
        # Every inbound message refreshes its contact: on the driver (storage.sql.DriverSQL).
        self._upsert = DriverSQL(
            "INSERT INTO contacts (tenant, contact_ix, wa_id_enc, name_enc, created_at, "
            "last_inbound_at, opted_out) VALUES (:tenant, :contact_ix, :wa_id_enc, :name_enc, "
            ":created_at, :last_inbound_at, :opted_out) "
            "ON CONFLICT (tenant, contact_ix) DO UPDATE SET "
            "last_inbound_at = excluded.last_inbound_at, name_enc = excluded.name_enc "
            "WHERE contacts.last_inbound_at <= excluded.last_inbound_at"
        )
        # The inbox worker reads this for every batch: on the driver (storage.sql.DriverSQL).
        self._standing = DriverSQL(
            "SELECT contact_ix, opted_out, objected_at FROM contacts "
            "WHERE tenant = :tenant AND contact_ix IN ({ixs})"
        )

    def touch(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or refresh contacts: keys tenant, contact_ix, wa_id_enc, name_enc, times."""
        self._upsert.many(conn, [{"name_enc": None, "opted_out": False} | r for r in rows])

    def standing(
        self, conn: Connection, tenant: str, contact_ixs: Iterable[str]
    ) -> tuple[set[str], set[str]]:
        """Which of these contacts opted out, and which objected to automated processing."""
        ixs = list(set(contact_ixs))
        if not ixs:
            return set(), set()
        opted_out, objected = set(), set()
        for ix, stopped, objected_at in self._standing.rows(conn, {"tenant": tenant, "ixs": ixs}):
            if stopped:
                opted_out.add(ix)
            if objected_at is not None:
                objected.add(ix)
        return opted_out, objected

    def set_objection(
        self,
        conn: Connection,
        *,
        tenant: str,
        contact_ix: str,
        objected: bool,
        source: str,
        now: float,
    ) -> None:
        """Record an objection to automated processing (or its withdrawal) and its proof."""
        conn.execute(
            update(Contact)
            .where(Contact.tenant == tenant, Contact.contact_ix == contact_ix)
            .values(objected_at=now if objected else None)
        )
        _consent(conn, tenant, contact_ix, "automation", not objected, source, now)

    def set_opt_out(
        self,
        conn: Connection,
        *,
        tenant: str,
        contact_ix: str,
        opted_out: bool,
        source: str,
        now: float,
    ) -> None:
        """Record an opt-out (or opt-in) and its proof: source and time."""
        conn.execute(
            update(Contact)
            .where(Contact.tenant == tenant, Contact.contact_ix == contact_ix)
            .values(opted_out=opted_out, opted_out_at=now if opted_out else None)
        )
        _consent(conn, tenant, contact_ix, "messaging", not opted_out, source, now)


def _consent(
    conn: Connection,
    tenant: str,
    contact_ix: str,
    purpose: str,
    granted: bool,
    source: str,
    now: float,
) -> None:
    """Append the proof of a customer's decision (UU PDP): purpose, choice, source, time."""
    conn.execute(
        insert(ConsentEvent).values(
            tenant=tenant,
            contact_ix=contact_ix,
            purpose=purpose,
            granted=granted,
            source=source[:64],
            at=now,
        )
    )
