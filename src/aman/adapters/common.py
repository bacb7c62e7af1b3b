"""Helpers shared by the adapters' hooks: typed argument access, masking, money and time labels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aman.adapters.errors import AdapterInputError
from aman.engine.flows.hooks import HookContext

__all__ = ["JAKARTA", "arg_int", "arg_str", "mask_name", "rupiah", "slot_label"]

JAKARTA = ZoneInfo("Asia/Jakarta")
_DAYS = {
    "id": ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def _arg(ctx: HookContext, name: str) -> Any:
    source: Mapping[str, Any] = ctx.args if name in ctx.args else ctx.fields
    return source.get(name)


def arg_str(ctx: HookContext, name: str) -> str:
    value = _arg(ctx, name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value))
    if not isinstance(value, str) or not value:
        raise AdapterInputError(f"hook argument {name!r} is missing")
    return value


def arg_int(ctx: HookContext, name: str) -> int:
    value = _arg(ctx, name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterInputError(f"hook argument {name!r} must be a number")
    return int(value)


def mask_name(name: str) -> str:
    """``BUDI SANTOSO`` -> ``BUDI S***``: enough to recognise, not enough to harvest."""
    parts = name.split()
    if not parts:
        return ""
    shown = [parts[0]] + [p[0] + "***" for p in parts[1:]]
    return " ".join(shown)


def rupiah(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


def slot_label(ts: float, lang: str, tz: tzinfo = JAKARTA) -> str:
    """``Sen 30 Nov 09:00`` (at most 24 characters: a list row title)."""
    moment = datetime.fromtimestamp(ts, tz)
    key = lang if lang in _DAYS else "id"
    month = _MONTHS[key][moment.month - 1]
    return f"{_DAYS[key][moment.weekday()]} {moment.day} {month} {moment:%H:%M}"
