"""Turn a running broadcast into outbox rows, one bounded batch per transaction.

Each step locks the run, re-checks everything that can change while a
broadcast is under way and then queues the next contacts of its audience:

- the template must still be APPROVED (else the run pauses);
- marketing waits outside the tenant's quiet hours (queued rows are withdrawn);
- opt-outs recorded since the last step withdraw the contact's queued row;
- the outbox backlog stays within ``lead_seconds`` of sending at ``send_rate``
  (memory and withdrawal stay bounded, whatever the audience size);
- per contact: opted out, marketing stop, invalid number, messaged by another
  campaign within the frequency cap, no template outside the 24-hour window,
  unusable variables -> excluded with a reason;
- template sends count against the messaging-limit tier (unique recipients
  per rolling 24 hours); at the limit the run waits for the window to roll.

Outbox refs are ``b<run>.<contact>`` and inserted with ON CONFLICT DO
NOTHING, so a step repeated after a crash never queues a contact twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from aman.audit.service import AuditService
from aman.campaigns.audience_repository import AudienceRepository
from aman.campaigns.broadcast_repository import BroadcastRepository, ref_for
from aman.campaigns.contacts import open_fields
from aman.campaigns.contacts_repository import ContactRecord, ContactsRepository
from aman.campaigns.errors import CampaignInputError
from aman.campaigns.models import CampaignRow, MessageTemplateRow, SegmentRow
from aman.campaigns.rules import Rule, parse_rule
from aman.campaigns.schedule import next_quiet_start, quiet_until, zone
from aman.campaigns.segments import Audience
from aman.campaigns.settings import CampaignSettings, load_settings
from aman.campaigns.templates import Template, render_values, substitute, template_from_row
from aman.storage.vault import Vault

__all__ = ["Materialiser", "StepResult"]

log = logging.getLogger(__name__)

DAY = 86400.0
WINDOW_MARGIN = 600.0  # treat a service window closing within 10 minutes as closed
UNDELIVERABLE = 131026  # "message undeliverable": not a WhatsApp number
SYSTEM = "system:scheduler"


@dataclass(frozen=True, slots=True)
class StepResult:
    queued: int = 0
    excluded: int = 0
    more: bool = False
    finished: bool = False


@dataclass(slots=True)
class _Run:
    row: Any
    campaign: Any
    template: Template | None
    rule: Rule | None
    static: int | None
    settings: CampaignSettings
    marketing: bool
    specs: dict[str, list[str]]


class Materialiser:
    def __init__(
        self,
        vault: Vault,
        dialect: str,
        *,
        audit: AuditService | None = None,
        send_rate: float = 80.0,
        lead_seconds: float = 10.0,
        batch: int = 1000,
        min_lead: int = 50,
    ) -> None:
        self.vault = vault
        self.audit = audit
        self.send_rate = send_rate
        self.lead = max(min_lead, int(send_rate * lead_seconds))
        self.batch = batch
        self.repo = BroadcastRepository(dialect, vault.tenant)
        self.contacts = ContactsRepository(dialect, vault.tenant)
        self.audience = Audience(vault, dialect)
        self.audience_repo = AudienceRepository(dialect, vault.tenant)

    # -- one step ----------------------------------------------------------------
    def step(self, conn: Connection, run_id: int, now: float) -> StepResult:
        row = self.repo.lock_run(conn, run_id)
        if row is None or row.state != "running" or row.not_before > now:
            return StepResult()
        run = self._load(conn, row)
        tz = zone(run.settings.tz)
        if run.template is not None and not run.template.usable:
            withdrawn = self._hold(conn, run_id)
            reason = f"template_{run.template.status.lower()}"[:32]
            self.repo.set_run(conn, run_id, state="paused", hold_reason=reason)
            self._audit(
                conn,
                "campaign_auto_pause",
                run.campaign.id,
                {"run": run_id, "reason": reason, "withdrawn": withdrawn},
            )
            return StepResult()
        if run.marketing:
            until = quiet_until(now, tz, run.settings.quiet_start, run.settings.quiet_end)
            if until is not None:
                self._hold(conn, run_id)
                self.repo.set_run(conn, run_id, not_before=until, hold_reason="quiet_hours")
                return StepResult()
        swept = self._sweep(conn, run, now)
        backlog = self.repo.outbox_backlog(conn)
        space = min(self.batch, self.lead - backlog)
        if run.marketing:
            starts = next_quiet_start(now, tz, run.settings.quiet_start, run.settings.quiet_end)
            if starts is not None:  # only what the sender can send before the night starts
                space = min(space, int((starts - now) * self.send_rate) - backlog)
        if space <= 0:
            return self._maybe_finish(conn, run, now, StepResult(0, swept, False))
        held = self.repo.held(conn, run_id, space)
        if held:
            found = self.contacts.get_many(conn, held)
            gone = [cid for cid in held if cid not in found]
            self.repo.save_recipients(
                conn, [self._excluded(run, cid, "", "contact_deleted", now) for cid in gone]
            )
            candidates = [found[cid] for cid in held if cid in found]
            result = self._queue(conn, run, candidates, now, from_cursor=None)
            return StepResult(result.queued, result.excluded + swept + len(gone), result.more)
        if row.exhausted:
            return self._maybe_finish(conn, run, now, StepResult(0, swept, False))
        matches, last, finished = self.audience.scan(
            conn,
            rule=run.rule,
            static_segment=run.static,
            now=now,
            after_id=row.cursor,
            limit=space,
        )
        result = self._queue(conn, run, matches, now, from_cursor=(last, finished))
        return StepResult(result.queued, result.excluded + swept, result.more)

    # -- pieces ------------------------------------------------------------------
    def _load(self, conn: Connection, row: Any) -> _Run:
        campaign = conn.execute(select(CampaignRow).where(CampaignRow.id == row.campaign_id)).one()
        segment = conn.execute(select(SegmentRow).where(SegmentRow.id == campaign.segment_id)).one()
        template = None
        if campaign.template_id is not None:
            template = template_from_row(
                conn.execute(
                    select(MessageTemplateRow).where(
                        MessageTemplateRow.tenant == self.vault.tenant,
                        MessageTemplateRow.id == campaign.template_id,
                    )
                ).one()
            )
        category = template.category if template is not None else campaign.category
        return _Run(
            row,
            campaign,
            template,
            None if segment.kind == "static" else parse_rule(segment.rules),
            segment.id if segment.kind == "static" else None,
            load_settings(conn, self.vault.tenant),
            category == "marketing",
            {k: list(v) for k, v in json.loads(campaign.variables).items()},
        )

    def _audit(
        self, conn: Connection, action: str, campaign_id: int, details: dict[str, Any]
    ) -> None:
        if self.audit is not None:
            self.audit.append(
                conn,
                tenant=self.vault.tenant,
                actor=SYSTEM,
                action=action,
                target=f"campaign:{campaign_id}",
                details=details,
            )

    def _hold(self, conn: Connection, run_id: int) -> int:
        """Withdraw the run's never-attempted outbox rows; their recipients wait as 'held'."""
        todo = self.repo.run_todo(conn, run_id)
        refs = self.repo.withdraw(conn, [oid for oid, _, _ in todo])
        self.repo.mark_recipients(conn, refs, "held")
        if refs:
            self.repo.bump_run(conn, run_id, -len(refs), 0)
        return len(refs)

    def _sweep(self, conn: Connection, run: _Run, now: float) -> int:
        """Withdraw queued rows of contacts who opted out since the last step."""
        denials, last = self.repo.new_denials(conn, max(0, run.row.consent_seen - 1000))
        last = max(last, run.row.consent_seen)
        if last != run.row.consent_seen:
            self.repo.set_run(conn, run.row.id, consent_seen=last)
        blocked = {ix for ix, purpose in denials if purpose != "marketing" or run.marketing}
        if not blocked:
            return 0
        refs = self.repo.queued_refs_of(conn, run.row.id, sorted(blocked))
        withdrawn = self.repo.withdraw(conn, self.repo.outbox_ids_for(conn, refs))
        self.repo.mark_recipients(conn, withdrawn, "excluded", "opted_out")
        if withdrawn:
            self.repo.bump_run(conn, run.row.id, -len(withdrawn), len(withdrawn))
        return len(withdrawn)

    def _excluded(
        self, run: _Run, contact_id: int, ix: str, reason: str, now: float
    ) -> dict[str, Any]:
        return {
            "run_id": run.row.id,
            "contact_id": contact_id,
            "tenant": self.vault.tenant,
            "campaign_id": run.campaign.id,
            "contact_ix": ix,
            "state": "excluded",
            "reason": reason,
            "kind": None,
            "ref": None,
            "queued_at": now,
        }

    def _lookup(self, rec: ContactRecord) -> Any:
        cache: dict[str, Any] = {}

        def lookup(what: str) -> str | None:
            if what in ("name", "first_name"):
                if "name" not in cache:
                    cache["name"] = (
                        self.vault.open("contacts", "name", rec.contact_ix, rec.name_enc).decode()
                        if rec.name_enc is not None
                        else None
                    )
                name: str | None = cache["name"]
                if name is None:
                    return None
                first = what == "first_name"
                return name.split()[0] if first and name.split() else name
            if "fields" not in cache:
                cache["fields"] = open_fields(self.vault, rec.id, rec.fields_enc)
            value: Any = cache["fields"].get(what.removeprefix("field."))
            return None if value is None else str(value)

        return lookup

    def _message(
        self, run: _Run, rec: ContactRecord, wa_id: str, kind: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        head = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id}
        lookup = self._lookup(rec)
        template_msg = None
        if run.template is not None:
            values = render_values(run.template.slots, run.specs, lookup)
            template_msg = head | run.template.message(values)
        if kind == "text":
            body = substitute(run.campaign.text or "", lookup)
            if not body:
                raise CampaignInputError("empty text")
            return head | {
                "type": "text",
                "text": {"body": body, "preview_url": False},
            }, template_msg
        if template_msg is None:
            raise CampaignInputError("no template")
        return template_msg, None

    def _queue(
        self,
        conn: Connection,
        run: _Run,
        candidates: list[ContactRecord],
        now: float,
        *,
        from_cursor: tuple[int, bool] | None,
    ) -> StepResult:
        s = run.settings
        ids = [c.id for c in candidates]
        cap = s.frequency_cap_hours * 3600.0
        recent = (
            self.repo.recently_messaged(conn, ids, run.campaign.id, now - cap) if cap else set()
        )
        counting = run.template is not None and s.tier_limit is not None
        used, oldest = self.repo.tier_used(conn, now - DAY) if counting else (0, None)
        in_window = self.repo.in_tier_window(conn, ids, now - DAY) if counting else set()
        self.vault.ensure_contact_keys((c.contact_ix for c in candidates), conn)
        outbox: list[dict[str, Any]] = []
        recipients: list[dict[str, Any]] = []
        excluded = 0
        stopped: int | None = None
        for rec in candidates:
            reason = None
            if rec.opted_out:
                reason = "opted_out"
            elif run.marketing and rec.marketing == "denied":
                reason = "marketing_opt_out"
            elif not rec.number_valid:
                reason = "invalid_number"
            elif rec.id in recent:
                reason = "recent_campaign"
            wa_id = ""
            if reason is None:
                wa_id = self.vault.open("contacts", "wa_id", rec.contact_ix, rec.wa_id_enc).decode()
                if not (wa_id.isascii() and wa_id.isdigit() and 8 <= len(wa_id) <= 15):
                    reason = "invalid_number"
            window_open = rec.last_inbound_at > now - DAY + WINDOW_MARGIN
            kind = "text" if run.campaign.text and window_open else "template"
            if reason is None and kind == "template" and run.template is None:
                reason = "needs_template"
            msg: tuple[dict[str, Any], dict[str, Any] | None] | None = None
            if reason is None:
                try:
                    msg = self._message(run, rec, wa_id, kind)
                except CampaignInputError:
                    reason = "bad_variables"
            if reason is not None or msg is None:
                recipients.append(
                    self._excluded(run, rec.id, rec.contact_ix, reason or "bad_variables", now)
                )
                excluded += 1
                continue
            if counting and kind == "template" and rec.id not in in_window:
                if s.tier_limit is not None and used >= s.tier_limit:
                    stopped = rec.id
                    break
                used += 1
                in_window.add(rec.id)
                oldest = now if oldest is None else min(oldest, now)
            ref = ref_for(run.row.id, rec.id)
            outbox.append(
                {
                    "tenant": self.vault.tenant,
                    "phone_number_id": run.campaign.phone_number_id,
                    "ref": ref,
                    "inbox_id": None,
                    "seq": 0,
                    "kind": "message",
                    "contact_ix": rec.contact_ix,
                    "body_enc": self.vault.seal_json(
                        "outbox",
                        "body",
                        ref,
                        {"msg": msg[0], "fallback": msg[1]},
                        contact=rec.contact_ix,
                        conn=conn,
                    ),
                    "state": "todo",
                    "attempts": 0,
                    "next_attempt_at": 0.0,
                    "status_rank": 0,
                    "created_at": now,
                }
            )
            recipients.append(
                {
                    "run_id": run.row.id,
                    "contact_id": rec.id,
                    "tenant": self.vault.tenant,
                    "campaign_id": run.campaign.id,
                    "contact_ix": rec.contact_ix,
                    "state": "queued",
                    "reason": None,
                    "kind": kind,
                    "ref": ref,
                    "queued_at": now,
                }
            )
        self.repo.enqueue(conn, outbox)
        self.repo.save_recipients(conn, recipients)
        values: dict[str, Any] = {}
        if stopped is not None:
            values |= {
                "not_before": (now if oldest is None else oldest) + DAY,
                "hold_reason": "tier_limit",
            }
            log.info(
                "campaign run %d waits for the messaging limit (tier %s)", run.row.id, s.tier_limit
            )
        elif run.row.hold_reason is not None:
            values["hold_reason"] = None
        if from_cursor is not None:
            last, finished = from_cursor
            values["cursor"] = stopped - 1 if stopped is not None else last
            values["exhausted"] = finished and stopped is None
        self.repo.bump_run(conn, run.row.id, len(outbox), excluded, **values)
        more = stopped is None and not (from_cursor is not None and from_cursor[1])
        return StepResult(len(outbox), excluded, more and bool(candidates))

    def _maybe_finish(
        self, conn: Connection, run: _Run, now: float, result: StepResult
    ) -> StepResult:
        row = run.row
        if not row.exhausted or self.repo.held(conn, row.id, 1) or self.repo.run_busy(conn, row.id):
            return result
        bad = self.repo.undeliverable(conn, row.id, UNDELIVERABLE)
        for cid in bad:
            self.contacts.set_number_valid(conn, cid, False, now)
        self.repo.set_run(conn, row.id, state="done", finished_at=now, lease_until=0.0)
        active = self.repo.runs_of(conn, run.campaign.id, ("running", "paused"))
        if (
            run.campaign.cron is None
            and run.campaign.state == "active"
            and all(r.id == row.id for r in active)
        ):
            self.repo.set_campaign(conn, run.campaign.id, state="done", updated_at=now)
        self._audit(
            conn,
            "campaign_run_done",
            run.campaign.id,
            {"run": row.id, "queued": row.queued, "excluded": row.excluded},
        )
        return StepResult(result.queued, result.excluded, False, True)
