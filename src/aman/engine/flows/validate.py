"""Check and convert the answer to an ``ask`` step (number, money, date, choice, phone, ...).

``validate_answer`` returns the value to store, or None when the answer does not fit.
Entities (money, dates, order ids, accounts, phones) come from aman.nlu so that the
bot reads "100rb", "besok jam 10" and "ORD 12345" the same way everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from aman.engine.bot import Incoming
from aman.engine.flows.model import AskStep, Choice
from aman.nlu.entities import Entity
from aman.nlu.fuzzy import one_edit_apart
from aman.nlu.money import parse_number
from aman.nlu.normalize import normalize

__all__ = ["PREFILL_KINDS", "choice_options", "fuzzy_equal", "validate_answer"]

PREFILL_KINDS = frozenset({"money", "date", "time", "datetime", "order_id", "account", "phone"})
_PLAIN_NUMBER = re.compile(r"^\s*-?\d[\d.,]*\s*$")
_ACCOUNT = re.compile(r"^\s*(\d(?:[ -]?\d){9,15})\s*$")
_LOOSE_ACCOUNT = re.compile(r"(?<![\d.,-])\d{10,16}(?![\d.,-]?\d)")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
_PHONE = re.compile(r"^\s*\+?[\d\s.-]{9,20}\s*$")
_BARE_ORDER = re.compile(r"^\s*(\d{5,8})\s*$")
_INDEX = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def fuzzy_equal(word: str, target: str) -> bool:
    """Equal, or one edit (or one swap of neighbours) apart when both have 5+ characters."""
    return word == target or (min(len(word), len(target)) >= 5 and one_edit_apart(word, target))


def choice_options(step: AskStep, fields: Mapping[str, Any]) -> list[Choice]:
    """The choices of a question: static ones plus those in ``choices_from``."""
    out = list(step.choices)
    if step.choices_from:
        raw = fields.get(step.choices_from)
        if isinstance(raw, list):
            for item in raw:
                if (
                    isinstance(item, dict)
                    and isinstance(item.get("id"), str)
                    and isinstance(item.get("title"), str)
                ):
                    out.append(Choice(item["id"], {"*": item["title"]}))
    return out


def _choice(msg: Incoming, options: Sequence[Choice]) -> str | None:
    if msg.reply_id:
        return next((c.id for c in options if c.id == msg.reply_id), None)
    if not msg.text:
        return None
    m = _INDEX.match(msg.text)
    if m and 1 <= int(m.group(1)) <= len(options):
        return options[int(m.group(1)) - 1].id
    said = normalize(msg.text)
    if not said:
        return None
    for option in options:
        names = [*option.title.values(), *option.synonyms, option.id]
        if any(fuzzy_equal(said, normalize(n)) for n in names if n):
            return option.id
    return None


def _money(text: str, entities: Sequence[Entity]) -> int | None:
    amounts = [e.value for e in entities if e.kind == "money" and isinstance(e.value, Decimal)]
    if amounts:
        return int(amounts[0])
    if _PLAIN_NUMBER.match(text):
        value = parse_number(text.strip(), decimal_hint=False)
        if value is not None and value == value.to_integral_value():
            return int(value)
    return None


def _moment(kind: str, entities: Sequence[Entity], now: datetime) -> float | None:
    for e in entities:
        if not isinstance(e.value, str):
            continue
        if kind == "datetime" and e.kind == "datetime":
            return datetime.fromisoformat(e.value).timestamp()
        if kind in ("date", "datetime") and e.kind == "date":
            day = datetime.fromisoformat(e.value).date()
            return datetime.combine(day, time(0, 0), now.tzinfo).timestamp()
        if kind == "time" and e.kind in ("time", "datetime"):
            clock = (
                time.fromisoformat(e.value)
                if e.kind == "time"
                else datetime.fromisoformat(e.value).timetz().replace(tzinfo=None)
            )
            return datetime.combine(now.date(), clock, now.tzinfo).timestamp()
    return None


def _phone(text: str, entities: Sequence[Entity]) -> str | None:
    phones = [e.value for e in entities if e.kind == "phone" and isinstance(e.value, str)]
    if phones:
        return "+" + phones[0]
    if _PHONE.match(text):
        digits = re.sub(r"\D", "", text)
        if digits.startswith("0"):
            digits = "62" + digits[1:]
        if 10 <= len(digits) <= 15:
            return "+" + digits
    return None


def validate_answer(
    step: AskStep,
    msg: Incoming,
    fields: Mapping[str, Any],
    entities: Callable[[], Sequence[Entity]],
    now: datetime,
    *,
    whole: bool = True,
) -> Any | None:
    """The value of ``msg`` as an answer to ``step``; None when it does not fit.

    ``whole=False`` (prefill from the message that started the flow) accepts only
    values found as entities inside a longer sentence.
    """
    kind = step.kind
    if kind == "image":
        media = msg.raw.get("image") if msg.type == "image" else None
        return {"id": str(media.get("id", ""))} if isinstance(media, Mapping) else None
    if kind == "location":
        loc = msg.raw.get("location") if msg.type == "location" else None
        if isinstance(loc, Mapping) and {"latitude", "longitude"} <= set(loc):
            return {"latitude": loc["latitude"], "longitude": loc["longitude"]}
        return None
    if kind == "choice":
        return _choice(msg, choice_options(step, fields)) if whole else None
    text = (msg.text or "").strip()
    if not text or len(text) > 1000:
        return None
    value: Any = None
    if kind == "text":
        value = text if whole else None
    elif kind == "number":
        if whole and _PLAIN_NUMBER.match(text):
            number = parse_number(text, decimal_hint=True)
            value = None if number is None else float(number)
    elif kind == "money":
        value = _money(text if whole else "", entities())
    elif kind in ("date", "time", "datetime"):
        value = _moment(kind, entities(), now)
    elif kind == "order_id":
        orders = [e.value for e in entities() if e.kind == "order_id"]
        bare = _BARE_ORDER.match(text) if whole else None
        value = str(orders[0]) if orders else (f"ORD-{bare.group(1)}" if bare else None)
    elif kind == "account":
        found = [e.value for e in entities() if e.kind == "account_number"]
        if not found and not whole:
            taken = [(e.start, e.end) for e in entities()]
            found = [
                m.group(0)
                for m in _LOOSE_ACCOUNT.finditer(text)
                if not m.group(0).startswith(("08", "62"))
                and not any(a < m.end() and m.start() < b for a, b in taken)
            ]
        m = _ACCOUNT.match(text) if whole else None
        value = str(found[0]) if found else (re.sub(r"\D", "", m.group(1)) if m else None)
    elif kind == "phone":
        value = _phone(text if whole else "", entities())
    elif kind == "email":
        value = text if whole and _EMAIL.match(text) else None
    elif kind == "regex" and step.pattern is not None:
        value = text if whole and step.pattern.fullmatch(text) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if step.minimum is not None and value < step.minimum:
            return None
        if step.maximum is not None and value > step.maximum:
            return None
    return value
