"""SQL for audiences: rule trees compiled to WHERE clauses, candidate scans, static snapshots.

``exact`` compiles a rule whose every part is SQL-evaluable (no custom
fields); ``prefilter`` compiles a superset filter for any rule (the caller
then evaluates the full rule on each candidate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
)

from aman.campaigns.contacts_repository import (
    ContactRecord,
    record_columns,
    tenant_scan,
    to_record,
)
from aman.campaigns.models import ContactProfileRow, ContactTagRow, SegmentMemberRow
from aman.campaigns.rules import DAY, Attr, Bool, FieldRule, Not, Rule, Tag
from aman.storage.models import Contact

__all__ = ["AudienceRepository", "exact", "prefilter"]

P = ContactProfileRow


def _column(attr: str) -> Any:
    return {
        "language": P.language,
        "orders_count": func.coalesce(P.orders_count, 0),
        "orders_total": func.coalesce(P.orders_total, 0),
        "last_inbound": Contact.last_inbound_at,
        "last_order": P.last_order_at,
        "created": Contact.created_at,
        "marketing": func.coalesce(P.marketing, "unknown"),
        "opted_out": Contact.opted_out,
        "number_valid": func.coalesce(P.number_valid, True),
    }[attr]


def _attr(rule: Attr, now: float) -> ColumnElement[bool]:
    col = _column(rule.attr)
    op, value = rule.op, rule.value
    if op == "never":
        return or_(col.is_(None), col == 0)
    if op in ("within_days", "older_than_days"):
        cutoff = now - float(value) * DAY
        known = and_(col.is_not(None), col != 0)
        return and_(known, col >= cutoff) if op == "within_days" else and_(known, col < cutoff)
    if rule.attr in ("opted_out", "number_valid"):
        flag: ColumnElement[bool] = col.is_(true()) if value else col.is_(false())
        return flag
    if op == "exists":
        return and_(col.is_not(None), col != "")
    if op in ("gt", "gte", "lt", "lte"):
        checks: dict[str, ColumnElement[bool]] = {
            "gt": col > value,
            "gte": col >= value,
            "lt": col < value,
            "lte": col <= value,
        }
        return checks[op]
    if rule.attr in ("orders_count", "orders_total"):
        same: ColumnElement[bool] = col == value
        return same if op == "eq" else not_(same)
    lowered = func.lower(col)
    if op == "in":
        return lowered.in_([str(v).strip().lower() for v in value])
    want = str(value).strip().lower()
    return lowered == want if op == "eq" else or_(col.is_(None), lowered != want)


def _tag(rule: Tag) -> ColumnElement[bool]:
    return exists().where(ContactTagRow.contact_id == Contact.id, ContactTagRow.tag == rule.tag)


def exact(rule: Rule, now: float) -> ColumnElement[bool] | None:
    """The rule as SQL, or None when part of it needs decrypted custom fields."""
    if isinstance(rule, FieldRule):
        return None
    if isinstance(rule, Tag):
        return _tag(rule)
    if isinstance(rule, Attr):
        return _attr(rule, now)
    if isinstance(rule, Not):
        inner = exact(rule.child, now)
        return None if inner is None else not_(inner)
    parts = [exact(c, now) for c in rule.children]
    if any(p is None for p in parts):
        return None
    done = [p for p in parts if p is not None]
    return and_(*done) if rule.op == "all" else or_(*done)


def prefilter(rule: Rule, now: float) -> ColumnElement[bool] | None:
    """A SQL filter every matching contact passes (None: no useful filter)."""
    whole = exact(rule, now)
    if whole is not None:
        return whole
    if isinstance(rule, Bool):
        parts = [prefilter(c, now) for c in rule.children]
        if rule.op == "all":
            known = [p for p in parts if p is not None]
            return and_(*known) if known else None
        if all(p is not None for p in parts):
            return or_(*[p for p in parts if p is not None])
    return None


class AudienceRepository:
    """Candidate scans over the tenant's contacts (dynamic) or a snapshot (static)."""

    def __init__(self, dialect: str, tenant: str) -> None:
        self.dialect = dialect
        self.tenant = tenant

    def scan(
        self,
        conn: Connection,
        *,
        after_id: int,
        limit: int,
        where: ColumnElement[bool] | None = None,
        static_segment: int | None = None,
    ) -> list[ContactRecord]:
        """Up to ``limit`` contacts with id > ``after_id`` in id order that pass ``where``."""
        stmt = (
            select(*record_columns())
            .select_from(Contact)
            .outerjoin(P, P.contact_id == Contact.id)
            .where(tenant_scan(self.dialect, self.tenant), Contact.id > after_id)
        )
        if static_segment is not None:
            stmt = stmt.where(
                exists().where(
                    SegmentMemberRow.segment_id == static_segment,
                    SegmentMemberRow.contact_id == Contact.id,
                )
            )
        if where is not None:
            stmt = stmt.where(where)
        rows = conn.execute(stmt.order_by(Contact.id).limit(limit)).all()
        return [to_record(r) for r in rows]

    def count(self, conn: Connection, where: ColumnElement[bool] | None) -> int:
        stmt = (
            select(func.count())
            .select_from(Contact)
            .outerjoin(P, P.contact_id == Contact.id)
            .where(Contact.tenant == self.tenant)
        )
        if where is not None:
            stmt = stmt.where(where)
        return int(conn.execute(stmt).scalar_one())

    def count_members(self, conn: Connection, segment_id: int) -> int:
        return int(
            conn.execute(
                select(func.count()).where(SegmentMemberRow.segment_id == segment_id)
            ).scalar_one()
        )

    def clear_members(self, conn: Connection, segment_id: int) -> None:
        conn.execute(delete(SegmentMemberRow).where(SegmentMemberRow.segment_id == segment_id))

    def add_members(self, conn: Connection, segment_id: int, ids: Sequence[int]) -> None:
        if ids:
            conn.execute(
                insert(SegmentMemberRow),
                [{"segment_id": segment_id, "contact_id": cid} for cid in ids],
            )
