"""Platform detectors: webhook signature-failure spikes and staff behaviour.

Not thread-safe (``Monitor`` holds the lock).  Source addresses and staff members
live in ``BoundedLRU`` maps (``max_sources`` / ``max_staff``).  Addresses are kept
only as keyed hashes; alerts show the masked network (203.0.113.x).

Staff actions are classified by name so any module can report them:
exports — the action contains ``export``; mass reading — ``READ_ACTIONS`` or a
name ending in ``.read``/``.view``/``.viewed``/``_read``/``_viewed``; sign-in —
``LOGIN_ACTIONS`` or a name containing ``login``/``signin``/``sign_in`` (with
``fail`` in it: a failed sign-in).  Unusual hours are judged in Asia/Jakarta time:
the configured night window, unless the member's own history shows that hour is
normal for them (>= 10 % of at least 20 sign-ins).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from aman.monitor.config import MonitorSettings
from aman.monitor.findings import Finding, Severity, staff_subject
from aman.monitor.stats import BoundedLRU, RateParams, RateTracker, hour_of_day_wib

__all__ = ["LOGIN_ACTIONS", "READ_ACTIONS", "SignatureDetector", "StaffDetector", "classify"]

NONE: tuple[Finding, ...] = ()
READ_ACTIONS = frozenset(
    {
        "conversation.read",
        "conversation.view",
        "inbox.read",
        "read_conversation",
        "view_conversation",
        "conversation_opened",
        "contact.view",
    }
)
LOGIN_ACTIONS = frozenset({"login", "auth.login", "staff.login", "session.start", "signin"})
_READ_SUFFIXES = (".read", ".view", ".viewed", "_read", "_viewed")
_KNOWN_ADDRESSES = 8
_LOGIN_FAIL_WINDOW = 900.0
_LOGIN_FAIL_MAX = 5


def classify(action: str) -> str:
    """``export`` | ``read`` | ``login`` | ``login_failed`` | ``other``."""
    a = action.lower()
    if "export" in a:
        return "export"
    if a in LOGIN_ACTIONS or "login" in a or "signin" in a or "sign_in" in a:
        return "login_failed" if "fail" in a else "login"
    if a in READ_ACTIONS or a.endswith(_READ_SUFFIXES):
        return "read"
    return "other"


class SignatureDetector:
    """Badly signed webhooks, overall and per source address."""

    def __init__(self, settings: MonitorSettings) -> None:
        s = self.settings = settings
        self.params = RateParams(s.signature_bucket_seconds, 0.1, 2.0, 3.0)
        self.total = RateTracker()
        self.sources: BoundedLRU[str, RateTracker] = BoundedLRU(s.max_sources, s.source_ttl_seconds)

    def failure(self, tenant: str, ts: float, subject: str, masked: str) -> Sequence[Finding]:
        s, p = self.settings, self.params
        found: list[Finding] | None = None
        src = self.sources.get_or_create(subject, ts, RateTracker)
        per_src = src.add(ts, p)
        if per_src >= s.signature_per_source:
            level = 2 if per_src >= 10 * s.signature_per_source else 1
            if src.should_alert(level):
                found = [
                    Finding(
                        tenant,
                        "signature_failure_source",
                        "high",
                        subject,
                        ts,
                        {
                            "failures": round(per_src, 1),
                            "window_seconds": p.bucket,
                            "address": masked,
                            "threshold": s.signature_per_source,
                        },
                    )
                ]
        total = self.total.add(ts, p)
        if total >= s.signature_global_min:
            mean, sd = self.total.baseline(ts, p)
            z = (total - mean) / sd
            level = 2 if total >= 10 * s.signature_global_min else 1
            if z >= s.signature_global_z and self.total.should_alert(level):
                found = found or []
                found.append(
                    Finding(
                        tenant,
                        "signature_failure_storm",
                        "critical" if level == 2 else "high",
                        f"tenant:{tenant}",
                        ts,
                        {
                            "failures": round(total, 1),
                            "window_seconds": p.bucket,
                            "z": round(z, 1),
                            "sources": len(self.sources),
                        },
                    )
                )
        return found or NONE

    def sweep(self, now: float) -> int:
        return self.sources.sweep(now)


class StaffState:
    __slots__ = ("addresses", "exports", "fails", "hours", "logins", "reads")

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.logins = 0
        self.hours = array("I", bytes(4 * 24))
        self.reads = RateTracker()
        self.exports = RateTracker()
        self.fails: list[float] = []


class StaffDetector:
    """Exports, mass reading, sign-ins from new addresses or at unusual hours."""

    def __init__(self, settings: MonitorSettings) -> None:
        s = self.settings = settings
        self.staff: BoundedLRU[tuple[str, str], StaffState] = BoundedLRU(s.max_staff, 30 * 86400.0)
        self.read_p = RateParams(s.staff_reads_window_seconds, 0.1, 1.0, 1.0)
        self.export_p = RateParams(3600.0, 0.1, 1.0, 1.0)

    def _night(self, hour: int) -> bool:
        start, end = self.settings.staff_night_start_hour, self.settings.staff_night_end_hour
        return (hour >= start or hour < end) if start > end else start <= hour < end

    def action(
        self, tenant: str, actor: str, action: str, address: str, masked: str, ts: float
    ) -> Sequence[Finding]:
        kind = classify(action)
        if kind == "other":
            return NONE
        s = self.settings
        st = self.staff.get_or_create((tenant, actor), ts, StaffState)
        subject = staff_subject(actor)
        base = {"action": action[:64], "address": masked}

        def finding(k: str, sev: Severity, extra: dict[str, object]) -> Finding:
            return Finding(tenant, k, sev, subject, ts, base | extra)

        if kind == "export":
            n = st.exports.add(ts, self.export_p)
            level = 2 if n > s.staff_exports_per_hour else 1
            if st.exports.should_alert(level):
                return (
                    finding(
                        "staff_export",
                        "high" if level == 2 else "medium",
                        {"exports_last_hour": round(n, 1)},
                    ),
                )
            return NONE
        if kind == "read":
            n = st.reads.add(ts, self.read_p)
            if n >= s.staff_reads_max and st.reads.should_alert(1):
                return (
                    finding(
                        "staff_mass_read",
                        "high",
                        {"reads": round(n, 1), "window_seconds": self.read_p.bucket},
                    ),
                )
            return NONE
        if kind == "login_failed":
            fails = [t for t in st.fails if t > ts - _LOGIN_FAIL_WINDOW]
            fails.append(ts)
            st.fails = fails[-2 * _LOGIN_FAIL_MAX :]
            if len(fails) == _LOGIN_FAIL_MAX:
                return (
                    finding(
                        "staff_login_failures",
                        "high",
                        {"failures": len(fails), "window_seconds": _LOGIN_FAIL_WINDOW},
                    ),
                )
            return NONE
        found: list[Finding] = []
        if st.addresses and address not in st.addresses:
            found.append(
                finding("staff_login_new_address", "medium", {"known_addresses": len(st.addresses)})
            )
        if address not in st.addresses:
            st.addresses = [*st.addresses, address][-_KNOWN_ADDRESSES:]
        hour = hour_of_day_wib(ts)
        usual = st.logins >= 20 and st.hours[hour] >= 0.1 * st.logins
        if self._night(hour) and not usual:
            found.append(finding("staff_login_unusual_hour", "low", {"hour_wib": hour}))
        st.logins += 1
        st.hours[hour] += 1
        return found or NONE

    def sweep(self, now: float) -> int:
        return self.staff.sweep(now)
