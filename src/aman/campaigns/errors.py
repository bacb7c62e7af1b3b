"""The campaigns exception family: one root, one subclass per kind of refusal."""

from __future__ import annotations

__all__ = [
    "CampaignError",
    "CampaignInputError",
    "CampaignNotFoundError",
    "CampaignStateError",
    "InvalidPhoneNumberError",
    "SegmentRuleError",
    "TemplateUnusableError",
]


class CampaignError(Exception):
    """Root of every error raised by ``aman.campaigns``."""


class CampaignInputError(CampaignError, ValueError):
    """Bad input from staff or a file: the message says what and where."""


class InvalidPhoneNumberError(CampaignInputError):
    """A phone number that is not a valid (Indonesian or E.164) WhatsApp number."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SegmentRuleError(CampaignInputError):
    """A segment rule that does not follow the rule language; ``path`` points into the JSON."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class CampaignNotFoundError(CampaignError, LookupError):
    """An id or name that does not exist for this tenant."""


class CampaignStateError(CampaignError):
    """The action is not possible in the object's current state (e.g. resume a cancelled run)."""


class TemplateUnusableError(CampaignError):
    """A template that cannot be sent: not approved (paused, rejected...) or wrong variables."""
