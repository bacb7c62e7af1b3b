"""Time rules for broadcasts: time zones, quiet hours and cron expressions (pure functions).

Quiet hours are a local-time interval ``[start, end)`` in minutes of the day
that may wrap midnight (21:00-08:00).  Cron expressions have the five
classic fields and are evaluated in the campaign's time zone by ``croniter``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]

from aman.campaigns.errors import CampaignInputError

__all__ = [
    "DEFAULT_TZ",
    "format_hhmm",
    "next_cron",
    "next_quiet_start",
    "parse_hhmm",
    "quiet_until",
    "validate_cron",
    "zone",
]

DEFAULT_TZ = "Asia/Jakarta"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ("Asia")
        raise CampaignInputError(f"unknown time zone {name[:64]!r} (e.g. Asia/Jakarta)") from None


def parse_hhmm(text: str) -> int:
    """ "21:00" -> 1260 (minute of the day)."""
    try:
        hh, mm = text.strip().split(":")
        hours, minutes = int(hh), int(mm)
    except ValueError:
        raise CampaignInputError(f"time {text[:10]!r} must be HH:MM") from None
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise CampaignInputError(f"time {text[:10]!r} must be between 00:00 and 23:59")
    return hours * 60 + minutes


def format_hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _at(day: datetime, minute: int, tz: ZoneInfo) -> datetime:
    local = datetime.combine(day.date(), time(minute // 60, minute % 60), tzinfo=tz)
    # Round-trip through UTC so a wall time in a DST gap lands on a real instant.
    return datetime.fromtimestamp(local.timestamp(), tz)


def _inside(minute: int, start: int, end: int) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def quiet_until(now: float, tz: ZoneInfo, start: int | None, end: int | None) -> float | None:
    """The end of the quiet period ``now`` falls in (epoch seconds), or None when not quiet."""
    if start is None or end is None:
        return None
    local = datetime.fromtimestamp(now, tz)
    minute = local.hour * 60 + local.minute
    if not _inside(minute, start, end):
        return None
    day = local if minute < end else local + timedelta(days=1)
    return _at(day, end, tz).timestamp()


def next_quiet_start(now: float, tz: ZoneInfo, start: int | None, end: int | None) -> float | None:
    """When the next quiet period begins (epoch seconds); None without quiet hours."""
    if start is None or end is None or start == end:
        return None
    local = datetime.fromtimestamp(now, tz)
    today = _at(local, start, tz)
    return (
        today if today.timestamp() > now else _at(local + timedelta(days=1), start, tz)
    ).timestamp()


def validate_cron(expr: str) -> str:
    text = " ".join(expr.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise CampaignInputError(
            f"cron {expr[:60]!r} is not a five-field expression (minute hour day month weekday)"
        )
    return text


def next_cron(expr: str, after: float, tz: ZoneInfo) -> float:
    """The first time strictly after ``after`` matching ``expr`` in ``tz``."""
    base = datetime.fromtimestamp(after, tz)
    nxt = croniter(validate_cron(expr), base).get_next(datetime)
    return float(nxt.timestamp())
