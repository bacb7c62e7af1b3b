"""In-memory contact controls (throttle/quarantine) for the inbox worker's O(1) checks.

``ControlBook`` mirrors the ``contact_controls`` table: the monitor loads it at
start, reloads it every ``controls_refresh_seconds`` (so a release or quarantine
made by another process takes effect within that time) and updates it at once
for changes made in this process.  Throttled contacts get at most
``per_minute`` bot replies per minute (a fixed one-minute window per contact);
quarantined contacts get none.  After a staff release the contact is in a grace
period during which automatic controls are not re-applied (staff decided).
Memory: one small entry per controlled contact plus the grace map (capped).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aman.monitor.errors import ControlError, MonitorInputError

__all__ = ["MODES", "Control", "ControlBook", "check_contact_ix", "check_reason"]

Mode = Literal["throttled", "quarantined"]
MODES: tuple[Mode, ...] = ("throttled", "quarantined")
_CONTACT_IX = re.compile(r"[0-9a-f]{16,64}")
_DIGIT_RUN = re.compile(r"\d{7,}")
_GRACE_CAP = 10_000


@dataclass(frozen=True, slots=True)
class Control:
    """A throttle or quarantine on one contact."""

    tenant: str
    contact_ix: str
    mode: Mode
    until: float | None  # None: until staff release it
    per_minute: int
    reason: str
    set_by: str
    set_at: float

    @property
    def quarantined(self) -> bool:
        return self.mode == "quarantined"

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "contact_ix": self.contact_ix,
            "mode": self.mode,
            "until": self.until,
            "per_minute": self.per_minute,
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": self.set_at,
        }


def check_contact_ix(contact_ix: object) -> str:
    """A contact's blind index (lowercase hex), or MonitorInputError."""
    if not isinstance(contact_ix, str) or not _CONTACT_IX.fullmatch(contact_ix):
        raise MonitorInputError("contact_ix must be the contact's blind index (16-64 hex chars)")
    return contact_ix


def check_reason(reason: object) -> str:
    """A short printable reason without phone numbers or codes (it goes to the audit log)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ControlError("a reason is required")
    reason = " ".join(reason.split())
    if len(reason) > 120:
        raise ControlError("reason must be at most 120 characters")
    if not reason.isprintable():
        raise ControlError("reason must be printable text")
    if _DIGIT_RUN.search(reason):
        raise ControlError("reason must not contain phone numbers, PINs or codes")
    return reason


class ControlBook:
    """Thread-safe map of active controls with per-contact reply counters."""

    def __init__(self, release_grace: float) -> None:
        self._lock = threading.Lock()
        self._controls: dict[tuple[str, str], Control] = {}
        self._unsaved: set[tuple[str, str]] = set()
        self._window: dict[tuple[str, str], list[float]] = {}  # [minute start, replies]
        self._grace: dict[tuple[str, str], float] = {}  # grace ends at; oldest first
        self._release_grace = release_grace

    def __len__(self) -> int:
        return len(self._controls)

    def get(self, tenant: str, contact_ix: str, now: float) -> Control | None:
        control = self._controls.get((tenant, contact_ix))
        if control is None or control.active(now):
            return control
        with self._lock:
            if self._controls.get((tenant, contact_ix)) is control:
                del self._controls[(tenant, contact_ix)]
                self._window.pop((tenant, contact_ix), None)
        return None

    def reply_allowed(self, tenant: str, contact_ix: str, now: float) -> bool:
        """May the bot answer this contact now?  Counts the reply when it may."""
        control = self.get(tenant, contact_ix, now)
        if control is None:
            return True
        if control.quarantined:
            return False
        key = (tenant, contact_ix)
        with self._lock:
            window = self._window.get(key)
            if window is None or now - window[0] >= 60.0:
                self._window[key] = [now, 1.0]
                return True
            if window[1] < control.per_minute:
                window[1] += 1.0
                return True
            return False

    def put(self, control: Control, *, saved: bool) -> None:
        key = (control.tenant, control.contact_ix)
        with self._lock:
            self._controls[key] = control
            if saved:
                self._unsaved.discard(key)
            else:
                self._unsaved.add(key)

    def mark_saved(self, controls: Iterable[Control]) -> None:
        with self._lock:
            for c in controls:
                if self._controls.get((c.tenant, c.contact_ix)) is c:
                    self._unsaved.discard((c.tenant, c.contact_ix))

    def remove(self, tenant: str, contact_ix: str, now: float) -> None:
        """Drop a control released by staff and start its grace period."""
        key = (tenant, contact_ix)
        with self._lock:
            self._controls.pop(key, None)
            self._unsaved.discard(key)
            self._window.pop(key, None)
            self._grace.pop(key, None)
            self._grace[key] = now + self._release_grace
            while len(self._grace) > _GRACE_CAP:
                del self._grace[next(iter(self._grace))]

    def in_grace(self, tenant: str, contact_ix: str, now: float) -> bool:
        """True while automatic controls must leave this contact alone."""
        ends = self._grace.get((tenant, contact_ix))
        return ends is not None and now < ends

    def replace_all(self, controls: Iterable[Control]) -> None:
        """Adopt the stored controls, keeping local ones not yet written."""
        fresh = {(c.tenant, c.contact_ix): c for c in controls}
        with self._lock:
            for key in self._unsaved:
                if key in self._controls:
                    fresh[key] = self._controls[key]
            self._controls = fresh
            self._window = {k: v for k, v in self._window.items() if k in fresh}

    def snapshot(self, tenant: str | None = None) -> list[Control]:
        with self._lock:
            return [c for c in self._controls.values() if tenant is None or c.tenant == tenant]
