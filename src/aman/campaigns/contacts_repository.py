"""SQL for campaign contacts: ensure contact rows, profiles, tags, consent, streaming, merge."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from aman.campaigns.models import ContactProfileRow, ContactTagRow, SegmentMemberRow
from aman.storage.models import ConsentEvent, Contact
from aman.storage.sql import insert_ignore, upsert

__all__ = ["PROFILE_DEFAULTS", "ContactRecord", "ContactsRepository"]

PROFILE_DEFAULTS: dict[str, Any] = {
    "language": None,
    "fields_enc": None,
    "marketing": "unknown",
    "marketing_at": None,
    "number_valid": True,
    "orders_count": 0,
    "orders_total": 0,
    "last_order_at": None,
    "source": "",
}
_PROFILE_UPDATE = [*PROFILE_DEFAULTS, "updated_at"]


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact joined with its campaign profile (profile columns default when absent)."""

    id: int
    contact_ix: str
    wa_id_enc: bytes
    name_enc: bytes | None
    opted_out: bool
    last_inbound_at: float
    created_at: float
    language: str | None
    fields_enc: bytes | None
    marketing: str
    marketing_at: float | None
    number_valid: bool
    orders_count: int
    orders_total: int
    last_order_at: float | None
    has_profile: bool

    def profile(self) -> dict[str, Any]:
        """The profile columns as a dict (for read-modify-write upserts)."""
        return {
            "language": self.language,
            "fields_enc": self.fields_enc,
            "marketing": self.marketing,
            "marketing_at": self.marketing_at,
            "number_valid": self.number_valid,
            "orders_count": self.orders_count,
            "orders_total": self.orders_total,
            "last_order_at": self.last_order_at,
        }


def record_columns() -> list[Any]:
    """Columns selected for a ``ContactRecord`` (contacts LEFT JOIN contact_profiles)."""
    p = ContactProfileRow
    return [
        Contact.id,
        Contact.contact_ix,
        Contact.wa_id_enc,
        Contact.name_enc,
        Contact.opted_out,
        Contact.last_inbound_at,
        Contact.created_at,
        p.language,
        p.fields_enc,
        func.coalesce(p.marketing, "unknown"),
        p.marketing_at,
        func.coalesce(p.number_valid, True),
        func.coalesce(p.orders_count, 0),
        func.coalesce(p.orders_total, 0),
        p.last_order_at,
        p.contact_id.is_not(None),
    ]


def tenant_scan(dialect: str, tenant: str) -> Any:
    """``contacts.tenant = :tenant`` for keyset scans in id order.

    On SQLite the plain comparison makes the planner walk the (tenant, contact_ix)
    index and sort every row of the tenant for each page; comparing an
    expression leaves it the rowid range (``id > :after``), already in order.
    """
    if dialect == "sqlite":
        return Contact.tenant.concat("") == tenant
    return Contact.tenant == tenant


def to_record(row: Sequence[Any]) -> ContactRecord:
    return ContactRecord(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        bool(row[4]),
        float(row[5]),
        float(row[6]),
        row[7],
        row[8],
        row[9],
        row[10],
        bool(row[11]),
        int(row[12]),
        int(row[13]),
        row[14],
        bool(row[15]),
    )


class ContactsRepository:
    """All SQL on contacts, contact_profiles, contact_tags and consent_events for campaigns."""

    def __init__(self, dialect: str, tenant: str) -> None:
        self.dialect = dialect
        self.tenant = tenant
        self._ins_contact = insert_ignore(dialect, Contact, ["tenant", "contact_ix"])
        self._upsert_profile = upsert(dialect, ContactProfileRow, ["contact_id"], _PROFILE_UPDATE)
        self._ins_tag = insert_ignore(dialect, ContactTagRow, ["contact_id", "tag"])
        self._ins_member = insert_ignore(dialect, SegmentMemberRow, ["segment_id", "contact_id"])

    def _base(self) -> Any:
        return (
            select(*record_columns())
            .select_from(Contact)
            .outerjoin(ContactProfileRow, ContactProfileRow.contact_id == Contact.id)
            .where(Contact.tenant == self.tenant)
        )

    # -- contacts ------------------------------------------------------------------
    def ensure(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Insert missing contacts (keys contact_ix, wa_id_enc, name_enc, now); ix -> id."""
        if not rows:
            return {}
        conn.execute(
            self._ins_contact,
            [
                {
                    "tenant": self.tenant,
                    "contact_ix": r["contact_ix"],
                    "wa_id_enc": r["wa_id_enc"],
                    "name_enc": r.get("name_enc"),
                    "created_at": r["now"],
                    "last_inbound_at": 0.0,
                    "opted_out": False,
                }
                for r in rows
            ],
        )
        return self.ids_for(conn, [r["contact_ix"] for r in rows])

    def ids_for(self, conn: Connection, ixs: Iterable[str]) -> dict[str, int]:
        wanted = list(set(ixs))
        out: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for ix, cid in conn.execute(
                select(Contact.contact_ix, Contact.id).where(
                    Contact.tenant == self.tenant, Contact.contact_ix.in_(chunk)
                )
            ):
                out[ix] = int(cid)
        return out

    def set_names(self, conn: Connection, names: Sequence[tuple[int, bytes]]) -> None:
        """Replace the sealed names of these contacts: (contact id, name_enc)."""
        if names:
            conn.execute(
                update(Contact)
                .where(Contact.id == bindparam("cid"))
                .values(name_enc=bindparam("blob")),
                [{"cid": cid, "blob": blob} for cid, blob in names],
            )

    def get(self, conn: Connection, contact_id: int) -> ContactRecord | None:
        row = conn.execute(self._base().where(Contact.id == contact_id)).first()
        return None if row is None else to_record(row)

    def get_many(self, conn: Connection, ids: Iterable[int]) -> dict[int, ContactRecord]:
        wanted = list(set(ids))
        out: dict[int, ContactRecord] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for row in conn.execute(self._base().where(Contact.id.in_(chunk))):
                rec = to_record(row)
                out[rec.id] = rec
        return out

    def iter_all(self, conn: Connection, batch: int = 1000) -> Iterator[list[ContactRecord]]:
        """Every contact of the tenant, in id order, a batch at a time (flat memory)."""
        after = 0
        scan = (
            select(*record_columns())
            .select_from(Contact)
            .outerjoin(ContactProfileRow, ContactProfileRow.contact_id == Contact.id)
            .where(tenant_scan(self.dialect, self.tenant))
        )
        while True:
            rows = conn.execute(
                scan.where(Contact.id > after).order_by(Contact.id).limit(batch)
            ).all()
            if not rows:
                return
            records = [to_record(r) for r in rows]
            after = records[-1].id
            yield records

    def delete_contact(self, conn: Connection, contact_id: int) -> None:
        conn.execute(delete(Contact).where(Contact.tenant == self.tenant, Contact.id == contact_id))

    # -- profiles ------------------------------------------------------------------
    def save_profiles(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert full profile rows (contact_id + every profile column + updated_at)."""
        if rows:
            conn.execute(
                self._upsert_profile,
                [{**PROFILE_DEFAULTS, **dict(r), "tenant": self.tenant} for r in rows],
            )

    def set_number_valid(self, conn: Connection, contact_id: int, valid: bool, now: float) -> None:
        rec = self.get(conn, contact_id)
        if rec is not None:
            self.save_profiles(
                conn,
                [
                    {
                        "contact_id": contact_id,
                        **rec.profile(),
                        "number_valid": valid,
                        "updated_at": now,
                    }
                ],
            )

    # -- tags ----------------------------------------------------------------------
    def add_tags(self, conn: Connection, pairs: Iterable[tuple[int, str]]) -> None:
        rows = [{"contact_id": cid, "tag": tag, "tenant": self.tenant} for cid, tag in pairs]
        if rows:
            conn.execute(self._ins_tag, rows)

    def remove_tags(self, conn: Connection, contact_id: int, tags: Iterable[str]) -> None:
        wanted = list(tags)
        if wanted:
            conn.execute(
                delete(ContactTagRow).where(
                    ContactTagRow.contact_id == contact_id, ContactTagRow.tag.in_(wanted)
                )
            )

    def tags_for(self, conn: Connection, ids: Iterable[int]) -> dict[int, set[str]]:
        wanted = list(set(ids))
        out: dict[int, set[str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for cid, tag in conn.execute(
                select(ContactTagRow.contact_id, ContactTagRow.tag).where(
                    ContactTagRow.contact_id.in_(chunk)
                )
            ):
                out.setdefault(int(cid), set()).add(tag)
        return out

    # -- consent -------------------------------------------------------------------
    def consent(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append consent proof rows: contact_ix, purpose, granted, source, at."""
        if rows:
            conn.execute(
                insert(ConsentEvent),
                [
                    {
                        "tenant": self.tenant,
                        "contact_ix": r["contact_ix"],
                        "purpose": r["purpose"],
                        "granted": r["granted"],
                        "source": str(r["source"])[:64],
                        "at": r["at"],
                    }
                    for r in rows
                ],
            )

    def set_opted_out(self, conn: Connection, contact_id: int, opted_out: bool, now: float) -> None:
        conn.execute(
            update(Contact)
            .where(Contact.tenant == self.tenant, Contact.id == contact_id)
            .values(opted_out=opted_out, opted_out_at=now if opted_out else None)
        )

    # -- merge ---------------------------------------------------------------------
    def move_memberships(self, conn: Connection, source: int, target: int) -> int:
        segs = [
            int(r[0])
            for r in conn.execute(
                select(SegmentMemberRow.segment_id).where(SegmentMemberRow.contact_id == source)
            )
        ]
        if segs:
            conn.execute(self._ins_member, [{"segment_id": s, "contact_id": target} for s in segs])
        return len(segs)
