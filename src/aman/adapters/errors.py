"""Exception hierarchy of aman.adapters: one root, AdapterError."""

from __future__ import annotations

__all__ = ["AdapterError", "AdapterInputError", "AdapterUnavailable"]


class AdapterError(Exception):
    """Root of every error raised by aman.adapters (a flow maps it to its ``error`` branch)."""


class AdapterUnavailable(AdapterError):
    """The back end cannot be reached or refused to answer."""


class AdapterInputError(AdapterError, ValueError):
    """A hook got arguments it cannot use (missing field, wrong type)."""
