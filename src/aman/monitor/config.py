"""Monitor settings: detector thresholds, memory caps, intervals and the alert webhook.

Every number here has a default that suits a single shop or bank branch; all
of them can be changed in code (``MonitorSettings(...)``) and the operational
ones from the environment (``MonitorSettings.from_env()``):

| variable | meaning | default |
|---|---|---|
| ``AMAN_ALERT_WEBHOOK_URL`` | where alerts are pushed (https; http only to loopback) | none |
| ``AMAN_ALERT_WEBHOOK_SECRET`` | HMAC-SHA256 key for ``X-Aman-Signature`` (>= 32 chars) | none |
| ``AMAN_MONITOR_FLOOD_PER_MINUTE`` | messages/minute from one contact that count as a flood | 20 |
| ``AMAN_MONITOR_THROTTLE_PER_MINUTE`` | bot replies/minute a throttled contact still gets | 3 |
| ``AMAN_MONITOR_MAX_CONTACTS`` | contacts tracked in memory (LRU) | 20000 |

Memory caps (LRU maps, least recently seen evicted first, idle entries dropped
after their TTL): contacts ``max_contacts`` (~0.9 KB each), business numbers
``max_numbers`` (~5 KB each: 168-slot hour-of-week baseline), signature-failure
sources ``max_sources``, staff members ``max_staff``, known-contact filter
``known_contacts`` ints x2, pending alerts ``max_pending_alerts``, text-scan
queue ``scan_queue``, push queue ``push_queue``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from urllib.parse import urlsplit

from aman.monitor.errors import MonitorConfigError

__all__ = ["MonitorSettings", "is_loopback"]


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MonitorConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise MonitorConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """Thresholds, caps and intervals of the monitor (see the module docstring)."""

    # -- per-contact message rate (60 s buckets, EWMA baseline) -------------------
    contact_bucket_seconds: float = 60.0
    contact_alpha: float = 0.1
    contact_mean_floor: float = 1.0
    contact_sd_floor: float = 2.0
    flood_per_minute: int = 20
    flood_z: float = 4.0
    quarantine_per_minute: int = 60
    # -- per-number message rate (60 s buckets, EWMA + hour-of-week baseline) ----
    number_bucket_seconds: float = 60.0
    number_alpha: float = 0.05
    number_season_alpha: float = 0.1
    number_season_min_obs: int = 30
    number_mean_floor: float = 5.0
    number_sd_floor: float = 5.0
    number_spike_min: int = 100
    number_spike_z: float = 6.0
    # -- new contacts per number (300 s buckets) ----------------------------------
    new_bucket_seconds: float = 300.0
    new_alpha: float = 0.1
    new_mean_floor: float = 2.0
    new_sd_floor: float = 2.0
    new_contacts_min: int = 25
    new_contacts_z: float = 4.0
    # -- failed step-up verifications per contact --------------------------------
    verify_window_seconds: float = 900.0
    verify_failures: int = 5
    # -- webhook signature failures ------------------------------------------------
    signature_bucket_seconds: float = 60.0
    signature_per_source: int = 10
    signature_global_min: int = 20
    signature_global_z: float = 4.0
    # -- delivery failures per number (300 s buckets) ----------------------------
    delivery_bucket_seconds: float = 300.0
    delivery_failed_min: int = 10
    delivery_ratio: float = 0.2
    quality_codes_min: int = 10
    # -- staff -------------------------------------------------------------------
    staff_reads_window_seconds: float = 600.0
    staff_reads_max: int = 50
    staff_exports_per_hour: int = 3
    staff_night_start_hour: int = 22  # Asia/Jakarta (WIB, UTC+7, no DST)
    staff_night_end_hour: int = 6
    # -- responses ---------------------------------------------------------------
    throttle_per_minute: int = 3
    throttle_seconds: float = 3600.0
    quarantine_seconds: float = 86400.0
    release_grace_seconds: float = 3600.0
    dedupe_window_seconds: float = 3600.0
    # -- IsolationForest (quiet on ordinary traffic: see aman.monitor.forest) -----
    forest_min_contacts: int = 50
    forest_warmup_seconds: float = 1800.0  # history the oldest contact must have
    forest_max_train: int = 4096  # training rows kept (random sample beyond that)
    forest_trees: int = 100
    forest_score_threshold: float = 0.75
    forest_calibration_k: float = 6.0  # threshold >= median + k x robust sd of training
    forest_min_deviation: float = 4.0  # some feature this many floored spreads from centre
    forest_max_flag_fraction: float = 0.01
    retrain_seconds: float = 900.0
    score_seconds: float = 60.0
    # -- memory caps and TTLs ------------------------------------------------------
    max_contacts: int = 20_000
    contact_ttl_seconds: float = 86400.0
    max_numbers: int = 1_000
    max_sources: int = 10_000
    source_ttl_seconds: float = 3600.0
    max_staff: int = 5_000
    known_contacts: int = 100_000
    max_pending_alerts: int = 5_000
    scan_queue: int = 10_000
    # -- background work -------------------------------------------------------------
    flush_seconds: float = 0.5
    controls_refresh_seconds: float = 5.0
    # -- alert webhook ----------------------------------------------------------------
    webhook_url: str = ""
    webhook_secret: str = ""
    push_queue: int = 1_000
    push_attempts: int = 6
    push_base_delay: float = 0.5
    push_max_delay: float = 30.0
    push_timeout: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise MonitorConfigError(f"monitor setting {f.name} must not be negative")
        for name in ("contact_alpha", "number_alpha", "number_season_alpha", "new_alpha"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise MonitorConfigError(f"monitor setting {name} must be in (0, 1]")
        if self.flood_per_minute < 1 or self.throttle_per_minute < 1:
            raise MonitorConfigError("flood_per_minute and throttle_per_minute must be >= 1")
        if self.quarantine_per_minute < self.flood_per_minute:
            raise MonitorConfigError("quarantine_per_minute must be >= flood_per_minute")
        if self.forest_min_contacts < 2 or self.forest_max_train < self.forest_min_contacts:
            raise MonitorConfigError("need 2 <= forest_min_contacts <= forest_max_train")
        if min(self.max_contacts, self.max_numbers, self.max_sources, self.max_staff) < 1:
            raise MonitorConfigError("memory caps must be >= 1")
        if not 0 <= self.staff_night_start_hour <= 23 or not 0 <= self.staff_night_end_hour <= 23:
            raise MonitorConfigError("staff night hours must be between 0 and 23")
        if self.webhook_url:
            _check_webhook_url(self.webhook_url)
            if len(self.webhook_secret) < 32:
                raise MonitorConfigError(
                    "AMAN_ALERT_WEBHOOK_SECRET must be at least 32 characters when "
                    "AMAN_ALERT_WEBHOOK_URL is set"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MonitorSettings:
        env = os.environ if env is None else env
        flood = _int(env, "AMAN_MONITOR_FLOOD_PER_MINUTE", 20, 1, 100_000)
        return cls(
            webhook_url=env.get("AMAN_ALERT_WEBHOOK_URL", "").strip(),
            webhook_secret=env.get("AMAN_ALERT_WEBHOOK_SECRET", ""),
            flood_per_minute=flood,
            quarantine_per_minute=max(3 * flood, 60),
            throttle_per_minute=_int(env, "AMAN_MONITOR_THROTTLE_PER_MINUTE", 3, 1, 1_000),
            max_contacts=_int(env, "AMAN_MONITOR_MAX_CONTACTS", 20_000, 100, 10_000_000),
        )

    def with_(self, **changes: object) -> MonitorSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:  # never show the webhook secret
        return f"MonitorSettings(webhook_url={self.webhook_url!r}, webhook_secret='****')"


def _check_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise MonitorConfigError(f"AMAN_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise MonitorConfigError("AMAN_ALERT_WEBHOOK_URL must not carry credentials")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise MonitorConfigError(
            "AMAN_ALERT_WEBHOOK_URL must use https (plain http only to a loopback address)"
        )


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP literals."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
