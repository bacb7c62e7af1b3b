"""Parse outgoing-message specs (text, buttons, lists, templates, media, contacts) with limits.

``SchemaContext`` is shared by the other schema modules: it records problems with
file, line and step, and every outbound text (for the guard check in checks.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aman.engine.flows.errors import Problem
from aman.engine.flows.model import (
    Button,
    ContactSpec,
    ListRow,
    ListSection,
    ListSpec,
    MediaSpec,
    SendSpec,
    TemplateSpec,
    Text,
)
from aman.engine.flows.yamlsrc import YMap, line_of

__all__ = [
    "LIMITS",
    "SEND_KEYS",
    "OutboundText",
    "SchemaContext",
    "is_text_mapping",
    "parse_send",
]

# Cloud API limits (characters / counts).
LIMITS = {
    "text": 4096,
    "body": 1024,
    "button_title": 20,
    "buttons": 3,
    "button_id": 256,
    "list_button": 20,
    "list_rows": 10,
    "row_title": 24,
    "row_description": 72,
    "row_id": 200,
    "section_title": 24,
    "header": 60,
    "footer": 60,
    "caption": 1024,
}
SEND_KEYS = frozenset(
    {
        "text",
        "header",
        "footer",
        "buttons",
        "buttons_from",
        "list",
        "template",
        "media",
        "location_request",
        "contact",
    }
)
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class OutboundText:
    """A text the bot may send, with where it was written (checked by the guard)."""

    file: str
    line: int
    step: str
    text: str
    link_only: bool = False


@dataclass(slots=True)
class SchemaContext:
    file: str
    languages: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)
    texts: list[OutboundText] = field(default_factory=list)

    def err(self, line: int, step: str, code: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, step, code, message))

    def field_name(self, raw: Any, line: int, step: str, what: str = "field") -> str | None:
        if isinstance(raw, str) and _FIELD.match(raw):
            return raw
        self.err(line, step, "schema", f"{what} {raw!r} must be lower_snake_case")
        return None

    def ident(self, raw: Any, line: int, step: str, what: str) -> str | None:
        if isinstance(raw, str) and _ID.match(raw):
            return raw
        self.err(line, step, "schema", f"{what} {raw!r} must be 1-200 of [A-Za-z0-9_.:-]")
        return None

    def text(
        self, raw: Any, line: int, step: str, *, limit: int, what: str, code: str = "text_too_long"
    ) -> Text | None:
        """A string or a {lang: string} mapping; every value at most ``limit`` characters."""
        if isinstance(raw, str):
            values: dict[str, str] = {"*": raw}
        elif is_text_mapping(raw, self.languages):
            values = {}
            for lang, value in raw.items():
                if not isinstance(value, str):
                    self.err(line_of(raw, line), step, "schema", f"{what} [{lang}] must be text")
                    return None
                values[lang] = value
            missing = [lang for lang in self.languages if lang not in values]
            if missing and "*" not in values:
                self.err(
                    line_of(raw, line),
                    step,
                    "missing_translation",
                    f"{what} has no text for {', '.join(missing)}",
                )
        else:
            self.err(line, step, "schema", f"{what} must be text or a mapping of {self.languages}")
            return None
        for lang, value in values.items():
            vline = raw.line_of(lang) if isinstance(raw, YMap) else line
            if not value.strip():
                self.err(vline, step, "schema", f"{what} is empty")
            elif len(value) > limit:
                shown = "" if lang == "*" else f" [{lang}]"
                self.err(
                    vline,
                    step,
                    code,
                    f"{what}{shown} is {len(value)} characters; the limit is {limit}",
                )
            self.texts.append(OutboundText(self.file, vline, step, value))
        return values


def is_text_mapping(raw: Any, languages: tuple[str, ...]) -> bool:
    return isinstance(raw, dict) and bool(raw) and set(raw) <= {*languages, "*"}


def _buttons(ctx: SchemaContext, raw: Any, line: int, step: str) -> tuple[Button, ...]:
    if not isinstance(raw, list) or not raw:
        ctx.err(line, step, "schema", "'buttons' must be a non-empty list")
        return ()
    if len(raw) > LIMITS["buttons"]:
        ctx.err(
            line_of(raw, line),
            step,
            "too_many_buttons",
            f"{len(raw)} reply buttons; WhatsApp allows at most {LIMITS['buttons']}",
        )
    out: list[Button] = []
    seen: set[str] = set()
    item_lines = getattr(raw, "item_lines", [])
    for i, item in enumerate(raw):
        item_line = item_lines[i] if i < len(item_lines) else line
        if (
            not isinstance(item, dict)
            or not {"id", "title"} <= set(item)
            or set(item) - {"id", "title"}
        ):
            ctx.err(item_line, step, "schema", "a button needs exactly 'id' and 'title'")
            continue
        bid = ctx.ident(item["id"], item_line, step, "button id")
        title = ctx.text(
            item["title"],
            item_line,
            step,
            limit=LIMITS["button_title"],
            what="button title",
            code="button_title_too_long",
        )
        if bid is not None and bid in seen:
            ctx.err(item_line, step, "schema", f"duplicate button id {bid!r}")
        if bid is not None and title is not None:
            seen.add(bid)
            out.append(Button(bid, title))
    return tuple(out)


def _list(ctx: SchemaContext, raw: Any, line: int, step: str) -> ListSpec | None:
    if not isinstance(raw, dict):
        ctx.err(line, step, "schema", "'list' must be a mapping")
        return None
    key_line, line = line, line_of(raw, line)
    unknown = set(raw) - {"button", "sections", "rows", "rows_from"}
    if unknown:
        ctx.err(line, step, "schema", f"unknown list keys {sorted(unknown)}")
    button = ctx.text(
        raw.get("button", "Menu"),
        line,
        step,
        limit=LIMITS["list_button"],
        what="list button",
        code="button_title_too_long",
    )
    rows_from = None
    if "rows_from" in raw:
        rows_from = ctx.field_name(raw["rows_from"], line, step, "rows_from")
    raw_sections: list[Any] = []
    if "rows" in raw:
        raw_sections = [{"rows": raw["rows"]}]
    if "sections" in raw:
        if not isinstance(raw["sections"], list) or not raw["sections"]:
            ctx.err(line, step, "schema", "'sections' must be a non-empty list")
        else:
            raw_sections.extend(raw["sections"])
    if not raw_sections and rows_from is None:
        ctx.err(line, step, "schema", "a list needs 'rows', 'sections' or 'rows_from'")
    sections: list[ListSection] = []
    total = 0
    ids: set[str] = set()
    for sec in raw_sections:
        sec_line = line_of(sec, line)
        if not isinstance(sec, dict) or "rows" not in sec or set(sec) - {"title", "rows"}:
            ctx.err(sec_line, step, "schema", "a section needs 'rows' and an optional 'title'")
            continue
        title = None
        if "title" in sec:
            title = ctx.text(
                sec["title"],
                sec_line,
                step,
                limit=LIMITS["section_title"],
                what="section title",
                code="row_title_too_long",
            )
        rows = _rows(ctx, sec["rows"], sec_line, step, ids)
        total += len(rows)
        sections.append(ListSection(title, rows))
    if total > LIMITS["list_rows"]:
        ctx.err(
            key_line,
            step,
            "list_too_long",
            f"{total} list rows; WhatsApp allows at most {LIMITS['list_rows']}",
        )
    if button is None:
        return None
    return ListSpec(button, tuple(sections), rows_from)


def _rows(ctx: SchemaContext, raw: Any, line: int, step: str, ids: set[str]) -> tuple[ListRow, ...]:
    if not isinstance(raw, list) or not raw:
        ctx.err(line, step, "schema", "'rows' must be a non-empty list")
        return ()
    out: list[ListRow] = []
    item_lines = getattr(raw, "item_lines", [])
    for i, row in enumerate(raw):
        row_line = item_lines[i] if i < len(item_lines) else line
        if (
            not isinstance(row, dict)
            or not {"id", "title"} <= set(row)
            or set(row) - {"id", "title", "description"}
        ):
            ctx.err(
                row_line, step, "schema", "a row needs 'id', 'title' and optional 'description'"
            )
            continue
        rid = ctx.ident(row["id"], row_line, step, "row id")
        title = ctx.text(
            row["title"],
            row_line,
            step,
            limit=LIMITS["row_title"],
            what="row title",
            code="row_title_too_long",
        )
        desc = None
        if "description" in row:
            desc = ctx.text(
                row["description"],
                row_line,
                step,
                limit=LIMITS["row_description"],
                what="row description",
            )
        if rid is not None and rid in ids:
            ctx.err(row_line, step, "schema", f"duplicate row id {rid!r}")
        if rid is not None and title is not None:
            ids.add(rid)
            out.append(ListRow(rid, title, desc))
    return tuple(out)


def _template(ctx: SchemaContext, raw: Any, line: int, step: str) -> TemplateSpec | None:
    if not isinstance(raw, dict) or "name" not in raw or set(raw) - {"name", "language", "params"}:
        ctx.err(line, step, "schema", "'template' needs 'name' and optional 'language', 'params'")
        return None
    name, language = raw["name"], raw.get("language", "id")
    params = raw.get("params", [])
    if not isinstance(name, str) or not re.match(r"^[a-z0-9_]{1,512}$", name):
        ctx.err(line, step, "schema", "template name must be lower_snake_case")
        return None
    if not isinstance(language, str) or not isinstance(params, list):
        ctx.err(line, step, "schema", "template 'language' is a code, 'params' a list")
        return None
    for p in params:
        if not isinstance(p, str | int | float):
            ctx.err(line, step, "schema", "template params must be scalars")
            return None
        ctx.texts.append(OutboundText(ctx.file, line, step, str(p)))
    return TemplateSpec(name, language, tuple(str(p) for p in params))


def _media(ctx: SchemaContext, raw: Any, line: int, step: str) -> MediaSpec | None:
    if (
        not isinstance(raw, dict)
        or not {"type", "link"} <= set(raw)
        or set(raw) - {"type", "link", "caption", "filename"}
    ):
        ctx.err(
            line, step, "schema", "'media' needs 'type', 'link', optional 'caption', 'filename'"
        )
        return None
    kind, link = raw["type"], raw["link"]
    if kind not in ("image", "document", "video", "audio"):
        ctx.err(line, step, "schema", "media type must be image, document, video or audio")
        return None
    if not isinstance(link, str) or not link.startswith("https://"):
        ctx.err(line, step, "schema", "media link must be an https:// URL")
        return None
    ctx.texts.append(OutboundText(ctx.file, line, step, link, link_only=True))
    caption = None
    if "caption" in raw:
        caption = ctx.text(raw["caption"], line, step, limit=LIMITS["caption"], what="caption")
    filename = raw.get("filename")
    if filename is not None and not isinstance(filename, str):
        ctx.err(line, step, "schema", "media filename must be text")
        return None
    return MediaSpec(kind, link, caption, filename)


def _contact(ctx: SchemaContext, raw: Any, line: int, step: str) -> ContactSpec | None:
    if (
        not isinstance(raw, dict)
        or not {"name", "phone"} <= set(raw)
        or set(raw) - {"name", "phone", "organization"}
    ):
        ctx.err(line, step, "schema", "'contact' needs 'name', 'phone' and optional 'organization'")
        return None
    name, phone, org = raw["name"], raw["phone"], raw.get("organization")
    if (
        not isinstance(name, str)
        or not isinstance(phone, str)
        or not re.match(r"^\+?[0-9 -]{6,20}$", phone)
    ):
        ctx.err(line, step, "schema", "contact name must be text and phone like +62 21 5000 000")
        return None
    if org is not None and not isinstance(org, str):
        ctx.err(line, step, "schema", "contact organization must be text")
        return None
    return ContactSpec(name, phone, org)


def parse_send(ctx: SchemaContext, raw: Any, line: int, step: str) -> SendSpec | None:
    """A ``send`` value: text shorthand or a mapping of SEND_KEYS."""
    if isinstance(raw, str) or is_text_mapping(raw, ctx.languages):
        text = ctx.text(raw, line, step, limit=LIMITS["text"], what="text")
        return SendSpec(text=text) if text is not None else None
    if not isinstance(raw, YMap) and not isinstance(raw, dict):
        ctx.err(line, step, "schema", "'send' needs text or a mapping")
        return None
    line = line_of(raw, line)
    unknown = set(raw) - SEND_KEYS
    if unknown:
        ctx.err(line, step, "schema", f"unknown send keys {sorted(unknown)}")
    interactive = any(k in raw for k in ("buttons", "buttons_from", "list", "location_request"))
    kinds = [
        k
        for k in ("buttons", "list", "template", "media", "location_request", "contact")
        if k in raw
    ]
    if "buttons_from" in raw and "buttons" not in raw:
        kinds.append("buttons")
    if len([k for k in kinds if k != "template"]) > 1:
        ctx.err(line, step, "schema", f"one message cannot combine {', '.join(kinds)}")

    def kline(key: str) -> int:
        return raw.key_lines.get(key, line) if isinstance(raw, YMap) else line

    text = None
    if "text" in raw:
        text = ctx.text(
            raw["text"],
            kline("text"),
            step,
            limit=LIMITS["body"] if interactive else LIMITS["text"],
            what="text",
        )
    elif interactive:
        ctx.err(line, step, "schema", "buttons, lists and location requests need a 'text' body")
    spec = SendSpec(text=text)
    header = footer = None
    if "header" in raw:
        header = ctx.text(
            raw["header"], kline("header"), step, limit=LIMITS["header"], what="header"
        )
    if "footer" in raw:
        footer = ctx.text(
            raw["footer"], kline("footer"), step, limit=LIMITS["footer"], what="footer"
        )
    buttons = _buttons(ctx, raw["buttons"], kline("buttons"), step) if "buttons" in raw else ()
    buttons_from = None
    if "buttons_from" in raw:
        buttons_from = ctx.field_name(
            raw["buttons_from"], kline("buttons_from"), step, "buttons_from"
        )
    lst = _list(ctx, raw["list"], kline("list"), step) if "list" in raw else None
    template = (
        _template(ctx, raw["template"], kline("template"), step) if "template" in raw else None
    )
    media = _media(ctx, raw["media"], kline("media"), step) if "media" in raw else None
    contact = _contact(ctx, raw["contact"], kline("contact"), step) if "contact" in raw else None
    location = raw.get("location_request", False)
    if not isinstance(location, bool):
        ctx.err(kline("location_request"), step, "schema", "'location_request' is true or false")
        location = False
    if text is None and template is None and media is None and contact is None:
        if not interactive:
            ctx.err(line, step, "schema", "nothing to send")
        return None
    return SendSpec(
        text=spec.text,
        header=header,
        footer=footer,
        buttons=buttons,
        buttons_from=buttons_from,
        list=lst,
        template=template,
        media=media,
        location_request=location,
        contact=contact,
    )
