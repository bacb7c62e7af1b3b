"""Exception hierarchy of aman.nlu: one root (NluError) and a few precise subclasses."""

from __future__ import annotations

__all__ = ["BotNotFoundError", "NluDataError", "NluError", "NluInputError"]


class NluError(Exception):
    """Root of every error raised by aman.nlu."""


class NluDataError(NluError):
    """A data file (nlu.yaml, slang table, test set) is missing, malformed or contradictory."""


class BotNotFoundError(NluDataError):
    """A bot name or folder does not resolve to a directory holding an nlu.yaml."""


class NluInputError(NluError, ValueError):
    """A caller passed an argument the NLU cannot work with (wrong type, naive datetime, ...)."""
