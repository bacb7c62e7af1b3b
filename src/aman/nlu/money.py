"""Find rupiah amounts in chat text and turn them into exact Decimal values.

Recognised (case-insensitive), value always in rupiah:
  * currency prefix: "Rp 250.000", "Rp250rb", "rp. 1,5 jt", "IDR 2.5m", "IDR 2,500,000"
  * multiplier suffix: "100rb", "100 ribu", "1,5 jt", "1.5jt", "2 juta", "50k",
    "3 miliar"; single-letter k/m/b must touch the number ("50k", not "50 k")
  * currency suffix: "500000 rupiah", "75.000 rp"
  * Indonesian number words with a scale or "rupiah": "seratus ribu",
    "dua juta lima ratus ribu", "satu setengah juta", "seribu rupiah"
Multipliers: rb/rbu/ribu/k/thousand = 1e3; jt/jta/juta/m/mn/mio/million = 1e6
("IDR 2.5m", either case); miliar/milyar/b/bn/billion = 1e9. Numbers longer than
15 digits are ignored (no rupiah amount is that long; they are ids).

Separators: with both "." and "," the last one is the decimal mark; one kind
repeated is thousands grouping; a single separator is decimal after a multiplier
("1.5jt"), thousands when exactly three digits follow ("250.000"), else decimal.
A bare number without currency or multiplier is not money.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["find_money", "parse_number"]

_NUM = r"\d[\d.,]*\d|\d"
_MULTIPLIERS: dict[str, Decimal] = {
    "rb": Decimal(1000), "rbu": Decimal(1000), "ribu": Decimal(1000), "k": Decimal(1000),
    "thousand": Decimal(1000),
    "jt": Decimal(10) ** 6, "jta": Decimal(10) ** 6, "juta": Decimal(10) ** 6,
    "m": Decimal(10) ** 6, "mn": Decimal(10) ** 6, "mio": Decimal(10) ** 6,
    "million": Decimal(10) ** 6, "millions": Decimal(10) ** 6,
    "miliar": Decimal(10) ** 9, "milyar": Decimal(10) ** 9, "b": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9, "billion": Decimal(10) ** 9, "billions": Decimal(10) ** 9,
}  # fmt: skip
_ATTACHED_ONLY = {"k", "m", "b"}
_MAX_DIGITS = 15
_MULT = r"ribu|rbu|rb|thousand|juta|jta|jt|millions?|mio|mn|miliar|milyar|billions?|bn|k|m|b"
_AMOUNT = re.compile(
    rf"""
    (?<![\w.,])
    (?:(?P<prefix>rp\.?|idr)\s?)?
    (?P<num>{_NUM})
    (?:(?P<gap>\s?)(?P<mult>{_MULT})(?![a-z]))?
    (?:\s?(?P<suffix>rupiah|rp|idr)(?![a-z])(?!\.?\s?\d))?
    (?![\w]|[.,]\d)
    """,
    re.IGNORECASE | re.VERBOSE | re.ASCII,
)

_UNITS = {
    "nol": 0, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5,
    "enam": 6, "tujuh": 7, "delapan": 8, "sembilan": 9,
}  # fmt: skip
_SCALES = {"ribu": Decimal(1000), "juta": Decimal(10) ** 6, "miliar": Decimal(10) ** 9}
_SE = {"sepuluh": 10, "sebelas": 11, "seratus": 100}
_SE_SCALE = {"seribu": Decimal(1000), "sejuta": Decimal(10) ** 6, "semiliar": Decimal(10) ** 9}
_WORD_ALT = "|".join(
    sorted(
        [*_UNITS, *_SCALES, *_SE, *_SE_SCALE, "belas", "puluh", "ratus", "setengah", "milyar"],
        key=len,
        reverse=True,
    )
)
_WORDS = re.compile(
    rf"(?<![a-z])(?:{_WORD_ALT})(?:\s+(?:{_WORD_ALT}))*(?![a-z])(?:\s+(?P<rupiah>rupiah)(?![a-z]))?",
    re.IGNORECASE,
)


def _grouped(digits: str, sep: str) -> bool:
    parts = digits.split(sep)
    return 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])


def parse_number(raw: str, *, decimal_hint: bool) -> Decimal | None:
    """Parse "1.500.000", "2,500.50", "1,5" ... (see module doc); None if malformed.

    ``decimal_hint`` is True when a multiplier follows, making a lone separator decimal.
    """
    has_dot, has_comma = "." in raw, "," in raw
    try:
        if has_dot and has_comma:
            dec_sep = "." if raw.rfind(".") > raw.rfind(",") else ","
            thou_sep = "," if dec_sep == "." else "."
            whole, _, frac = raw.rpartition(dec_sep)
            if dec_sep in whole or not frac.isdigit() or not _grouped(whole, thou_sep):
                return None
            return Decimal(whole.replace(thou_sep, "") + "." + frac)
        sep = "." if has_dot else "," if has_comma else ""
        if not sep:
            return Decimal(raw)
        count = raw.count(sep)
        if count > 1:
            return Decimal(raw.replace(sep, "")) if _grouped(raw, sep) else None
        whole, _, frac = raw.partition(sep)
        if not decimal_hint and len(frac) == 3:
            return Decimal(whole + frac)
        return Decimal(whole + "." + frac)
    except InvalidOperation:
        return None


def _exact(value: Decimal) -> Decimal:
    """Whole rupiah as an integral Decimal ("1500000"), otherwise unchanged."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _parse_words(words: list[str]) -> tuple[Decimal, bool] | None:
    """Value of Indonesian number words and whether a scale word occurred."""
    total = Decimal(0)
    group = Decimal(0)
    last_unit: int | None = None
    scaled = False
    for word in words:
        if word == "milyar":
            word = "miliar"
        if word in _UNITS:
            if last_unit is not None:
                return None  # "dua tiga" is not one number
            group += _UNITS[word]
            last_unit = _UNITS[word]
            continue
        if word in _SE:
            group += _SE[word]
        elif word == "setengah":
            group += Decimal("0.5")
        elif word in ("belas", "puluh", "ratus"):
            if last_unit is None:
                return None
            factor = {"belas": None, "puluh": 10, "ratus": 100}[word]
            group += 10 if factor is None else last_unit * (factor - 1)
        elif word in _SCALES or word in _SE_SCALE:
            if word in _SCALES:
                if not group:
                    return None  # a bare "juta" is not an amount
                total += group * _SCALES[word]
            else:
                total += _SE_SCALE[word]
            group = Decimal(0)
            scaled = True
        last_unit = None
    return total + group, scaled


def find_money(text: str) -> list[tuple[int, int, Decimal]]:
    """(start, end, rupiah value) of every amount found in ``text``."""
    found: list[tuple[int, int, Decimal]] = []
    for match in _AMOUNT.finditer(text):
        prefix, mult, suffix = match.group("prefix"), match.group("mult"), match.group("suffix")
        if not (prefix or mult or suffix):
            continue
        detached = mult and mult.lower() in _ATTACHED_ONLY and match.group("gap")
        if detached and not (prefix or suffix):
            continue  # "5 m" is more likely metres than millions
        raw = match.group("num")
        if sum(ch.isdigit() for ch in raw) > _MAX_DIGITS:
            continue
        number = parse_number(raw, decimal_hint=bool(mult))
        if number is None:
            continue
        if mult:
            number *= _MULTIPLIERS[mult.lower()]
        found.append((match.start(), match.end(), _exact(number)))
    for match in _WORDS.finditer(text):
        words = match.group(0).lower().split()
        if words[-1] == "rupiah":
            words = words[:-1]
        parsed = _parse_words(words)
        if parsed is None:
            continue
        value, scaled = parsed
        if (scaled or match.group("rupiah")) and value > 0:
            found.append((match.start(), match.end(), _exact(value)))
    return found
