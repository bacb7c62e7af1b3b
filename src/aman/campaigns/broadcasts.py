"""Broadcast campaigns: create, schedule (once or cron), pause, resume, cancel, report.

Staff actions are audited in the same transaction as the change.  Every text a
broadcast can send (its own text, the template's texts and button links, literal
variable values) passes the outbound guard when the broadcast is created and when it
is scheduled: links only to the tenant's allow-listed domains, no request for a PIN or
OTP, no full account number.  A refusal raises ``OutboundBlocked`` and is audited
(``campaign_blocked``).  Pausing or
cancelling withdraws the run's queued outbox rows that the sender has not
touched yet, so nothing more goes out; resuming re-queues them (same refs).
Per-recipient status is derived from the outbox (queued, sent, delivered,
read, failed + code) and the inbox and consent log (replied, opted out).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select

from aman.campaigns.broadcast_repository import BroadcastRepository, RecipientRow
from aman.campaigns.contacts_repository import ContactRecord, ContactsRepository
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError, CampaignNotFoundError, CampaignStateError
from aman.campaigns.models import CampaignRow, SegmentRow
from aman.campaigns.phone import mask_number
from aman.campaigns.schedule import DEFAULT_TZ, next_cron, validate_cron, zone
from aman.campaigns.settings import load_settings
from aman.campaigns.templates import Template, TemplateRegistry, check_spec, check_variables
from aman.guard.outbound import OutboundBlocked, Violation, check_outbound

__all__ = [
    "RECIPIENT_STATUSES",
    "CampaignService",
    "CampaignStatus",
    "RecipientPage",
    "RecipientView",
    "RunStatus",
    "derive_status",
    "template_texts",
]

RECIPIENT_STATUSES = (
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "replied",
    "opted_out",
    "excluded",
    "held",
    "cancelled",
)
MAX_TEXT = 4096
RUN_STATES = ("running", "paused", "done", "cancelled")
MAX_RECIPIENT_SCAN = 5000  # recipients examined per recipient_page call


def _masked(ctx: CampaignContext, rec: ContactRecord | None) -> str | None:
    """The contact's number masked; None when the contact no longer exists (merged, erased)."""
    if rec is None:
        return None
    return mask_number(ctx.vault.open("contacts", "wa_id", rec.contact_ix, rec.wa_id_enc).decode())


def derive_status(r: RecipientRow) -> str:
    """One recipient's status from what the outbox, inbox and consent log know."""
    if r.state in ("excluded", "held", "cancelled"):
        return r.state
    if r.outbox_state is None:
        return "cancelled"  # the row was withdrawn by a pause or cancel
    if r.opted_out_at is not None:
        return "opted_out"
    if r.replied_at is not None:
        return "replied"
    if r.outbox_state == "failed" or r.delivery_status == "failed":
        return "failed"
    if r.delivery_status in ("read", "played"):
        return "read"
    if r.delivery_status == "delivered":
        return "delivered"
    if r.outbox_state == "sent" or r.delivery_status == "sent":
        return "sent"
    return "queued"


@dataclass(frozen=True, slots=True)
class RunStatus:
    id: int
    state: str
    scheduled_for: float
    hold_reason: str | None
    queued: int
    excluded: int
    statuses: dict[str, int]
    error_codes: dict[int, int]
    excluded_reasons: dict[str, int]


@dataclass(frozen=True, slots=True)
class RecipientView:
    """One recipient as staff may see it: masked number, status, why (excluded) or code."""

    contact_id: int
    number_masked: str | None
    status: str
    reason: str | None
    error_code: int | None


@dataclass(frozen=True, slots=True)
class RecipientPage:
    run_id: int | None
    items: list[RecipientView]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    id: int
    name: str
    state: str
    category: str
    next_run_at: float | None
    cron: str | None
    runs: list[RunStatus] = field(default_factory=list)


def template_texts(template: Template) -> list[str]:
    """Every text of a template a customer sees: header, body, footer, buttons, URLs."""
    out: list[str] = []
    for comp in template.components:
        if isinstance(comp.get("text"), str):
            out.append(comp["text"])
        for button in comp.get("buttons") or ():
            if isinstance(button, dict):
                out.extend(str(button[k]) for k in ("text", "url") if button.get(k))
    return out


class CampaignService:
    """Broadcast lifecycle; ``allowed_domains``: where its links may point (none: no links)."""

    def __init__(self, ctx: CampaignContext, *, allowed_domains: Sequence[str] = ()) -> None:
        self.ctx = ctx
        self.repo = BroadcastRepository(ctx.dialect, ctx.tenant)
        self.templates = TemplateRegistry(ctx)
        self.allowed_domains = tuple(allowed_domains)

    def violations(
        self,
        *,
        text: str | None,
        template: Template | None,
        specs: Mapping[str, list[str]],
    ) -> list[Violation]:
        """Why the outbound guard would block this broadcast (empty: it may be sent)."""
        parts = [text] if text else []
        if template is not None:
            parts += template_texts(template)
        parts += [spec for values in specs.values() for spec in values]
        return check_outbound("\n".join(parts), list(self.allowed_domains))

    def _refused(self, actor: str, target: str, exc: OutboundBlocked, **details: object) -> None:
        """Audit a broadcast refused by the guard (its own transaction: the change rolled back)."""
        self.ctx.audit.record(
            self.ctx.engine,
            tenant=self.ctx.tenant,
            actor=actor,
            action="campaign_blocked",
            target=target,
            details={**details, "violations": [v.code for v in exc.violations]},
        )

    # -- definition --------------------------------------------------------------
    def create(
        self,
        actor: str,
        *,
        name: str,
        segment_id: int,
        phone_number_id: str,
        template: tuple[str, str] | None = None,
        variables: Mapping[str, Any] | None = None,
        text: str | None = None,
        category: str = "marketing",
        tz: str | None = None,
    ) -> int:
        """A draft campaign; variables are checked against the template now."""
        clean = name.strip()
        if not 0 < len(clean) <= 120:
            raise CampaignInputError("a campaign name is 1 to 120 characters")
        if not phone_number_id.isdigit():
            raise CampaignInputError("phone_number_id must be digits")
        if template is None and not text:
            raise CampaignInputError("a campaign needs a template, a text, or both")
        if text is not None:
            if not text.strip() or len(text) > MAX_TEXT:
                raise CampaignInputError(f"text is 1 to {MAX_TEXT} characters")
            check_spec(text, "text")
        specs: dict[str, list[str]] = {}
        template_id = None
        tpl = None
        if template is not None:
            tpl = self.templates.get(*template)
            specs = check_variables(tpl.slots, variables or {})
            template_id, category = tpl.id, tpl.category
        elif variables:
            raise CampaignInputError("variables need a template")
        if category not in ("marketing", "utility", "authentication"):
            raise CampaignInputError("category is marketing, utility or authentication")
        blocked = self.violations(text=text, template=tpl, specs=specs)
        if blocked:
            exc = OutboundBlocked(blocked)
            self._refused(actor, "campaign:new", exc, name=clean)
            raise exc
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            seg = conn.execute(
                select(SegmentRow.id).where(
                    SegmentRow.tenant == self.ctx.tenant, SegmentRow.id == segment_id
                )
            ).first()
            if seg is None:
                raise CampaignNotFoundError(f"no segment {segment_id}")
            zone_name = tz or load_settings(conn, self.ctx.tenant).tz
            zone(zone_name)
            cid = int(
                conn.execute(
                    insert(CampaignRow)
                    .values(
                        tenant=self.ctx.tenant,
                        name=clean,
                        phone_number_id=phone_number_id,
                        segment_id=segment_id,
                        template_id=template_id,
                        variables=json.dumps(specs, sort_keys=True, ensure_ascii=False),
                        text=text,
                        category=category,
                        state="draft",
                        run_at=None,
                        cron=None,
                        tz=zone_name or DEFAULT_TZ,
                        next_run_at=None,
                        created_by=actor[:128],
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(CampaignRow.id)
                ).scalar_one()
            )
            self.ctx.record(
                conn,
                actor,
                "campaign_create",
                f"campaign:{cid}",
                {
                    "name": clean,
                    "segment": segment_id,
                    "category": category,
                    "template": "/".join(template) if template else None,
                },
            )
        return cid

    def _campaign(self, conn: Connection, campaign_id: int) -> Any:
        row = self.repo.lock_campaign(conn, campaign_id)
        if row is None:
            raise CampaignNotFoundError(f"no campaign {campaign_id}")
        return row

    # -- lifecycle -------------------------------------------------------------------
    def start(
        self, actor: str, campaign_id: int, *, at: float | None = None, cron: str | None = None
    ) -> float:
        """Schedule a draft: now, once at ``at`` or by ``cron``; returns the first run time."""
        if at is not None and cron is not None:
            raise CampaignInputError("give a time or a cron expression, not both")
        try:
            return self._start(actor, campaign_id, at, cron)
        except OutboundBlocked as exc:
            self._refused(actor, f"campaign:{campaign_id}", exc)
            raise

    def _start(self, actor: str, campaign_id: int, at: float | None, cron: str | None) -> float:
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            c = self._campaign(conn, campaign_id)
            if c.state != "draft":
                raise CampaignStateError(f"campaign {campaign_id} is {c.state}, not a draft")
            tpl = self.templates.by_id(conn, c.template_id) if c.template_id is not None else None
            if tpl is not None:
                tpl.require_usable()
            # The template may have been re-registered since the draft was saved.
            specs = {k: list(v) for k, v in json.loads(c.variables).items()}
            blocked = self.violations(text=c.text, template=tpl, specs=specs)
            if blocked:
                raise OutboundBlocked(blocked)
            if cron is not None:
                expr = validate_cron(cron)
                first = next_cron(expr, now, zone(c.tz))
            else:
                expr, first = None, now if at is None else at
            self.repo.set_campaign(
                conn,
                campaign_id,
                state="active",
                cron=expr,
                run_at=at,
                next_run_at=first,
                updated_at=now,
            )
            self.ctx.record(
                conn,
                actor,
                "campaign_start",
                f"campaign:{campaign_id}",
                {"at": first, "cron": expr},
            )
        return first

    def pause(self, actor: str, campaign_id: int) -> int:
        """Stop sending now (queued rows are withdrawn); returns how many were withdrawn."""
        with self.ctx.unit() as conn:
            c = self._campaign(conn, campaign_id)
            if c.state != "active":
                raise CampaignStateError(f"campaign {campaign_id} is {c.state}: cannot pause")
            withdrawn = 0
            for run in self.repo.runs_of(conn, campaign_id, ("running",)):
                withdrawn += self._withdraw(conn, run.id, "held")
                self.repo.set_run(conn, run.id, state="paused", hold_reason="paused")
            self.repo.set_campaign(conn, campaign_id, state="paused", updated_at=self.ctx.now())
            self.ctx.record(
                conn, actor, "campaign_pause", f"campaign:{campaign_id}", {"withdrawn": withdrawn}
            )
        return withdrawn

    def resume(self, actor: str, campaign_id: int) -> None:
        """Continue a paused campaign (or runs the scheduler paused for their template)."""
        with self.ctx.unit() as conn:
            c = self._campaign(conn, campaign_id)
            if c.state not in ("paused", "active"):
                raise CampaignStateError(f"campaign {campaign_id} is {c.state}: cannot resume")
            if c.template_id is not None:
                self.templates.by_id(conn, c.template_id).require_usable()
            runs = self.repo.runs_of(conn, campaign_id, ("paused",))
            if c.state == "active" and not runs:
                raise CampaignStateError(f"campaign {campaign_id} is not paused")
            for run in runs:
                self.repo.set_run(conn, run.id, state="running", hold_reason=None, not_before=0.0)
            self.repo.set_campaign(conn, campaign_id, state="active", updated_at=self.ctx.now())
            self.ctx.record(
                conn, actor, "campaign_resume", f"campaign:{campaign_id}", {"runs": len(runs)}
            )

    def cancel(self, actor: str, campaign_id: int) -> int:
        """End the campaign for good; returns how many queued messages were withdrawn."""
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            c = self._campaign(conn, campaign_id)
            if c.state in ("done", "cancelled"):
                raise CampaignStateError(f"campaign {campaign_id} is already {c.state}")
            withdrawn = 0
            for run in self.repo.runs_of(conn, campaign_id, ("running", "paused")):
                withdrawn += self._withdraw(conn, run.id, "cancelled")
                self.repo.cancel_held(conn, run.id)
                self.repo.set_run(conn, run.id, state="cancelled", finished_at=now)
            self.repo.set_campaign(
                conn, campaign_id, state="cancelled", next_run_at=None, updated_at=now
            )
            self.ctx.record(
                conn, actor, "campaign_cancel", f"campaign:{campaign_id}", {"withdrawn": withdrawn}
            )
        return withdrawn

    def _withdraw(self, conn: Connection, run_id: int, state: str) -> int:
        todo = self.repo.run_todo(conn, run_id)
        refs = self.repo.withdraw(conn, [oid for oid, _, _ in todo])
        self.repo.mark_recipients(conn, refs, state, "cancelled" if state == "cancelled" else None)
        if refs:  # "queued" counts what is with the sender; held rows count again when re-queued
            self.repo.bump_run(conn, run_id, -len(refs), 0)
        return len(refs)

    # -- reporting -------------------------------------------------------------------
    def status(self, campaign_id: int) -> CampaignStatus:
        with self.ctx.engine.connect() as conn:
            c = self.repo.lock_campaign(conn, campaign_id, lock=False)
            if c is None:
                raise CampaignNotFoundError(f"no campaign {campaign_id}")
            runs = self.repo.runs_of(conn, campaign_id, RUN_STATES, lock=False)
            out = [self._run_status(conn, r) for r in runs]
        return CampaignStatus(c.id, c.name, c.state, c.category, c.next_run_at, c.cron, out)

    def _run_status(self, conn: Connection, run: Any) -> RunStatus:
        statuses: Counter[str] = Counter()
        codes: Counter[int] = Counter()
        reasons: Counter[str] = Counter()
        for r, n in self.repo.status_groups(conn, run.id):  # one GROUP BY, not a scan
            st = derive_status(r)
            statuses[st] += n
            if st == "failed" and r.error_code is not None:
                codes[r.error_code] += n
            if st == "excluded" and r.reason:
                reasons[r.reason] += n
        return RunStatus(
            run.id,
            run.state,
            run.scheduled_for,
            run.hold_reason,
            run.queued,
            run.excluded,
            dict(statuses),
            dict(codes),
            dict(reasons),
        )

    def recipient_page(
        self,
        campaign_id: int,
        *,
        run_id: int | None = None,
        status: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> RecipientPage:
        """Recipients of a run (default: the latest) by contact id, numbers masked.

        With ``status`` only recipients in that status are returned; at most
        ``MAX_RECIPIENT_SCAN`` recipients are examined per call, so a page may hold
        fewer than ``limit`` items while ``next_cursor`` still says where to go on.
        """
        if status is not None and status not in RECIPIENT_STATUSES:
            raise CampaignInputError(f"status is one of {', '.join(RECIPIENT_STATUSES)}")
        contacts = ContactsRepository(self.ctx.dialect, self.ctx.tenant)
        with self.ctx.engine.connect() as conn:
            if self.repo.lock_campaign(conn, campaign_id, lock=False) is None:
                raise CampaignNotFoundError(f"no campaign {campaign_id}")
            runs = self.repo.runs_of(conn, campaign_id, RUN_STATES, lock=False)
            run = runs[-1] if run_id is None and runs else None
            run = run or next((r for r in runs if r.id == run_id), None)
            if run is None:
                if run_id is not None:
                    raise CampaignNotFoundError(f"no run {run_id} of campaign {campaign_id}")
                return RecipientPage(None, [], None)
            found: list[tuple[RecipientRow, str]] = []
            cursor, scanned, more = after, 0, True
            while more and len(found) < limit and scanned < MAX_RECIPIENT_SCAN:
                batch = self.repo.statuses(conn, run.id, after=cursor, limit=500)
                more = len(batch) == 500
                for r in batch:
                    scanned += 1
                    cursor = r.contact_id
                    st = derive_status(r)
                    if status is None or st == status:
                        found.append((r, st))
                        if len(found) == limit:
                            more = more or r is not batch[-1]
                            break
            records = contacts.get_many(conn, [r.contact_id for r, _ in found])
        items = [
            RecipientView(
                r.contact_id,
                _masked(self.ctx, records.get(r.contact_id)),
                st,
                r.reason if st in ("excluded", "held", "cancelled") else None,
                r.error_code if st == "failed" else None,
            )
            for r, st in found
        ]
        return RecipientPage(run.id, items, cursor if more else None)

    def recipients(
        self, run_id: int, *, after: int = 0, limit: int = 100
    ) -> list[tuple[int, str, int | None]]:
        """(contact id, status, error code) of a run's recipients, by contact id."""
        with self.ctx.engine.connect() as conn:
            rows = self.repo.statuses(conn, run_id, after=after, limit=limit)
        return [(r.contact_id, derive_status(r), r.error_code) for r in rows]
