"""Shared detectors for sensitive numbers (card numbers, NIK, account numbers).

One place for the checks that redaction (what we store and log) and the outbound
guard (what we send) both need, so the two can never disagree.
"""

from __future__ import annotations

import re

__all__ = ["CARD_CANDIDATE", "NIK_CANDIDATE", "digits_only", "is_card_number", "luhn_valid"]

# 13-19 digits, optionally grouped by single spaces or dashes (e.g. "4111 1111 1111 1111").
CARD_CANDIDATE = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
# Indonesian national identity number (NIK): exactly 16 digits.
NIK_CANDIDATE = re.compile(r"(?<!\d)\d{16}(?!\d)")


def digits_only(text: str) -> str:
    """Return the ASCII digits of ``text`` in order."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of ASCII digits; False for anything else."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if pos % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_card_number(candidate: str) -> bool:
    """True when ``candidate`` (digits with optional separators) is a Luhn-valid 13-19 digit PAN."""
    digits = digits_only(candidate)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)
