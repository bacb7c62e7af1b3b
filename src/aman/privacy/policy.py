"""Retention periods per data class, parsed from ``AMAN_RETENTION`` (see ``retention``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_RETENTION", "RetentionPolicy"]

DEFAULT_RETENTION = (
    "messages=365,statuses=90,webhook_events=90,conversations=365,"
    "contacts=730,campaign_recipients=180"
)
_MIN_DAYS = {"messages": 7}


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days to keep each data class (0 = keep forever)."""

    messages: int = 365
    statuses: int = 90
    webhook_events: int = 90
    conversations: int = 365
    contacts: int = 730
    campaign_recipients: int = 180

    @classmethod
    def parse(cls, spec: str) -> RetentionPolicy:
        """Read ``class=days,...``; unknown classes, bad numbers and too-short periods fail."""
        values: dict[str, int] = {}
        known = set(cls.__dataclass_fields__)
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ValueError(
                    f"AMAN_RETENTION: {part!r} is not class=days "
                    f"(classes: {', '.join(sorted(known))})"
                )
            try:
                days = int(raw.strip())
            except ValueError:
                raise ValueError(f"AMAN_RETENTION: {name} needs whole days, got {raw!r}") from None
            if days < 0 or days > 36500:
                raise ValueError(f"AMAN_RETENTION: {name} must be 0..36500 days")
            low = _MIN_DAYS.get(name, 1)
            if days and days < low:
                raise ValueError(f"AMAN_RETENTION: {name} must be at least {low} days (or 0)")
            values[name] = days
        return cls(**values)
