"""aman.monitor detectors and streaming statistics, driven by a fake clock (no database)."""

from __future__ import annotations

import math

import pytest

from aman.monitor.config import MonitorSettings
from aman.monitor.errors import MonitorConfigError
from aman.monitor.findings import ip_subject, mask_ip
from aman.monitor.sentinels import SignatureDetector, StaffDetector, classify
from aman.monitor.stats import (
    BoundedLRU,
    Ewma,
    KnownSet,
    RateParams,
    RateTracker,
    hour_of_day_wib,
    hour_of_week_wib,
)
from aman.monitor.traffic import TrafficDetector

# Monday 2024-01-01 00:00 WIB (= 2023-12-31 17:00 UTC).
MONDAY_WIB = 1704042000.0
T = "bank"
PN = "106540352242933"
IX = "a" * 32


def spread(tracker_add: object, start: float, seconds: float, n: int) -> None:
    """Call ``tracker_add(ts)`` n times evenly over ``seconds`` from ``start``."""
    for i in range(n):
        tracker_add(start + seconds * i / max(n, 1))  # type: ignore[operator]


def test_hour_of_week_is_monday_midnight_in_jakarta() -> None:
    assert hour_of_week_wib(MONDAY_WIB) == 0
    assert hour_of_week_wib(MONDAY_WIB - 1) == 167  # Sunday 23:59:59 WIB
    assert hour_of_week_wib(MONDAY_WIB + 2 * 86400 + 5 * 3600) == 53  # Wednesday 05:00
    assert hour_of_day_wib(MONDAY_WIB + 13.5 * 3600) == 13


def test_ewma_tracks_mean_and_variance() -> None:
    e = Ewma()
    for _ in range(200):
        e.update(5.0, 0.1)
    assert e.mean == pytest.approx(5.0) and e.var == pytest.approx(0.0)
    alt = Ewma()
    for i in range(2000):
        alt.update(0.0 if i % 2 else 10.0, 0.05)
    assert alt.mean == pytest.approx(5.0, abs=0.5)
    assert math.sqrt(alt.var) == pytest.approx(5.0, rel=0.1)


def test_ewma_decay_is_the_closed_form_of_zero_updates() -> None:
    a, b = Ewma(), Ewma()
    for x in (3.0, 9.0, 4.0, 12.0):
        a.update(x, 0.2)
        b.update(x, 0.2)
    for _ in range(17):
        a.update(0.0, 0.2)
    b.decay(17, 0.2)
    assert (b.mean, b.var, b.n) == (pytest.approx(a.mean), pytest.approx(a.var), a.n)


def test_rate_tracker_sliding_estimate_and_baseline() -> None:
    p = RateParams(bucket=60.0, alpha=0.5, mean_floor=0.0, sd_floor=0.1)
    r = RateTracker()
    t0 = MONDAY_WIB
    for i in range(30):
        r.add(t0 + i * 2, p)  # 30 events in the first minute
    assert r.estimate(t0 + 59, p) == 30
    # Half-way through the next minute, half of the previous minute still counts.
    assert r.estimate(t0 + 90, p) == pytest.approx(15.0)
    assert r.base.mean == 30 and r.base.n == 1
    # A long quiet gap decays the baseline (bounded catch-up, no loop per bucket).
    r.add(t0 + 3600 * 24 * 365, p)
    assert r.base.mean < 1e-6


def test_bounded_lru_caps_memory_and_expires_idle_entries() -> None:
    lru: BoundedLRU[str, list[int]] = BoundedLRU(cap=3, ttl=100.0)
    for i, k in enumerate("abcd"):
        lru.get_or_create(k, float(i), list)
    assert len(lru) == 3 and "a" not in lru and lru.evicted == 1
    lru.get("b", 50.0)  # touched: b is now the most recent
    assert lru.sweep(140.0) == 2  # c (t=2) and d (t=3) idle > 100 s; b survives
    assert "b" in lru and len(lru) == 1
    assert lru.get("b", 400.0) is None  # expired on access


def test_known_set_is_bounded_and_remembers_recent_keys() -> None:
    ks = KnownSet(cap=100)
    keys = [f"{i:032x}" for i in range(1000)]
    assert not any(ks.seen(k) for k in keys)
    assert len(ks) <= 200
    assert ks.seen(keys[-1]) and not ks.seen(keys[0])


def test_contact_flood_throttles_then_quarantines_once_per_level() -> None:
    s = MonitorSettings()
    d = TrafficDetector(s)
    t = MONDAY_WIB + 10 * 3600
    quiet = []
    for minute in range(60):  # an hour of normal chatting: 4 messages a minute
        for k in range(4):
            quiet += d.inbound(T, PN, IX, t + minute * 60 + k * 15, False)
    assert quiet == []
    t += 3600
    found = []
    for k in range(25):
        found += d.inbound(T, PN, IX, t + k, False)
    assert [f.kind for f in found] == ["contact_flood"]
    assert found[0].response == "throttle" and found[0].severity == "medium"
    assert found[0].subject == f"contact:{IX}" and found[0].details["per_minute"] >= 20
    for k in range(25, 70):
        found += d.inbound(T, PN, IX, t + k * 0.5, False)
    assert [f.response for f in found] == ["throttle", "quarantine"]
    # Other contacts on the same number are unaffected.
    assert d.inbound(T, PN, "b" * 32, t + 40, False) == ()


def test_per_number_spike_uses_the_hour_of_week_baseline() -> None:
    s = MonitorSettings(number_spike_min=100, number_spike_z=6.0)
    d = TrafficDetector(s)
    start = MONDAY_WIB
    busy_hour = 10  # every day 10:00-11:00 WIB the shop gets 300 messages a minute
    for minute in range(8 * 24 * 60):
        ts = start + minute * 60
        rate = 300 if hour_of_day_wib(ts) == busy_hour else 5
        n = d.number(T, PN, ts)
        for k in range(6):
            n.rate.add(ts + k * 10, d.number_p, rate / 6)
    # Day 9, 10:30 WIB: busy as usual -> no alert.
    at = start + 8 * 86400 + busy_hour * 3600 + 1800
    assert not [f for f in _burst(d, at, 300) if f.kind == "number_rate_spike"]
    # Day 9, 03:30 WIB: the same volume is an anomaly.
    at = start + 8 * 86400 + 3 * 3600 + 1800
    spikes = [f for f in _burst(d, at, 300) if f.kind == "number_rate_spike"]
    assert spikes and spikes[0].details["seasonal"] is True and spikes[0].details["z"] >= 6


def _burst(d: TrafficDetector, at: float, per_minute: int) -> list[object]:
    out: list[object] = []
    for k in range(per_minute):
        out += d.inbound(T, PN, f"{k:032x}", at + k * 60 / per_minute, False)
    return out


def test_new_contact_wave_is_reported_but_announced_broadcast_replies_are_not() -> None:
    s = MonitorSettings()
    d = TrafficDetector(s)
    t = MONDAY_WIB + 9 * 3600
    for k in range(20):  # a normal trickle: 2 new customers every 5 minutes for ~4 hours
        for j in range(2):
            assert d.inbound(T, PN, f"{k:030x}{j:02x}", t + k * 300 + j, True) == ()
    t += 20 * 300
    found = []
    for k in range(30):
        found += d.inbound(T, PN, f"{k + 1000:032x}", t + k * 2, True)
    assert [f.kind for f in found] == ["new_contact_burst"]
    assert found[0].subject == f"number:{PN}" and found[0].details["new_contacts"] >= 25
    d2 = TrafficDetector(s)
    d2.expect_burst(T, PN, t + 3600, t)
    assert not [
        f for k in range(30) for f in d2.inbound(T, PN, f"{k + 1000:032x}", t + k * 2, True)
    ]


def test_repeated_failed_verifications_quarantine_the_contact() -> None:
    d = TrafficDetector(MonitorSettings())
    t = MONDAY_WIB
    assert [f for k in range(4) for f in d.verification_failed(T, IX, t + k * 30)] == []
    (f,) = d.verification_failed(T, IX, t + 150)
    assert f.kind == "verification_bruteforce" and f.response == "quarantine"
    assert f.severity == "high" and f.details["failures"] == 5
    assert d.verification_failed(T, IX, t + 160) == ()  # one alert per window
    # Failures spread over hours are a forgetful customer, not guessing.
    d2 = TrafficDetector(MonitorSettings())
    assert [f for k in range(10) for f in d2.verification_failed(T, IX, t + k * 1000)] == []


def test_signature_failures_per_source_and_global_storm() -> None:
    s = MonitorSettings()
    d = SignatureDetector(s)
    key = b"k" * 32
    t = MONDAY_WIB
    one = ip_subject(key, "203.0.113.7")
    found = [f for k in range(12) for f in d.failure(T, t + k, one, "203.0.113.x")]
    assert [f.kind for f in found] == ["signature_failure_source"]
    assert found[0].details["address"] == "203.0.113.x" and "203.0.113.7" not in str(found)
    d2 = SignatureDetector(s)
    storm = [
        f
        for k in range(25)
        for f in d2.failure(T, t + k, ip_subject(key, f"198.51.100.{k}"), "198.51.100.x")
    ]
    assert [f.kind for f in storm] == ["signature_failure_storm"]
    assert storm[0].subject == f"tenant:{T}"


def test_delivery_failures_and_quality_codes() -> None:
    d = TrafficDetector(MonitorSettings())
    t = MONDAY_WIB
    for k in range(100):
        assert d.delivery(T, PN, "sent", None, t + k) == ()
    (q,) = d.delivery(T, PN, "failed", 131048, t + 101)
    assert q.kind == "number_quality_risk" and q.severity == "high"
    assert q.details["error_code"] == 131048
    found = [f for k in range(60) for f in d.delivery(T, PN, "failed", 131000, t + 102 + k)]
    spikes = [f for f in found if f.kind == "delivery_failure_spike"]
    assert spikes and spikes[-1].details["failure_ratio"] >= 0.2
    blocks = [f for k in range(12) for f in d.delivery(T, "999", "failed", 131050, t + 200 + k)]
    assert blocks and blocks[0].kind == "number_quality_risk"


def test_staff_exports_mass_reads_new_address_and_night_logins() -> None:
    d = StaffDetector(MonitorSettings())
    day = MONDAY_WIB + 10 * 3600  # 10:00 WIB
    a, b = "addr-a", "addr-b"
    assert d.action(T, "siti", "login", a, "10.0.0.x", day) == ()  # first login: nothing known
    assert d.action(T, "siti", "login", a, "10.0.0.x", day + 60) == ()
    (f,) = d.action(T, "siti", "auth.login", b, "10.9.9.x", day + 120)
    assert f.kind == "staff_login_new_address" and f.details["address"] == "10.9.9.x"
    night = MONDAY_WIB + 86400 + 2 * 3600  # 02:00 WIB
    kinds = [f.kind for f in d.action(T, "siti", "login", a, "10.0.0.x", night)]
    assert kinds == ["staff_login_unusual_hour"]
    (e,) = d.action(T, "siti", "contacts.export", a, "10.0.0.x", day + 200)
    assert e.kind == "staff_export" and e.severity == "medium"
    found = [f for k in range(4) for f in d.action(T, "siti", "export_csv", a, "x", day + 300 + k)]
    assert [f.severity for f in found] == ["high"]
    reads = [
        f for k in range(60) for f in d.action(T, "budi", "conversation.read", a, "x", day + k)
    ]
    assert [f.kind for f in reads] == ["staff_mass_read"]
    fails = [f for k in range(6) for f in d.action(T, "budi", "login_failed", a, "x", day + k)]
    assert [f.kind for f in fails] == ["staff_login_failures"]
    assert classify("billing.update") == "other"


def test_night_owl_with_a_history_of_night_logins_is_not_flagged() -> None:
    d = StaffDetector(MonitorSettings())
    for k in range(30):
        d.action(T, "ops", "login", "a", "x", MONDAY_WIB + k * 86400 + 23 * 3600)
    assert d.action(T, "ops", "login", "a", "x", MONDAY_WIB + 40 * 86400 + 23 * 3600) == ()


def test_masking_and_settings_validation() -> None:
    assert mask_ip("203.0.113.77") == "203.0.113.x"
    assert mask_ip("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert mask_ip("not an ip") == "unknown"
    with pytest.raises(MonitorConfigError):
        MonitorSettings(webhook_url="http://alerts.example.com/hook", webhook_secret="s" * 40)
    with pytest.raises(MonitorConfigError):
        MonitorSettings(webhook_url="https://alerts.example.com/hook", webhook_secret="short")
    with pytest.raises(MonitorConfigError):
        MonitorSettings(flood_per_minute=0)
    ok = MonitorSettings(webhook_url="http://127.0.0.1:9/h", webhook_secret="s" * 40)
    assert "s" * 40 not in repr(ok)
    env = MonitorSettings.from_env({"AMAN_MONITOR_FLOOD_PER_MINUTE": "50"})
    assert env.flood_per_minute == 50 and env.quarantine_per_minute == 150
    with pytest.raises(MonitorConfigError):
        MonitorSettings.from_env({"AMAN_MONITOR_MAX_CONTACTS": "lots"})
