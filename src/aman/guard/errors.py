"""Exception hierarchy of aman.guard: one root, ``GuardError``."""

from __future__ import annotations

__all__ = ["CorpusError", "GuardError"]


class GuardError(Exception):
    """Root of every error raised by aman.guard."""


class CorpusError(GuardError):
    """The evaluation corpus is missing, unreadable or malformed."""
