"""Customer-traffic detectors: per-contact floods, per-number spikes, new-contact bursts,
verification guessing, delivery failures, and the per-contact state the IsolationForest reads.

Not thread-safe: ``Monitor`` calls every method under its lock.  Each call is O(1)
(amortised) and returns the findings it produced (usually none).  State lives in
``BoundedLRU`` maps capped by ``MonitorSettings.max_contacts`` / ``max_numbers``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from aman.monitor.config import MonitorSettings
from aman.monitor.findings import Finding, Response, Severity, contact_subject, number_subject
from aman.monitor.stats import (
    WIB_OFFSET_SECONDS,
    BoundedLRU,
    RateParams,
    RateTracker,
    hour_of_day_wib,
    hour_of_week_wib,
)

__all__ = ["FEATURES", "QUALITY_CODES", "ContactState", "NumberState", "TrafficDetector"]

NONE: tuple[Finding, ...] = ()
# Cloud API error codes that mean the number's quality is at risk: 131026 undeliverable
# (often: the user blocked us or has no WhatsApp), 131048 spam rate limit hit,
# 131049 per-user marketing limit (ecosystem engagement), 131050 user stopped marketing.
QUALITY_CODES = frozenset({131026, 131048, 131049, 131050})
SPAM_LIMIT_CODE = 131048
_LEN_ALPHA = 0.2

# The per-contact feature vector the IsolationForest sees, in column order.
FEATURES = (
    "msgs_per_hour",
    "distinct_hours",
    "mean_length",
    "url_ratio",
    "failed_verifications",
    "contact_age_hours",
    "new_contact",
    "phishing_ratio",
    "messages_total",
)


class ContactState:
    """What the monitor remembers about one contact (about 0.9 KB)."""

    __slots__ = (
        "day",
        "first_seen",
        "hours_prev",
        "hours_today",
        "len_mean",
        "msgs",
        "new",
        "phish",
        "rate",
        "texts",
        "url_msgs",
        "vfail_alerted",
        "vfail_total",
        "vfails",
    )

    def __init__(self, ts: float, new: bool) -> None:
        self.rate = RateTracker()
        self.first_seen = ts
        self.new = new
        self.msgs = 0
        self.texts = 0
        self.len_mean = 0.0
        self.url_msgs = 0
        self.phish = 0
        self.vfails: list[float] = []
        self.vfail_total = 0
        self.vfail_alerted = -math.inf
        self.day = -1
        self.hours_today = 0
        self.hours_prev = 0

    def mark_hour(self, ts: float) -> None:
        day = int((ts + WIB_OFFSET_SECONDS) // 86400)
        if day != self.day:
            self.hours_prev = self.hours_today if day == self.day + 1 else 0
            self.hours_today = 0
            self.day = day
        self.hours_today |= 1 << hour_of_day_wib(ts)


class NumberState:
    """What the monitor remembers about one business number (about 5 KB)."""

    __slots__ = ("expect_until", "failed", "new_contacts", "quality", "rate", "sent")

    def __init__(self) -> None:
        self.rate = RateTracker(seasonal=True)
        self.new_contacts = RateTracker()
        self.sent = RateTracker()
        self.failed = RateTracker()
        self.quality = RateTracker()
        self.expect_until = -math.inf  # announced burst (a broadcast): no volume alerts


class TrafficDetector:
    """Contacts and business numbers of every tenant this process serves."""

    def __init__(self, settings: MonitorSettings) -> None:
        s = self.settings = settings
        self.contacts: BoundedLRU[tuple[str, str], ContactState] = BoundedLRU(
            s.max_contacts, s.contact_ttl_seconds
        )
        self.numbers: BoundedLRU[tuple[str, str], NumberState] = BoundedLRU(
            s.max_numbers, 7 * 86400.0
        )
        self.contact_p = RateParams(
            s.contact_bucket_seconds, s.contact_alpha, s.contact_mean_floor, s.contact_sd_floor
        )
        self.number_p = RateParams(
            s.number_bucket_seconds,
            s.number_alpha,
            s.number_mean_floor,
            s.number_sd_floor,
            s.number_season_alpha,
            s.number_season_min_obs,
        )
        self.new_p = RateParams(s.new_bucket_seconds, s.new_alpha, s.new_mean_floor, s.new_sd_floor)
        self.delivery_p = RateParams(s.delivery_bucket_seconds, 0.1, 2.0, 2.0)

    # -- state access ----------------------------------------------------------------
    def contact(self, tenant: str, contact_ix: str, ts: float, new: bool = False) -> ContactState:
        key = (tenant, contact_ix)
        c = self.contacts.get(key, ts)
        return c if c is not None else self.contacts.put(key, ts, ContactState(ts, new))

    def number(self, tenant: str, phone_number_id: str, ts: float) -> NumberState:
        key = (tenant, phone_number_id)
        n = self.numbers.get(key, ts)
        return n if n is not None else self.numbers.put(key, ts, NumberState())

    def expect_burst(self, tenant: str, phone_number_id: str, until: float, ts: float) -> None:
        self.number(tenant, phone_number_id, ts).expect_until = until

    # -- inbound messages --------------------------------------------------------------
    def inbound(
        self, tenant: str, phone_number_id: str, contact_ix: str, ts: float, new: bool
    ) -> Sequence[Finding]:
        s = self.settings
        found: list[Finding] | None = None
        c = self.contact(tenant, contact_ix, ts, new)
        c.msgs += 1
        c.mark_hour(ts)
        est = c.rate.add(ts, self.contact_p)
        if est >= s.flood_per_minute:
            mean, sd = c.rate.baseline(ts, self.contact_p)
            z = (est - mean) / sd
            if z >= s.flood_z:
                level = 2 if est >= s.quarantine_per_minute else 1
                if c.rate.should_alert(level):
                    response: Response = "quarantine" if level == 2 else "throttle"
                    found = [
                        Finding(
                            tenant,
                            "contact_flood",
                            "high" if level == 2 else "medium",
                            contact_subject(contact_ix),
                            ts,
                            {
                                "per_minute": round(est, 1),
                                "baseline_per_minute": round(mean, 2),
                                "z": round(z, 1),
                                "threshold": s.flood_per_minute,
                                "response": response,
                            },
                            response,
                            contact_ix,
                        )
                    ]
        n = self.number(tenant, phone_number_id, ts)
        expected = ts < n.expect_until
        est_n = n.rate.add(ts, self.number_p)
        if est_n >= s.number_spike_min and not expected:
            mean, sd = n.rate.baseline(ts, self.number_p)
            z = (est_n - mean) / sd
            level = 2 if est_n >= 3 * s.number_spike_min else 1
            if z >= s.number_spike_z and n.rate.should_alert(level):
                found = found or []
                found.append(
                    Finding(
                        tenant,
                        "number_rate_spike",
                        "high" if level == 2 else "medium",
                        number_subject(phone_number_id),
                        ts,
                        {
                            "per_minute": round(est_n, 1),
                            "baseline_per_minute": round(mean, 2),
                            "z": round(z, 1),
                            "seasonal": n.rate.season is not None
                            and n.rate.season.obs[hour_of_week_wib(ts)] >= s.number_season_min_obs,
                        },
                    )
                )
        if new:
            est_new = n.new_contacts.add(ts, self.new_p)
            if est_new >= s.new_contacts_min and not expected:
                mean, sd = n.new_contacts.baseline(ts, self.new_p)
                z = (est_new - mean) / sd
                level = 2 if est_new >= 3 * s.new_contacts_min else 1
                if z >= s.new_contacts_z and n.new_contacts.should_alert(level):
                    found = found or []
                    found.append(
                        Finding(
                            tenant,
                            "new_contact_burst",
                            "high" if level == 2 else "medium",
                            number_subject(phone_number_id),
                            ts,
                            {
                                "new_contacts": round(est_new, 1),
                                "window_seconds": s.new_bucket_seconds,
                                "baseline": round(mean, 2),
                                "z": round(z, 1),
                            },
                        )
                    )
        return found or NONE

    # -- step-up verification ------------------------------------------------------------
    def verification_failed(self, tenant: str, contact_ix: str, ts: float) -> Sequence[Finding]:
        s = self.settings
        c = self.contact(tenant, contact_ix, ts)
        c.vfail_total += 1
        horizon = ts - s.verify_window_seconds
        fails = [t for t in c.vfails if t > horizon]
        fails.append(ts)
        c.vfails = fails[-max(2 * s.verify_failures, 2) :]
        if len(fails) < s.verify_failures or ts - c.vfail_alerted < s.verify_window_seconds:
            return NONE
        c.vfail_alerted = ts
        return (
            Finding(
                tenant,
                "verification_bruteforce",
                "high",
                contact_subject(contact_ix),
                ts,
                {
                    "failures": len(fails),
                    "window_seconds": s.verify_window_seconds,
                    "threshold": s.verify_failures,
                    "response": "quarantine",
                },
                "quarantine",
                contact_ix,
            ),
        )

    # -- text (from the background scanner) ---------------------------------------------
    def text_seen(
        self, tenant: str, contact_ix: str, length: int, has_url: bool, phishing: bool, ts: float
    ) -> None:
        c = self.contact(tenant, contact_ix, ts)
        c.texts += 1
        if c.texts == 1:
            c.len_mean = float(length)
        else:
            c.len_mean += _LEN_ALPHA * (length - c.len_mean)
        c.url_msgs += int(has_url)
        c.phish += int(phishing)

    # -- delivery statuses ------------------------------------------------------------------
    def delivery(
        self, tenant: str, phone_number_id: str, status: str, code: int | None, ts: float
    ) -> Sequence[Finding]:
        s = self.settings
        n = self.number(tenant, phone_number_id, ts)
        p = self.delivery_p
        if status == "sent":
            n.sent.add(ts, p)
            return NONE
        if status != "failed":
            return NONE
        failed = n.failed.add(ts, p)
        total = failed + n.sent.estimate(ts, p)
        ratio = failed / total if total else 1.0
        found: list[Finding] = []
        subject = number_subject(phone_number_id)
        if code in QUALITY_CODES:
            q = n.quality.add(ts, p)
            level = 0
            sev: Severity = "medium"
            if code == SPAM_LIMIT_CODE:
                level, sev = 3, "high"
            elif q >= 3 * s.quality_codes_min:
                level, sev = 2, "high"
            elif q >= s.quality_codes_min:
                level = 1
            if level and n.quality.should_alert(level):
                found.append(
                    Finding(
                        tenant,
                        "number_quality_risk",
                        sev,
                        subject,
                        ts,
                        {
                            "error_code": code,
                            "quality_failures": round(q, 1),
                            "window_seconds": p.bucket,
                        },
                    )
                )
        if failed >= s.delivery_failed_min and ratio >= s.delivery_ratio:
            mean, sd = n.failed.baseline(ts, p)
            z = (failed - mean) / sd
            level = 2 if ratio >= 0.5 else 1
            if (z >= 4.0 or ratio >= 0.5) and n.failed.should_alert(level):
                found.append(
                    Finding(
                        tenant,
                        "delivery_failure_spike",
                        "high" if level == 2 else "medium",
                        subject,
                        ts,
                        {
                            "failed": round(failed, 1),
                            "failure_ratio": round(ratio, 3),
                            "z": round(z, 1),
                            "window_seconds": p.bucket,
                            "last_error_code": code,
                        },
                    )
                )
        return found or NONE

    # -- features for the IsolationForest ------------------------------------------------------
    def feature_rows(
        self, tenant: str, now: float, keys: Sequence[tuple[str, str]] | None = None
    ) -> tuple[list[str], npt.NDArray[np.float64]]:
        """Contact ids and their feature vectors (``FEATURES`` order) for one tenant."""
        p = self.contact_p
        per_hour = 3600.0 / p.bucket
        ixs: list[str] = []
        rows: list[list[float]] = []
        pairs = (
            [(k, self.contacts.peek(k)) for k in keys]
            if keys is not None
            else self.contacts.items()
        )
        for (t, ix), c in pairs:
            if t != tenant or c is None:
                continue
            texts = max(c.texts, 1)
            ixs.append(ix)
            rows.append(
                [
                    math.log1p(max(c.rate.base.mean, c.rate.estimate(now, p)) * per_hour),
                    float((c.hours_today | c.hours_prev).bit_count()),
                    math.log1p(c.len_mean),
                    c.url_msgs / texts,
                    math.log1p(c.vfail_total),
                    math.log1p(max(now - c.first_seen, 0.0) / 3600.0),
                    1.0 if c.new else 0.0,
                    c.phish / texts,
                    math.log1p(c.msgs),
                ]
            )
        matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
        return ixs, matrix

    def contact_keys(self, tenant: str) -> list[tuple[str, str]]:
        return [k for k, _ in self.contacts.items() if k[0] == tenant]

    def sweep(self, now: float) -> int:
        return self.contacts.sweep(now) + self.numbers.sweep(now)
