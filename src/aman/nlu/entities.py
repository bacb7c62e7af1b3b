"""Extract entities from a raw chat message: money, dates/times, order ids, accounts, phones.

Offsets (``start``/``end``) index the original text, which is never rewritten.
Kinds and values:
  * ``money``: Decimal rupiah (see aman.nlu.money for the accepted forms).
  * ``datetime`` / ``date`` / ``time``: ISO strings resolved against ``now`` in
    Asia/Jakarta (see aman.nlu.when).
  * ``order_id``: the shop's canonical form. Format: "ORD-" + 5-8 digits
    ("ORD-12345"). Accepted input: "ORD-12345", "ord12345", "#ORD 12345", or
    5-8 digits after "pesanan"/"order"/"no. pesanan"/"order id"/"#"
    ("pesanan 123456" -> "ORD-123456"). Invoices "INV" + 6-14 digits
    ("#INV20261126") keep their own form, "INV20261126".
  * ``account_number``: 10-16 digits (spaces/dashes allowed) shortly after
    "rek"/"rekening"/"norek"/"account"/"acct"/"a/c"/"va"; value is the digits,
    ``masked`` is "****1234" for echoing back.
  * ``phone``: Indonesian mobile numbers written 08xx, +62 8xx or 62 8xx, with
    optional spaces/dashes/dots; value is E.164 digits without "+": "628123456789".
When spans overlap, the longest wins (ties: order id, account, phone, money, date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from aman.nlu.errors import NluInputError
from aman.nlu.money import find_money
from aman.nlu.when import find_datetimes

__all__ = ["Entity", "EntityKind", "extract_entities", "mask_account"]

EntityKind = Literal["money", "datetime", "date", "time", "order_id", "account_number", "phone"]
_PRIORITY: dict[str, int] = {
    "order_id": 0, "account_number": 1, "phone": 2, "money": 3,
    "datetime": 4, "date": 5, "time": 6,
}  # fmt: skip
_MAX_TEXT = 10_000

_ORDER = re.compile(
    r"(?<![\w#])#?\s?ORD[-\s]?(?P<ord>\d{5,8})(?!\d)"
    r"|(?<![\w#])#?\s?(?P<inv>INV)[-/]?(?P<invno>\d{6,14})(?!\d)"
    r"|(?:\b(?:no\.?\s*|nomor\s+)?(?:pesanan|pesenan|order|orderan)(?:\s+(?:id|no\.?|nomor|number))?"
    r"\s*[:#]?\s*|(?<![\w#])#)(?P<ctx>\d{5,8})(?![\d.,/:-])",
    re.IGNORECASE,
)
_ACCOUNT = re.compile(
    r"\b(?:no\.?\s*rek(?:ening)?|nomor\s+rek(?:ening)?|norek|rek(?:ening)?|account|acct|acc|a/c|va|"
    r"virtual\s+account)\b[^\d\n]{0,30}?"
    r"(?<![\d+])(?P<acct>\d(?:[ -]?\d){9,15})(?![\d.,]?\d)",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+])(?P<prefix>\+62|62|0)[\s.-]?(?P<rest>8\d{2,3}(?:[\s.-]?\d{2,5}){1,3})(?![\w.-]?\d)",
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity found in a message; ``masked`` is set for account numbers only."""

    kind: EntityKind
    value: Decimal | str
    start: int
    end: int
    text: str
    masked: str | None = None


def mask_account(number: str) -> str:
    """ "****" + the last four digits of ``number`` (only "****" when it has fewer)."""
    if not isinstance(number, str):
        raise NluInputError(f"mask_account() needs a str, got {type(number).__name__}")
    digits = "".join(ch for ch in number if "0" <= ch <= "9")
    return "****" + digits[-4:] if len(digits) >= 4 else "****"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def _orders(text: str) -> list[Entity]:
    out = []
    for m in _ORDER.finditer(text):
        if m.group("ord"):
            value, start = "ORD-" + m.group("ord"), m.start()
        elif m.group("inv"):
            value, start = "INV" + m.group("invno"), m.start()
        else:
            value, start = "ORD-" + m.group("ctx"), m.start("ctx")
            if text[m.start() : m.start("ctx")].strip().startswith("#"):
                start = m.start()
        out.append(Entity("order_id", value, start, m.end(), text[start : m.end()]))
    return out


def _accounts(text: str) -> list[Entity]:
    out = []
    for m in _ACCOUNT.finditer(text):
        digits = _digits(m.group("acct"))
        if 10 <= len(digits) <= 16:
            start, end = m.span("acct")
            out.append(
                Entity("account_number", digits, start, end, text[start:end], mask_account(digits))
            )
    return out


def _phones(text: str) -> list[Entity]:
    out = []
    for m in _PHONE.finditer(text):
        national = _digits(m.group("rest"))
        if 9 <= len(national) <= 12:
            out.append(Entity("phone", "62" + national, m.start(), m.end(), m.group(0)))
    return out


def extract_entities(text: str, *, now: datetime) -> list[Entity]:
    """All entities in ``text``, non-overlapping, ordered by position.

    ``now`` must be timezone-aware; relative dates resolve in Asia/Jakarta. Texts
    longer than 10,000 characters are scanned only up to that length.
    """
    if not isinstance(text, str):
        raise NluInputError(f"extract_entities() needs a str, got {type(text).__name__}")
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise NluInputError("extract_entities() needs a timezone-aware datetime for 'now'")
    text = text[:_MAX_TEXT]
    candidates: list[Entity] = [*_orders(text), *_accounts(text), *_phones(text)]
    candidates.extend(
        Entity("money", value, start, end, text[start:end])
        for start, end, value in find_money(text)
    )
    for kind, start, end, iso in find_datetimes(text, now):
        candidates.append(Entity(kind, iso, start, end, text[start:end]))
    chosen: list[Entity] = []
    for cand in sorted(candidates, key=lambda e: (-(e.end - e.start), _PRIORITY[e.kind], e.start)):
        if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda e: e.start)
