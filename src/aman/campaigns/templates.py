"""Local registry of Cloud API message templates, variable validation and message building.

A template mirrors Meta's: name, language, category, components (HEADER,
BODY, FOOTER, BUTTONS) with positional ``{{1}}`` or named ``{{first_name}}``
variables, review status and quality.  Only an APPROVED template can be
sent.  A campaign maps each variable to a value spec: literal text with
``{name}``, ``{first_name}`` or ``{field.<key>}`` substitutions and an
optional default after ``|`` (``"{first_name|Kak}"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import (
    CampaignInputError,
    CampaignNotFoundError,
    TemplateUnusableError,
)
from aman.campaigns.models import MessageTemplateRow

__all__ = [
    "CATEGORIES",
    "USABLE_STATUSES",
    "Slot",
    "Template",
    "TemplateRegistry",
    "check_spec",
    "check_variables",
    "parse_components",
    "render_values",
    "substitute",
    "template_from_row",
]

CATEGORIES = ("marketing", "utility", "authentication")
STATUSES = (
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "FLAGGED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "LIMIT_EXCEEDED",
    "ARCHIVED",
)
USABLE_STATUSES = frozenset({"APPROVED"})
QUALITIES = ("GREEN", "YELLOW", "RED", "UNKNOWN")
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_NAMED = re.compile(r"^[a-z_][a-z0-9_]*$")
_TOKEN = re.compile(r"\{(name|first_name|field\.[a-z][a-z0-9_]{0,63})(?:\|([^{}]{0,100}))?\}")
_BAD_BODY = re.compile(r"[\n\t]| {5,}")
MAX_PARAM = 1024
MAX_HEADER_PARAM = 60


@dataclass(frozen=True, slots=True)
class Slot:
    """One variable of a template: where it sits and what it is called."""

    component: str  # header | body | button
    index: int  # button index (0 for header/body)
    name: str  # "1", "2" ... or the named parameter
    kind: str  # text | image | video | document | coupon_code
    sub_type: str = ""  # button sub_type: url | copy_code

    @property
    def key(self) -> str:
        return self.component if self.component != "button" else f"button:{self.index}"


def _vars(text: str, where: str) -> list[str]:
    names = _VAR.findall(text)
    if not names:
        return []
    if all(n.isdigit() for n in names):
        if [int(n) for n in names] != list(range(1, len(names) + 1)):
            raise CampaignInputError(
                f"{where}: positional variables must be {{{{1}}}}, {{{{2}}}}… in order"
            )
        return names
    if any(n.isdigit() for n in names) or not all(_NAMED.match(n) for n in names):
        raise CampaignInputError(
            f"{where}: use either {{{{1}}}}-style or lower_case named variables"
        )
    if len(set(names)) != len(names):
        raise CampaignInputError(f"{where}: a named variable appears twice")
    return names


def parse_components(raw: Any) -> tuple[list[dict[str, Any]], list[Slot]]:
    """Validate Cloud API template components; return them (types upper-cased) and the slots."""
    if not isinstance(raw, list) or not raw:
        raise CampaignInputError("components must be a non-empty list")
    comps: list[dict[str, Any]] = []
    slots: list[Slot] = []
    seen: set[str] = set()
    for i, comp in enumerate(raw):
        where = f"components[{i}]"
        if not isinstance(comp, dict) or not isinstance(comp.get("type"), str):
            raise CampaignInputError(f"{where}: needs a type")
        ctype = comp["type"].upper()
        if ctype in seen:
            raise CampaignInputError(f"{where}: {ctype} appears twice")
        seen.add(ctype)
        comp = {**comp, "type": ctype}
        if ctype == "HEADER":
            fmt = str(comp.get("format", "TEXT")).upper()
            comp["format"] = fmt
            if fmt == "TEXT":
                names = _vars(_text(comp, where, 60), where)
                if len(names) > 1:
                    raise CampaignInputError(f"{where}: a text header has at most one variable")
                slots += [Slot("header", 0, n, "text") for n in names]
            elif fmt in ("IMAGE", "VIDEO", "DOCUMENT"):
                slots.append(Slot("header", 0, "1", fmt.lower()))
            else:
                raise CampaignInputError(f"{where}: header format TEXT, IMAGE, VIDEO or DOCUMENT")
        elif ctype == "BODY":
            slots += [Slot("body", 0, n, "text") for n in _vars(_text(comp, where, 1024), where)]
        elif ctype == "FOOTER":
            if _vars(_text(comp, where, 60), where):
                raise CampaignInputError(f"{where}: a footer has no variables")
        elif ctype == "BUTTONS":
            slots += _buttons(comp.get("buttons"), where)
        else:
            raise CampaignInputError(f"{where}: type must be HEADER, BODY, FOOTER or BUTTONS")
        comps.append(comp)
    if "BODY" not in seen:
        raise CampaignInputError("a template needs a BODY component")
    return comps, slots


def _text(comp: Mapping[str, Any], where: str, limit: int) -> str:
    text = comp.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CampaignInputError(f"{where}: needs text")
    if len(_VAR.sub("", text)) > limit:
        raise CampaignInputError(f"{where}: text longer than {limit} characters")
    return text


def _buttons(raw: Any, where: str) -> list[Slot]:
    if not isinstance(raw, list) or not 0 < len(raw) <= 10:
        raise CampaignInputError(f"{where}: BUTTONS needs 1 to 10 buttons")
    slots = []
    for j, button in enumerate(raw):
        at = f"{where}.buttons[{j}]"
        if not isinstance(button, dict):
            raise CampaignInputError(f"{at}: must be an object")
        btype = str(button.get("type", "")).upper()
        if btype == "URL":
            names = _vars(str(button.get("url", "")), at)
            if len(names) > 1:
                raise CampaignInputError(f"{at}: a URL button has at most one variable")
            slots += [Slot("button", j, n, "text", "url") for n in names]
        elif btype == "COPY_CODE":
            slots.append(Slot("button", j, "1", "coupon_code", "copy_code"))
        elif btype == "OTP":
            slots.append(Slot("button", j, "1", "text", "url"))
        elif btype not in ("QUICK_REPLY", "PHONE_NUMBER"):
            raise CampaignInputError(f"{at}: type QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE or OTP")
    return slots


def check_variables(slots: Sequence[Slot], variables: Mapping[str, Any]) -> dict[str, list[str]]:
    """Validate a campaign's value specs against the template's slots; return them normalised.

    ``variables`` maps "header", "body" or "button:<i>" to a list of specs
    (positional) or an object of name -> spec (named).
    """
    wanted: dict[str, list[Slot]] = {}
    for slot in slots:
        wanted.setdefault(slot.key, []).append(slot)
    extra = sorted(set(variables) - set(wanted))
    if extra:
        raise CampaignInputError(f"the template has no variables in {', '.join(extra)}")
    out: dict[str, list[str]] = {}
    for key, group in wanted.items():
        given = variables.get(key)
        if given is None:
            raise CampaignInputError(f"{key}: {len(group)} variable(s) needed, none given")
        if isinstance(given, Mapping):
            names = [s.name for s in group]
            if set(given) != set(names):
                raise CampaignInputError(f"{key}: give exactly the variables {', '.join(names)}")
            specs = [given[n] for n in names]
        elif isinstance(given, list):
            if len(given) != len(group):
                raise CampaignInputError(
                    f"{key}: {len(group)} variable(s) needed, {len(given)} given"
                )
            specs = list(given)
        else:
            raise CampaignInputError(f"{key}: a list or an object of values")
        for spec in specs:
            if not isinstance(spec, str) or not spec or len(spec) > MAX_PARAM:
                raise CampaignInputError(
                    f"{key}: each value is 1 to {MAX_PARAM} characters of text"
                )
            check_spec(spec, key)
        out[key] = specs
    return out


def check_spec(spec: str, where: str) -> None:
    """Refuse substitutions other than {name}, {first_name} and {field.<key>}."""
    for bad in re.findall(r"\{([^{}]*)\}", _TOKEN.sub("", spec)):
        raise CampaignInputError(
            f"{where}: unknown substitution {{{bad[:40]}}}; use {{name}}, {{first_name}} "
            "or {field.<key>}"
        )


def substitute(spec: str, lookup: Callable[[str], str | None]) -> str:
    """Fill a value spec for one recipient; CampaignInputError when a value is missing."""

    def sub(match: re.Match[str]) -> str:
        value = lookup(match.group(1))
        if value is None or not value.strip():
            default = match.group(2)
            if default is None:
                raise CampaignInputError(f"no value for {match.group(1)}")
            return default
        return value

    return _TOKEN.sub(sub, spec).strip()


def render_values(
    slots: Sequence[Slot],
    specs: Mapping[str, list[str]],
    lookup: Callable[[str], str | None],
) -> dict[Slot, str]:
    """Each slot's text for one recipient; CampaignInputError when a value is unusable."""
    counters: dict[str, int] = {}
    out: dict[Slot, str] = {}
    for slot in slots:
        i = counters.get(slot.key, 0)
        counters[slot.key] = i + 1
        text = substitute(specs[slot.key][i], lookup)
        if not text:
            raise CampaignInputError(f"{slot.key}: empty value")
        limit = (
            MAX_HEADER_PARAM if slot.component == "header" and slot.kind == "text" else MAX_PARAM
        )
        if len(text) > limit:
            raise CampaignInputError(f"{slot.key}: value longer than {limit} characters")
        if slot.component == "body" and _BAD_BODY.search(text):
            raise CampaignInputError(f"{slot.key}: no new lines, tabs or 5 spaces in a row")
        out[slot] = text
    return out


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    name: str
    language: str
    category: str
    status: str
    quality: str
    reason: str | None
    components: list[dict[str, Any]]
    slots: tuple[Slot, ...]

    @property
    def usable(self) -> bool:
        return self.status in USABLE_STATUSES

    def require_usable(self) -> None:
        if not self.usable:
            raise TemplateUnusableError(
                f"template {self.name}/{self.language} is {self.status}"
                + (f" ({self.reason})" if self.reason else "")
                + ": only APPROVED templates can be sent"
            )

    def message(self, values: Mapping[Slot, str]) -> dict[str, Any]:
        """The Cloud API ``template`` message body (without messaging_product/to)."""
        parts: dict[str, dict[str, Any]] = {}
        for slot in self.slots:
            part = parts.get(slot.key)
            if part is None:
                part = {"type": slot.component, "parameters": []}
                if slot.component == "button":
                    part |= {"sub_type": slot.sub_type, "index": str(slot.index)}
                parts[slot.key] = part
            value = values[slot]
            if slot.kind == "text":
                param: dict[str, Any] = {"type": "text", "text": value}
                if not slot.name.isdigit():
                    param["parameter_name"] = slot.name
            elif slot.kind == "coupon_code":
                param = {"type": "coupon_code", "coupon_code": value}
            else:
                param = {"type": slot.kind, slot.kind: {"link": value}}
            part["parameters"].append(param)
        body: dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if parts:
            body["components"] = list(parts.values())
        return {"type": "template", "template": body}


def template_from_row(row: Any) -> Template:
    """A ``Template`` from a ``message_templates`` row."""
    comps, slots = parse_components(json.loads(row.components))
    return Template(
        int(row.id),
        row.name,
        row.language,
        row.category,
        row.status,
        row.quality,
        row.reason,
        comps,
        tuple(slots),
    )


class TemplateRegistry:
    """Register and look up templates; registrations and changes are audited."""

    def __init__(self, ctx: CampaignContext) -> None:
        self.ctx = ctx

    def register(
        self,
        actor: str,
        *,
        name: str,
        language: str,
        category: str,
        components: Any,
        status: str = "PENDING",
        meta_id: str | None = None,
    ) -> Template:
        """Add or replace the local copy of a template (as created in WhatsApp Manager)."""
        if not _NAME.match(name):
            raise CampaignInputError("template names are lower-case letters, digits and _")
        if not _LANG.match(language):
            raise CampaignInputError(
                f"language {language[:20]!r} is not a code such as id or en_US"
            )
        cat = category.lower()
        if cat not in CATEGORIES:
            raise CampaignInputError(f"category must be one of {', '.join(CATEGORIES)}")
        st = status.upper()
        if st not in STATUSES:
            raise CampaignInputError(f"status must be one of {', '.join(STATUSES)}")
        comps, _ = parse_components(components)
        stored = json.dumps(comps, sort_keys=True, ensure_ascii=False)
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            existing = self._find(conn, name, language)
            values = {
                "category": cat,
                "components": stored,
                "status": st,
                "meta_id": meta_id,
                "updated_at": now,
                "reason": None,
            }
            if existing is None:
                conn.execute(
                    insert(MessageTemplateRow).values(
                        tenant=self.ctx.tenant,
                        name=name,
                        language=language,
                        quality="UNKNOWN",
                        created_at=now,
                        **values,
                    )
                )
            else:
                conn.execute(
                    update(MessageTemplateRow)
                    .where(MessageTemplateRow.id == existing.id)
                    .values(**values)
                )
            self.ctx.record(
                conn,
                actor,
                "template_register",
                f"template:{name}/{language}",
                {"category": cat, "status": st},
            )
        return self.get(name, language)

    def get(self, name: str, language: str) -> Template:
        with self.ctx.engine.connect() as conn:
            row = self._find(conn, name, language)
        if row is None:
            raise CampaignNotFoundError(f"no template {name}/{language}")
        return template_from_row(row)

    def by_id(self, conn: Connection, template_id: int) -> Template:
        row = conn.execute(
            select(MessageTemplateRow).where(
                MessageTemplateRow.tenant == self.ctx.tenant, MessageTemplateRow.id == template_id
            )
        ).first()
        if row is None:
            raise CampaignNotFoundError(f"no template {template_id}")
        return template_from_row(row)

    def list(self) -> list[Template]:
        with self.ctx.engine.connect() as conn:
            rows = conn.execute(
                select(MessageTemplateRow)
                .where(MessageTemplateRow.tenant == self.ctx.tenant)
                .order_by(MessageTemplateRow.name, MessageTemplateRow.language)
            ).all()
        return [template_from_row(r) for r in rows]

    def _find(self, conn: Connection, name: str, language: str) -> Any:
        row = conn.execute(
            select(MessageTemplateRow).where(
                MessageTemplateRow.tenant == self.ctx.tenant,
                MessageTemplateRow.name == name,
                MessageTemplateRow.language == language,
            )
        ).first()
        return row
