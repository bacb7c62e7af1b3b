"""Contact book for campaigns: attributes, tags, sealed custom fields, consent, merge, export.

Every change and every decrypting read or export is audited (the audit entry
names the contact by a blind-index prefix, never by number).  Custom fields
are sealed as one JSON object per contact with the contact id in the
associated data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import Connection

from aman.campaigns.contacts_repository import ContactRecord, ContactsRepository
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError, CampaignNotFoundError
from aman.campaigns.phone import normalize_phone
from aman.storage.vault import Vault

__all__ = [
    "ContactBook",
    "ContactView",
    "MergeResult",
    "clean_field_key",
    "clean_fields",
    "clean_language",
    "clean_tag",
    "open_fields",
    "seal_fields",
]

_TAG = re.compile(r"^[a-z0-9][a-z0-9_\-:.]{0,63}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
MAX_FIELD_CHARS = 1000
MAX_FIELDS = 50
MARKETING_STATES = ("granted", "denied", "unknown")


def clean_tag(raw: str) -> str:
    tag = raw.strip().lower().replace(" ", "_")
    if not _TAG.match(tag):
        raise CampaignInputError(
            f"tag {raw[:70]!r} is not valid: 1-64 of a-z 0-9 _ - : . starting with a letter/digit"
        )
    return tag


def clean_field_key(raw: str) -> str:
    key = raw.strip().lower().replace(" ", "_").replace("-", "_")
    if not _KEY.match(key):
        raise CampaignInputError(
            f"custom field name {raw[:70]!r} is not valid: a-z 0-9 _ starting with a letter"
        )
    return key


def clean_language(raw: str) -> str:
    lang = raw.strip()
    if not _LANG.match(lang):
        raise CampaignInputError(f"language {raw[:20]!r} is not a code such as id, en or en_US")
    return lang


def clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        k = clean_field_key(str(key))
        if value is not None and not isinstance(value, str | int | float | bool):
            raise CampaignInputError(f"custom field {k!r}: only text, numbers and true/false")
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise CampaignInputError(
                f"custom field {k!r}: longer than {MAX_FIELD_CHARS} characters"
            )
        out[k] = value
    if len(out) > MAX_FIELDS:
        raise CampaignInputError(f"at most {MAX_FIELDS} custom fields per contact")
    return out


def seal_fields(
    vault: Vault, rec: ContactRecord, fields: Mapping[str, Any], conn: Connection
) -> bytes | None:
    """Seal a contact's custom fields under that contact's own key."""
    if not fields:
        return None
    return vault.seal_json(
        "contact_profiles", "fields", str(rec.id), dict(fields), contact=rec.contact_ix, conn=conn
    )


def open_fields(vault: Vault, contact_id: int, blob: bytes | None) -> dict[str, Any]:
    if blob is None:
        return {}
    value = vault.open_json("contact_profiles", "fields", str(contact_id), blob)
    return dict(value) if isinstance(value, dict) else {}


def _target(contact_ix: str) -> str:
    return f"contact:{contact_ix[:12]}"


@dataclass(frozen=True, slots=True)
class ContactView:
    """One contact, decrypted (for the API and exports)."""

    id: int
    wa_id: str
    name: str | None
    language: str | None
    tags: tuple[str, ...]
    fields: dict[str, Any]
    opted_out: bool
    marketing: str
    number_valid: bool
    orders_count: int
    orders_total: int
    last_order_at: float | None
    last_inbound_at: float
    created_at: float


@dataclass(frozen=True, slots=True)
class MergeResult:
    target_id: int
    source_id: int
    tags: int
    fields: int
    memberships: int
    opted_out: bool


class ContactBook:
    """Service functions on contacts; each public call is one audited unit of work."""

    def __init__(self, ctx: CampaignContext) -> None:
        self.ctx = ctx
        self.repo = ContactsRepository(ctx.dialect, ctx.tenant)

    # -- reading -------------------------------------------------------------------
    def _view(self, rec: ContactRecord, tags: Iterable[str]) -> ContactView:
        v = self.ctx.vault
        name = (
            v.open("contacts", "name", rec.contact_ix, rec.name_enc).decode()
            if rec.name_enc is not None
            else None
        )
        return ContactView(
            rec.id,
            v.open("contacts", "wa_id", rec.contact_ix, rec.wa_id_enc).decode(),
            name,
            rec.language,
            tuple(sorted(tags)),
            open_fields(v, rec.id, rec.fields_enc),
            rec.opted_out,
            rec.marketing,
            rec.number_valid,
            rec.orders_count,
            rec.orders_total,
            rec.last_order_at,
            rec.last_inbound_at,
            rec.created_at,
        )

    def _require(self, conn: Any, contact_id: int) -> ContactRecord:
        rec = self.repo.get(conn, contact_id)
        if rec is None:
            raise CampaignNotFoundError(f"no contact {contact_id}")
        return rec

    def get(self, actor: str, contact_id: int, *, audit: bool = True) -> ContactView:
        """One contact decrypted; the read is audited.

        ``audit=False`` only to echo a contact the same actor has just saved: that
        change is audited as a write, and the answer is what they sent plus the record.
        """
        with self.ctx.unit() as conn:
            rec = self._require(conn, contact_id)
            tags = self.repo.tags_for(conn, [rec.id]).get(rec.id, set())
            if audit:
                self.ctx.record(conn, actor, "contact_read", _target(rec.contact_ix))
        return self._view(rec, tags)

    def find(self, wa_id: str) -> int | None:
        """The id of the contact with this number (any accepted format), or None."""
        ix = self.ctx.vault.contact_index(normalize_phone(wa_id))
        with self.ctx.engine.connect() as conn:
            return self.repo.ids_for(conn, [ix]).get(ix)

    # -- changing ------------------------------------------------------------------
    def upsert(
        self,
        actor: str,
        wa_id: str,
        *,
        name: str | None = None,
        language: str | None = None,
        tags: Iterable[str] = (),
        fields: Mapping[str, Any] | None = None,
        source: str = "api",
    ) -> int:
        """Create or update a contact by number; returns its id."""
        number = normalize_phone(wa_id)
        tag_list = [clean_tag(t) for t in tags]
        new_fields = clean_fields(fields or {})
        lang = clean_language(language) if language else None
        v = self.ctx.vault
        ix = v.contact_index(number)
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            name_enc = (
                v.seal("contacts", "name", ix, name.encode(), contact=ix, conn=conn)
                if name
                else None
            )
            cid = self.repo.ensure(
                conn,
                [
                    {
                        "contact_ix": ix,
                        "wa_id_enc": v.seal(
                            "contacts", "wa_id", ix, number.encode(), contact=ix, conn=conn
                        ),
                        "name_enc": name_enc,
                        "now": now,
                    }
                ],
            )[ix]
            if name_enc is not None:
                self.repo.set_names(conn, [(cid, name_enc)])
            rec = self._require(conn, cid)
            merged = open_fields(v, cid, rec.fields_enc) | new_fields
            profile = rec.profile() | {
                "fields_enc": seal_fields(v, rec, merged, conn),
                "language": lang or rec.language,
            }
            self.repo.save_profiles(
                conn, [{"contact_id": cid, **profile, "source": source[:64], "updated_at": now}]
            )
            self.repo.add_tags(conn, [(cid, t) for t in tag_list])
            self.ctx.record(
                conn,
                actor,
                "contact_upsert",
                _target(ix),
                {"tags": len(tag_list), "fields": sorted(new_fields)},
            )
        return cid

    def set_tags(
        self, actor: str, contact_id: int, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> tuple[str, ...]:
        plus = [clean_tag(t) for t in add]
        minus = [clean_tag(t) for t in remove]
        with self.ctx.unit() as conn:
            rec = self._require(conn, contact_id)
            self.repo.add_tags(conn, [(contact_id, t) for t in plus])
            self.repo.remove_tags(conn, contact_id, minus)
            tags = self.repo.tags_for(conn, [contact_id]).get(contact_id, set())
            self.ctx.record(
                conn,
                actor,
                "contact_tags",
                _target(rec.contact_ix),
                {"added": plus, "removed": minus},
            )
        return tuple(sorted(tags))

    def set_fields(
        self,
        actor: str,
        contact_id: int,
        fields: Mapping[str, Any],
        *,
        remove: Iterable[str] = (),
    ) -> None:
        new = clean_fields(fields)
        gone = [clean_field_key(k) for k in remove]
        v = self.ctx.vault
        with self.ctx.unit() as conn:
            rec = self._require(conn, contact_id)
            merged = open_fields(v, contact_id, rec.fields_enc) | new
            for key in gone:
                merged.pop(key, None)
            clean_fields(merged)
            self.repo.save_profiles(
                conn,
                [
                    {
                        "contact_id": contact_id,
                        **rec.profile(),
                        "fields_enc": seal_fields(v, rec, merged, conn),
                        "updated_at": self.ctx.now(),
                    }
                ],
            )
            self.ctx.record(
                conn,
                actor,
                "contact_fields",
                _target(rec.contact_ix),
                {"set": sorted(new), "removed": gone},
            )

    def record_order(self, actor: str, contact_id: int, amount: int, at: float) -> None:
        """Count an order (amount in rupiah) for order-based segments."""
        if amount < 0:
            raise CampaignInputError("an order amount cannot be negative")
        with self.ctx.unit() as conn:
            rec = self._require(conn, contact_id)
            profile = rec.profile() | {
                "orders_count": rec.orders_count + 1,
                "orders_total": rec.orders_total + amount,
                "last_order_at": max(at, rec.last_order_at or 0.0),
            }
            self.repo.save_profiles(
                conn, [{"contact_id": contact_id, **profile, "updated_at": self.ctx.now()}]
            )
            self.ctx.record(conn, actor, "contact_order", _target(rec.contact_ix))

    def set_marketing_consent(
        self, actor: str, contact_id: int, granted: bool, *, source: str
    ) -> None:
        """Record the customer's marketing decision with its proof (source, time)."""
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            rec = self._require(conn, contact_id)
            state = "granted" if granted else "denied"
            self.repo.save_profiles(
                conn,
                [
                    {
                        "contact_id": contact_id,
                        **rec.profile(),
                        "marketing": state,
                        "marketing_at": now,
                        "updated_at": now,
                    }
                ],
            )
            self.repo.consent(
                conn,
                [
                    {
                        "contact_ix": rec.contact_ix,
                        "purpose": "marketing",
                        "granted": granted,
                        "source": source,
                        "at": now,
                    }
                ],
            )
            self.ctx.record(
                conn,
                actor,
                "contact_consent",
                _target(rec.contact_ix),
                {"marketing": state, "source": source[:64]},
            )

    def merge(self, actor: str, target_id: int, source_id: int) -> MergeResult:
        """Fold ``source`` into ``target`` (tags, fields, orders, segments), then delete it.

        The more restrictive consent wins: an opt-out on either stays an opt-out.
        """
        if target_id == source_id:
            raise CampaignInputError("cannot merge a contact into itself")
        v = self.ctx.vault
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            target = self._require(conn, target_id)
            source = self._require(conn, source_id)
            tags = self.repo.tags_for(conn, [source_id]).get(source_id, set())
            src_fields = open_fields(v, source_id, source.fields_enc)
            fields = src_fields | open_fields(v, target_id, target.fields_enc)
            marketing = target.marketing
            if "denied" in (target.marketing, source.marketing):
                marketing = "denied"
            elif target.marketing == "unknown":
                marketing = source.marketing
            profile = target.profile() | {
                "fields_enc": seal_fields(v, target, fields, conn),
                "language": target.language or source.language,
                "marketing": marketing,
                "orders_count": target.orders_count + source.orders_count,
                "orders_total": target.orders_total + source.orders_total,
                "last_order_at": max(target.last_order_at or 0.0, source.last_order_at or 0.0)
                or None,
            }
            self.repo.save_profiles(conn, [{"contact_id": target_id, **profile, "updated_at": now}])
            self.repo.add_tags(conn, [(target_id, t) for t in tags])
            moved = self.repo.move_memberships(conn, source_id, target_id)
            opted_out = target.opted_out or source.opted_out
            if source.opted_out and not target.opted_out:
                self.repo.set_opted_out(conn, target_id, True, now)
                self.repo.consent(
                    conn,
                    [
                        {
                            "contact_ix": target.contact_ix,
                            "purpose": "messaging",
                            "granted": False,
                            "source": f"merge:{source_id}",
                            "at": now,
                        }
                    ],
                )
            self.repo.delete_contact(conn, source_id)
            self.ctx.record(
                conn,
                actor,
                "contact_merge",
                _target(target.contact_ix),
                {
                    "source": _target(source.contact_ix),
                    "tags": len(tags),
                    "fields": len(src_fields),
                    "segments": moved,
                },
            )
        return MergeResult(target_id, source_id, len(tags), len(src_fields), moved, opted_out)

    # -- export --------------------------------------------------------------------
    def export_csv(self, actor: str, out: TextIO) -> int:
        """Write every contact decrypted as CSV to ``out``; audited (row count) before writing."""
        with self.ctx.engine.connect() as conn:
            keys: set[str] = set()
            total = 0
            for batch in self.repo.iter_all(conn):
                total += len(batch)
                for rec in batch:
                    keys.update(open_fields(self.ctx.vault, rec.id, rec.fields_enc))
        self.ctx.audit.record(
            self.ctx.engine,
            tenant=self.ctx.tenant,
            actor=actor,
            action="contacts_export",
            target="contacts",
            details={"rows": total, "format": "csv"},
        )
        extra = sorted(keys)
        writer = csv.writer(out)
        writer.writerow(
            [
                "phone",
                "name",
                "language",
                "tags",
                "opted_out",
                "marketing",
                "number_valid",
                "orders",
                "total_spent",
                "last_order_at",
                *extra,
            ]
        )
        count = 0
        with self.ctx.engine.connect() as conn:
            for batch in self.repo.iter_all(conn):
                tags = self.repo.tags_for(conn, [r.id for r in batch])
                for rec in batch:
                    view = self._view(rec, tags.get(rec.id, set()))
                    writer.writerow(
                        [
                            "+" + view.wa_id,
                            _cell(view.name),
                            view.language or "",
                            ";".join(view.tags),
                            "yes" if view.opted_out else "no",
                            view.marketing,
                            "yes" if view.number_valid else "no",
                            view.orders_count,
                            view.orders_total,
                            "" if view.last_order_at is None else f"{view.last_order_at:.0f}",
                            *[_cell(view.fields.get(k)) for k in extra],
                        ]
                    )
                    count += 1
        return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A spreadsheet must not run a formula from customer data (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
