"""Normalise customer phone numbers to E.164 digits (Indonesian formats first) or say why not.

Accepted: ``0812…``, ``+62 812-…``, ``62812…``, ``8123…`` (an Indonesian mobile
number written without its trunk prefix), ``+62 (0)812…`` and any other
country written with a leading ``+``.  Indonesian numbers must be mobile
numbers (national number starting with 8, 9 to 12 digits).  The result is
the wa_id form: digits only, country code first, no ``+``.
"""

from __future__ import annotations

import re

from aman.campaigns.errors import InvalidPhoneNumberError

__all__ = ["mask_number", "normalize_phone"]

_SEPARATORS = re.compile(r"[\s\-.()/\u00a0]")
_ID_MIN, _ID_MAX = 9, 12  # digits of an Indonesian mobile number after +62


def _indonesian(national: str) -> str:
    if national.startswith("0"):
        national = national[1:]  # "+62 (0)812…" / "62 0812…"
    if not national.startswith("8"):
        raise InvalidPhoneNumberError(
            "not an Indonesian mobile number (mobile numbers start with 08 / +62 8)"
        )
    if len(national) < _ID_MIN:
        raise InvalidPhoneNumberError(
            f"too short for an Indonesian mobile number ({len(national) + 1} digits with the 0)"
        )
    if len(national) > _ID_MAX:
        raise InvalidPhoneNumberError(
            f"too long for an Indonesian mobile number ({len(national) + 1} digits with the 0)"
        )
    if national[1] == "0":
        raise InvalidPhoneNumberError("not an Indonesian mobile number (no operator uses 080)")
    return "62" + national


def normalize_phone(raw: str) -> str:
    """E.164 digits of ``raw`` (e.g. ``6281234567890``); InvalidPhoneNumberError with a reason."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumberError("empty phone number")
    compact = _SEPARATORS.sub("", text)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not plus and digits.startswith("00"):  # the international dialling prefix
        digits, plus = digits[2:], True
    if not digits:
        raise InvalidPhoneNumberError("empty phone number")
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhoneNumberError("contains characters other than digits, spaces, -, ( )")
    if digits.startswith("62"):
        return _indonesian(digits[2:])
    if plus:
        if digits.startswith("0"):
            raise InvalidPhoneNumberError("a country code never starts with 0")
        if not 8 <= len(digits) <= 15:
            raise InvalidPhoneNumberError("an international number has 8 to 15 digits")
        return digits
    if digits.startswith("0"):
        return _indonesian(digits)
    if digits.startswith("8"):
        return _indonesian(digits)
    raise InvalidPhoneNumberError(
        "not an Indonesian number; write numbers of other countries with a leading +"
    )


def mask_number(raw: str) -> str:
    """A number safe to show in reports and logs: first 2 and last 2 digits, the rest masked."""
    digits = "".join(ch for ch in raw if ch.isascii() and ch.isdigit())
    if len(digits) < 7:
        return "****"
    return f"{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"
