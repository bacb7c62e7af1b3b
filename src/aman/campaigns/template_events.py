"""Apply stored template and user-preference webhooks: status, quality, category, marketing stop.

``process_template_events`` claims unprocessed ``webhook_events`` rows of the
fields below (SKIP LOCKED on PostgreSQL, so several scheduler processes can
run it), applies them and marks them processed in the same transaction.  An
event about a template the registry does not know is counted and skipped
(register the template, with its current status, to track it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from aman.audit.service import AuditService
from aman.campaigns.contacts_repository import ContactsRepository
from aman.campaigns.errors import InvalidPhoneNumberError
from aman.campaigns.events_repository import EventsRepository
from aman.campaigns.models import MessageTemplateRow
from aman.campaigns.phone import normalize_phone
from aman.campaigns.templates import CATEGORIES, QUALITIES
from aman.storage.vault import Vault

__all__ = ["FIELDS", "EventReport", "process_template_events"]

log = logging.getLogger(__name__)

FIELDS = (
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
    "user_preferences",
)
SOURCE = "webhook:user_preferences"
ACTOR = "meta:webhook"


@dataclass(slots=True)
class EventReport:
    templates: int = 0
    preferences: int = 0
    unknown_templates: int = 0
    malformed: int = 0

    @property
    def total(self) -> int:
        return self.templates + self.preferences + self.unknown_templates + self.malformed


class _Applier:
    def __init__(self, conn: Connection, vault: Vault, audit: AuditService | None, now: float):
        self.conn = conn
        self.vault = vault
        self.audit = audit
        self.now = now
        self.contacts = ContactsRepository(conn.dialect.name, vault.tenant)
        self.report = EventReport()

    def template_row(self, value: dict[str, Any]) -> Any:
        name = value.get("message_template_name")
        lang = value.get("message_template_language")
        meta_id = value.get("message_template_id")
        t = MessageTemplateRow
        query = select(t).where(t.tenant == self.vault.tenant)
        if isinstance(name, str) and isinstance(lang, str):
            row = self.conn.execute(query.where(t.name == name, t.language == lang)).first()
            if row is not None:
                return row
        if meta_id is not None:
            row = self.conn.execute(query.where(t.meta_id == str(meta_id))).first()
            if row is not None:
                return row
        return None

    def templates(self, fld: str, value: dict[str, Any]) -> None:
        row = self.template_row(value)
        if row is None:
            self.report.unknown_templates += 1
            return
        changes: dict[str, Any] = {"updated_at": self.now}
        meta_id = value.get("message_template_id")
        if meta_id is not None and row.meta_id is None:
            changes["meta_id"] = str(meta_id)[:32]
        if fld == "message_template_status_update":
            event = str(value.get("event", "")).upper()
            if not event:
                raise ValueError("status update without event")
            changes["status"] = "APPROVED" if event == "REINSTATED" else event[:24]
            reason = value.get("reason")
            changes["reason"] = str(reason)[:200] if reason and reason != "NONE" else None
            action, detail = "template_status", {"status": changes["status"]}
        elif fld == "message_template_quality_update":
            quality = str(value.get("new_quality_score", "UNKNOWN")).upper()
            changes["quality"] = quality if quality in QUALITIES else "UNKNOWN"
            action, detail = "template_quality", {"quality": changes["quality"]}
        else:
            category = str(value.get("new_category", "")).lower()
            if category not in CATEGORIES:
                raise ValueError("category update with an unknown category")
            changes["category"] = category
            action, detail = "template_category", {"category": category}
        self.conn.execute(
            update(MessageTemplateRow).where(MessageTemplateRow.id == row.id).values(**changes)
        )
        if self.audit is not None:
            self.audit.append(
                self.conn,
                tenant=self.vault.tenant,
                actor=ACTOR,
                action=action,
                target=f"template:{row.name}/{row.language}",
                details=detail,
            )
        self.report.templates += 1

    def preferences(self, value: dict[str, Any]) -> None:
        prefs = value.get("user_preferences")
        if not isinstance(prefs, list):
            raise ValueError("user_preferences is not a list")
        names = {
            c.get("wa_id"): (c.get("profile") or {}).get("name")
            for c in value.get("contacts") or []
            if isinstance(c, dict)
        }
        for pref in prefs:
            if not isinstance(pref, dict) or pref.get("category") != "marketing_messages":
                continue
            choice = pref.get("value")
            if choice not in ("stop", "resume"):
                continue
            try:
                number = normalize_phone("+" + str(pref.get("wa_id", "")))
            except InvalidPhoneNumberError:
                self.report.malformed += 1
                continue
            at: Any = pref.get("timestamp")
            numeric = isinstance(at, int | float) and not isinstance(at, bool)
            when = float(at) if numeric or (isinstance(at, str) and at.isdigit()) else self.now
            self.apply_preference(number, choice == "resume", when, names.get(pref.get("wa_id")))

    def apply_preference(self, number: str, granted: bool, when: float, name: Any) -> None:
        v = self.vault
        ix = v.contact_index(number)
        cid = self.contacts.ensure(
            self.conn,
            [
                {
                    "contact_ix": ix,
                    "wa_id_enc": v.seal(
                        "contacts", "wa_id", ix, number.encode(), contact=ix, conn=self.conn
                    ),
                    "name_enc": v.seal(
                        "contacts", "name", ix, name.encode(), contact=ix, conn=self.conn
                    )
                    if isinstance(name, str) and name
                    else None,
                    "now": self.now,
                }
            ],
        )[ix]
        rec = self.contacts.get(self.conn, cid)
        if rec is None:
            return
        self.contacts.consent(
            self.conn,
            [
                {
                    "contact_ix": ix,
                    "purpose": "marketing",
                    "granted": granted,
                    "source": SOURCE,
                    "at": when,
                }
            ],
        )
        if rec.marketing_at is not None and rec.marketing_at > when:
            self.report.preferences += 1  # a later decision is already recorded
            return
        self.contacts.save_profiles(
            self.conn,
            [
                {
                    "contact_id": cid,
                    **rec.profile(),
                    "marketing": "granted" if granted else "denied",
                    "marketing_at": when,
                    "source": SOURCE,
                    "updated_at": self.now,
                }
            ],
        )
        self.report.preferences += 1


def process_template_events(
    engine: Engine,
    vault: Vault,
    *,
    audit: AuditService | None = None,
    now: float | None = None,
    batch: int = 200,
) -> EventReport:
    """Apply every pending template/preference webhook of ``vault.tenant``; returns counts."""
    repo = EventsRepository(engine.dialect.name)
    total = EventReport()
    while True:
        at = time.time() if now is None else now
        try:
            with engine.begin() as conn:
                events = repo.claim(conn, vault.tenant, FIELDS, batch)
                applier = _Applier(conn, vault, audit, at)
                for ev in events:
                    try:
                        value = vault.open_json(
                            "webhook_events", "payload", ev.event_key, ev.payload_enc
                        )
                        if not isinstance(value, dict):
                            raise ValueError("payload is not an object")
                        with conn.begin_nested():
                            if ev.field == "user_preferences":
                                applier.preferences(value)
                            else:
                                applier.templates(ev.field, value)
                    except (ValueError, TypeError, KeyError) as exc:
                        applier.report.malformed += 1
                        log.warning(
                            "webhook event %d (%s) skipped: %s", ev.id, ev.field, type(exc).__name__
                        )
        except Exception:
            if audit is not None:
                audit.discard()
            raise
        if audit is not None:
            audit.committed()
        r = applier.report
        total.templates += r.templates
        total.preferences += r.preferences
        total.unknown_templates += r.unknown_templates
        total.malformed += r.malformed
        if len(events) < batch:
            return total
