"""The exception family of aman.monitor: one root, one subclass per kind of bad input or state."""

from __future__ import annotations

__all__ = [
    "AlertNotFoundError",
    "ControlError",
    "FraudReportNotFoundError",
    "InvalidAlertTransitionError",
    "MonitorConfigError",
    "MonitorError",
    "MonitorInputError",
    "UnknownTenantError",
]


class MonitorError(Exception):
    """Root of every error raised by aman.monitor."""


class MonitorConfigError(MonitorError):
    """A monitor setting (threshold, webhook URL, secret) is missing or malformed."""


class MonitorInputError(MonitorError, ValueError):
    """A caller passed a malformed event or request (the message says which field)."""


class AlertNotFoundError(MonitorError, LookupError):
    """No alert with that id exists for the tenant."""


class FraudReportNotFoundError(MonitorError, LookupError):
    """No fraud report with that id exists for the tenant."""


class InvalidAlertTransitionError(MonitorError):
    """The alert cannot move to the requested status (e.g. resolving a resolved alert)."""


class ControlError(MonitorError):
    """A throttle/quarantine/release request is invalid or names no such control."""


class UnknownTenantError(MonitorError, LookupError):
    """The monitor holds no vault for that tenant, so it cannot seal its data."""
