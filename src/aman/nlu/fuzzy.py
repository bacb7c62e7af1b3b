"""Typo tolerance: whether two words are at most one edit apart.

One edit is a changed, added or dropped character, or two neighbours swapped
("besra" for "besar").  Callers decide how long a word must be before a typo
is forgiven (flow answers and triggers, opt-out and data-rights commands).
"""

from __future__ import annotations

__all__ = ["one_edit_apart"]


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are equal or one edit (or one swap of neighbours) apart."""
    if a == b:
        return True
    size_a, size_b = len(a), len(b)
    if abs(size_a - size_b) > 1:
        return False
    if size_a == size_b:
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            i = diff[0]
            return a[i] == b[i + 1] and a[i + 1] == b[i]
        return len(diff) <= 1
    short, long_ = (a, b) if size_a < size_b else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]
