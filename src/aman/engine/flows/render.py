"""Fill ``{placeholders}`` in flow texts and build Cloud API message bodies from SendSpecs.

Placeholders: ``{field}``, ``{field|money}`` (Rp 1.500.000), ``{field|mask}`` (****1234),
``{field|date}``, ``{field|time}``, ``{field|datetime}`` (epoch seconds in the bot's
timezone, in the conversation's language), ``{name}`` (the customer's first name),
``{official_<key>}`` (bot.yaml ``official``).  ``{verify_link}`` is left as is: the
platform replaces it with a single-use link when the message is sent.  Unknown
placeholders render as empty text rather than leaking braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aman.engine.bot import Reply
from aman.engine.flows.model import BotConfig, SendSpec, Text

__all__ = ["Renderer", "format_money", "mask_digits"]

_PLACEHOLDER = re.compile(r"( ?)\{([a-z_][a-z0-9_]*)(?:\|([a-z]+))?\}")
_MONTHS = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
_DAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def format_money(value: Any) -> str:
    """Rupiah with dot thousands separators: ``Rp 1.500.000``."""
    try:
        amount = round(float(value))
    except (TypeError, ValueError):
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(amount):,}".replace(",", ".")


def mask_digits(value: Any) -> str:
    """``****1234``: never more than the last four digits."""
    digits = re.sub(r"\D", "", str(value))
    return f"****{digits[-4:]}" if digits else ""


@dataclass(slots=True)
class Renderer:
    """Renders texts for one conversation turn (language, fields, config)."""

    config: BotConfig
    lang: str
    fields: Mapping[str, Any]
    profile_name: str | None = None

    def pick(self, text: Text) -> str:
        for key in (self.lang, "*", *self.config.languages):
            if key in text:
                return text[key]
        return next(iter(text.values()), "")

    def text(self, text: Text | None, limit: int = 4096) -> str:
        if text is None:
            return ""
        return self.fill(self.pick(text))[:limit]

    def fill(self, template: str) -> str:
        return _PLACEHOLDER.sub(self._value, template)

    def _value(self, m: re.Match[str]) -> str:
        """The placeholder's text; an empty value also drops the space before it."""
        value = self._lookup(m.group(2), m.group(3), m.group(0))
        return f"{m.group(1)}{value}" if value else ""

    def _lookup(self, name: str, fmt: str | None, whole: str) -> str:
        if name == "verify_link":
            return whole.lstrip(" ")
        if name == "name":
            return (self.profile_name or "").split(" ")[0][:30]
        if name.startswith("official_"):
            return self.config.official.get(name.removeprefix("official_"), "")
        value = self.fields.get(name)
        if value is None:
            return ""
        if fmt == "money":
            return format_money(value)
        if fmt == "mask":
            return mask_digits(value)
        if fmt in ("date", "time", "datetime"):
            return self.when(value, fmt)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def when(self, value: Any, fmt: str) -> str:
        try:
            moment = datetime.fromtimestamp(float(value), self.config.tz)
        except (TypeError, ValueError, OverflowError, OSError):
            return ""
        lang = self.lang if self.lang in _MONTHS else "id"
        date = (
            f"{_DAYS[lang][moment.weekday()]}, {moment.day} "
            f"{_MONTHS[lang][moment.month - 1]} {moment.year}"
        )
        clock = f"{moment:%H:%M} {moment.tzname() or ''}".strip()
        return {"date": date, "time": clock, "datetime": f"{date} {clock}"}[fmt]

    # -- messages ------------------------------------------------------------------
    def reply(self, spec: SendSpec) -> Reply:
        """The Cloud API body for ``spec`` (template-only, or with a template fallback)."""
        template = self._template(spec) if spec.template is not None else None
        message = self._message(spec)
        if message is None:
            if template is None:
                return Reply({"type": "text", "text": {"body": "…"}})
            return Reply(template)
        return Reply(message, fallback=template)

    def _template(self, spec: SendSpec) -> dict[str, Any]:
        tpl = spec.template
        if tpl is None:  # the caller checks; keeps the type checker exact
            return {}
        body: dict[str, Any] = {"name": tpl.name, "language": {"code": tpl.language}}
        if tpl.params:
            body["components"] = [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": self.fill(p)[:1024] or "-"} for p in tpl.params
                    ],
                }
            ]
        return {"type": "template", "template": body}

    def _interactive(self, spec: SendSpec, kind: str, action: dict[str, Any]) -> dict[str, Any]:
        inter: dict[str, Any] = {
            "type": kind,
            "body": {"text": self.text(spec.text, 1024) or "…"},
            "action": action,
        }
        if spec.header is not None:
            inter["header"] = {"type": "text", "text": self.text(spec.header, 60)}
        if spec.footer is not None:
            inter["footer"] = {"text": self.text(spec.footer, 60)}
        return {"type": "interactive", "interactive": inter}

    def _message(self, spec: SendSpec) -> dict[str, Any] | None:
        if spec.media is not None:
            media: dict[str, Any] = {"link": spec.media.link}
            if spec.media.caption is not None and spec.media.kind != "audio":
                media["caption"] = self.text(spec.media.caption, 1024)
            if spec.media.filename and spec.media.kind == "document":
                media["filename"] = spec.media.filename
            return {"type": spec.media.kind, spec.media.kind: media}
        if spec.contact is not None:
            contact: dict[str, Any] = {
                "name": {"formatted_name": spec.contact.name, "first_name": spec.contact.name},
                "phones": [{"phone": spec.contact.phone, "type": "WORK"}],
            }
            if spec.contact.organization:
                contact["org"] = {"company": spec.contact.organization}
            return {"type": "contacts", "contacts": [contact]}
        if spec.location_request:
            return self._interactive(spec, "location_request_message", {"name": "send_location"})
        buttons = self.buttons(spec)
        if buttons:
            return self._interactive(
                spec,
                "button",
                {
                    "buttons": [
                        {"type": "reply", "reply": {"id": b, "title": t}} for b, t in buttons
                    ]
                },
            )
        if spec.list is not None:
            sections = self.sections(spec)
            if sections:
                button = self.text(spec.list.button, 20) or "Menu"
                return self._interactive(spec, "list", {"button": button, "sections": sections})
        if spec.text is None:
            return None
        return {"type": "text", "text": {"body": self.text(spec.text) or "…"}}

    def buttons(self, spec: SendSpec) -> list[tuple[str, str]]:
        out = [(b.id, self.text(b.title, 20)) for b in spec.buttons]
        if spec.buttons_from:
            out.extend(_dynamic(self.fields.get(spec.buttons_from), 20))
        return _unique(out)[:3]

    def sections(self, spec: SendSpec) -> list[dict[str, Any]]:
        lst = spec.list
        if lst is None:
            return []
        sections: list[dict[str, Any]] = []
        for sec in lst.sections:
            rows = [
                self._row(
                    r.id,
                    self.text(r.title, 24),
                    self.text(r.description, 72) if r.description else "",
                )
                for r in sec.rows
            ]
            entry: dict[str, Any] = {"rows": rows}
            if sec.title is not None:
                entry["title"] = self.text(sec.title, 24)
            sections.append(entry)
        if lst.rows_from:
            raw = self.fields.get(lst.rows_from)
            rows = [self._row(i, t, d) for i, t, d in _dynamic_rows(raw)]
            if rows:
                sections.append({"rows": rows})
        total = 0
        kept: list[dict[str, Any]] = []
        for entry in sections:
            room = 10 - total
            if room <= 0:
                break
            entry["rows"] = entry["rows"][:room]
            total += len(entry["rows"])
            kept.append(entry)
        if len(kept) > 1:
            for i, entry in enumerate(kept):
                entry.setdefault("title", f"{i + 1}")
        return kept

    @staticmethod
    def _row(rid: str, title: str, description: str) -> dict[str, Any]:
        row: dict[str, Any] = {"id": rid, "title": title or rid[:24]}
        if description:
            row["description"] = description
        return row


def _dynamic(raw: Any, limit: int) -> list[tuple[str, str]]:
    return [(i, t[:limit]) for i, t, _ in _dynamic_rows(raw)]


def _dynamic_rows(raw: Any) -> list[tuple[str, str, str]]:
    """Rows from a field: [{"id", "title", "description"?}]."""
    if not isinstance(raw, list):
        return []
    out: list[tuple[str, str, str]] = []
    for item in raw:
        if (
            isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and isinstance(item.get("title"), str)
        ):
            desc = item.get("description")
            out.append(
                (item["id"][:200], item["title"][:24], desc[:72] if isinstance(desc, str) else "")
            )
    return out


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen_ids: set[str] = set()
    seen_titles: set[str] = set()
    out = []
    for bid, title in pairs:
        if bid in seen_ids or title in seen_titles or not title:
            continue
        seen_ids.add(bid)
        seen_titles.add(title)
        out.append((bid, title))
    return out
