"""Segments: save validated rules, preview counts, scan matching contacts, static snapshots.

A dynamic segment is evaluated when a broadcast sends (so opt-outs and new
contacts count at that moment); a static segment is a snapshot of the
contacts that matched when it was taken.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from aman.campaigns.audience_repository import AudienceRepository, exact, prefilter
from aman.campaigns.contacts import open_fields
from aman.campaigns.contacts_repository import ContactRecord, ContactsRepository
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError, CampaignNotFoundError
from aman.campaigns.models import SegmentRow
from aman.campaigns.rules import Bool, Facts, Not, Rule, Tag, canonical, evaluate, parse_rule
from aman.storage.vault import Vault

__all__ = ["Audience", "Segment", "SegmentService", "facts_for"]

KINDS = ("dynamic", "static")


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    name: str
    kind: str
    rules: dict[str, Any]
    size: int | None
    snapshot_at: float | None


def _uses_tags(rule: Rule) -> bool:
    if isinstance(rule, Tag):
        return True
    if isinstance(rule, Bool):
        return any(_uses_tags(c) for c in rule.children)
    if isinstance(rule, Not):
        return _uses_tags(rule.child)
    return False


def facts_for(vault: Vault, rec: ContactRecord, tags: Iterable[str]) -> Facts:
    """The facts a rule sees for one contact (custom fields decrypted only on demand)."""
    return Facts(
        attrs={
            "language": rec.language,
            "orders_count": rec.orders_count,
            "orders_total": rec.orders_total,
            "last_inbound": rec.last_inbound_at,
            "last_order": rec.last_order_at,
            "created": rec.created_at,
            "marketing": rec.marketing,
            "opted_out": rec.opted_out,
            "number_valid": rec.number_valid,
        },
        tags=frozenset(tags),
        load_fields=lambda: open_fields(vault, rec.id, rec.fields_enc),
    )


class Audience:
    """Scans contacts matching a rule (or a static snapshot) in id order, a batch at a time."""

    def __init__(self, vault: Vault, dialect: str) -> None:
        self.vault = vault
        self.repo = AudienceRepository(dialect, vault.tenant)
        self.contacts = ContactsRepository(dialect, vault.tenant)

    def scan(
        self,
        conn: Connection,
        *,
        rule: Rule | None,
        static_segment: int | None,
        now: float,
        after_id: int,
        limit: int,
    ) -> tuple[list[ContactRecord], int, bool]:
        """(matches, last scanned id, no more contacts) for contacts after ``after_id``."""
        where = None if rule is None else prefilter(rule, now)
        candidates = self.repo.scan(
            conn, after_id=after_id, limit=limit, where=where, static_segment=static_segment
        )
        if not candidates:
            return [], after_id, True
        last = candidates[-1].id
        finished = len(candidates) < limit
        if rule is None or exact(rule, now) is not None:
            return candidates, last, finished
        tags = self.contacts.tags_for(conn, [c.id for c in candidates]) if _uses_tags(rule) else {}
        matches = [
            c
            for c in candidates
            if evaluate(rule, facts_for(self.vault, c, tags.get(c.id, ())), now)
        ]
        return matches, last, finished

    def count(self, conn: Connection, rule: Rule, now: float, batch: int = 2000) -> int:
        whole = exact(rule, now)
        if whole is not None:
            return self.repo.count(conn, whole)
        total, after = 0, 0
        while True:
            matches, after, finished = self.scan(
                conn, rule=rule, static_segment=None, now=now, after_id=after, limit=batch
            )
            total += len(matches)
            if finished:
                return total


class SegmentService:
    """Create, change, preview and snapshot segments; every change is audited."""

    def __init__(self, ctx: CampaignContext) -> None:
        self.ctx = ctx
        self.audience = Audience(ctx.vault, ctx.dialect)

    def preview(self, rules: Any, now: float | None = None) -> int:
        """How many contacts match ``rules`` now (validates them first)."""
        rule = parse_rule(rules)
        with self.ctx.engine.connect() as conn:
            return self.audience.count(conn, rule, self.ctx.now() if now is None else now)

    def create(self, actor: str, name: str, rules: Any, *, kind: str = "dynamic") -> Segment:
        if kind not in KINDS:
            raise CampaignInputError(f"segment kind must be one of {', '.join(KINDS)}")
        clean_name = name.strip()
        if not 0 < len(clean_name) <= 120:
            raise CampaignInputError("a segment name is 1 to 120 characters")
        stored = canonical(rules)
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            taken = conn.execute(
                select(SegmentRow.id).where(
                    SegmentRow.tenant == self.ctx.tenant, SegmentRow.name == clean_name
                )
            ).first()
            if taken is not None:
                raise CampaignInputError(f"a segment named {clean_name!r} already exists")
            seg_id = int(
                conn.execute(
                    insert(SegmentRow)
                    .values(
                        tenant=self.ctx.tenant,
                        name=clean_name,
                        kind=kind,
                        rules=stored,
                        created_by=actor[:128],
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(SegmentRow.id)
                ).scalar_one()
            )
            if kind == "static":
                self._snapshot(conn, seg_id, parse_rule(stored), now)
            self.ctx.record(
                conn,
                actor,
                "segment_create",
                f"segment:{seg_id}",
                {"name": clean_name, "kind": kind, "rules": json.loads(stored)},
            )
        return self.get(seg_id)

    def update_rules(self, actor: str, segment_id: int, rules: Any) -> Segment:
        stored = canonical(rules)
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            seg = self._row(conn, segment_id)
            conn.execute(
                update(SegmentRow)
                .where(SegmentRow.id == segment_id)
                .values(rules=stored, updated_at=now)
            )
            if seg.kind == "static":
                self._snapshot(conn, segment_id, parse_rule(stored), now)
            self.ctx.record(
                conn,
                actor,
                "segment_update",
                f"segment:{segment_id}",
                {"rules": json.loads(stored)},
            )
        return self.get(segment_id)

    def snapshot(self, actor: str, segment_id: int) -> Segment:
        """Re-take a static segment's snapshot from its rules, now."""
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            seg = self._row(conn, segment_id)
            if seg.kind != "static":
                raise CampaignInputError("only static segments have snapshots")
            size = self._snapshot(conn, segment_id, parse_rule(seg.rules), now)
            self.ctx.record(
                conn, actor, "segment_snapshot", f"segment:{segment_id}", {"size": size}
            )
        return self.get(segment_id)

    def get(self, segment_id: int) -> Segment:
        with self.ctx.engine.connect() as conn:
            row = self._row(conn, segment_id)
        return Segment(row.id, row.name, row.kind, json.loads(row.rules), row.size, row.snapshot_at)

    def by_name(self, name: str) -> Segment:
        with self.ctx.engine.connect() as conn:
            found = conn.execute(
                select(SegmentRow.id).where(
                    SegmentRow.tenant == self.ctx.tenant, SegmentRow.name == name
                )
            ).scalar()
        if found is None:
            raise CampaignNotFoundError(f"no segment named {name!r}")
        return self.get(int(found))

    def size(self, segment_id: int, now: float | None = None) -> int:
        """Members of a static segment, or contacts matching a dynamic one now."""
        seg = self.get(segment_id)
        if seg.kind == "static":
            with self.ctx.engine.connect() as conn:
                return self.audience.repo.count_members(conn, segment_id)
        return self.preview(seg.rules, now)

    def _row(self, conn: Connection, segment_id: int) -> Any:
        row = conn.execute(
            select(SegmentRow).where(
                SegmentRow.tenant == self.ctx.tenant, SegmentRow.id == segment_id
            )
        ).first()
        if row is None:
            raise CampaignNotFoundError(f"no segment {segment_id}")
        return row

    def _snapshot(self, conn: Connection, segment_id: int, rule: Rule, now: float) -> int:
        self.audience.repo.clear_members(conn, segment_id)
        size, after = 0, 0
        while True:
            matches, after, finished = self.audience.scan(
                conn, rule=rule, static_segment=None, now=now, after_id=after, limit=2000
            )
            self.audience.repo.add_members(conn, segment_id, [m.id for m in matches])
            size += len(matches)
            if finished:
                break
        conn.execute(
            update(SegmentRow)
            .where(SegmentRow.id == segment_id)
            .values(snapshot_at=now, size=size, updated_at=now)
        )
        return size
