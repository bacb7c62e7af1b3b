"""Opt-out and opt-in commands (STOP / BERHENTI / unsubscribe; START / MULAI), typo-tolerant.

Used everywhere a customer can stop messages, including while a human agent
owns the conversation, so that an opt-out is never missed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from aman.nlu.fuzzy import one_edit_apart

__all__ = ["OPT_IN_CONFIRMATION", "OPT_OUT_CONFIRMATION", "is_opt_in", "is_opt_out"]

_STOP_WORDS = (
    "stop",
    "berhenti",
    "unsubscribe",
    "unsub",
    "stop all",
    "berhenti langganan",
    "jangan kirim lagi",
    "opt out",
    "optout",
    "stopp",
    "setop",
)
_START_WORDS = ("start", "mulai", "subscribe", "langganan lagi", "opt in", "optin")
_CLEAN = re.compile(r"[^a-z ]+")

OPT_OUT_CONFIRMATION = (
    "Anda telah berhenti berlangganan pesan dari kami. Ketik MULAI untuk berlangganan lagi.\n"
    "You have unsubscribed from our messages. Send START to subscribe again."
)
OPT_IN_CONFIRMATION = "Terima kasih, Anda berlangganan lagi. / Thank you, you are subscribed again."


def _norm(text: str) -> str:
    # One message's text is checked against up to seven phrase sets: normalise it once.
    # Only short texts (commands are short) are kept, and only the last few messages'.
    return _norm_short(text) if len(text) <= 120 else _normalise(text)


@lru_cache(maxsize=8)
def _norm_short(text: str) -> str:
    return _normalise(text)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _CLEAN.sub(" ", text)
    text = re.sub(r"(.)\1{2,}", r"\1\1", text)  # "stoooop" -> "stoop"
    return " ".join(text.split())


def _close(word: str, target: str) -> bool:
    """Equal, or one edit (or swap) apart for phrases of five letters or more."""
    return word == target or (len(target) >= 5 and one_edit_apart(word, target))


def _matches(text: str, words: tuple[str, ...]) -> bool:
    norm = _norm(text)
    if not norm or len(norm) > 40:
        return False
    if norm in words:
        return True
    # One edit apart needs a length within one of the phrase's.
    return any(abs(len(norm) - len(w)) <= 1 and _close(norm, w) for w in words)


def is_opt_out(text: str | None) -> bool:
    """True for a message that is (only) an opt-out command, in any case, with typos."""
    return bool(text) and _matches(text or "", _STOP_WORDS)


def is_opt_in(text: str | None) -> bool:
    return bool(text) and _matches(text or "", _START_WORDS)


def matches_command(text: str | None, phrases: tuple[str, ...]) -> bool:
    """True when ``text`` is (only) one of ``phrases``, with the same typo tolerance as STOP."""
    return bool(text) and _matches(text or "", phrases)
