"""Streaming statistics with bounded memory: EWMA, bucketed rates, seasonal baselines, LRU maps.

Everything here is O(1) per event (amortised) and allocation-light, because the
detectors call it on aman's hot paths.

* ``Ewma`` — exponentially weighted mean and variance (West's incremental form).
* ``RateTracker`` — counts events in fixed buckets; each closed bucket feeds an
  EWMA baseline and, optionally, a ``Seasonal`` hour-of-week baseline (168 slots,
  Asia/Jakarta time).  ``estimate`` is a sliding-window count: the current bucket
  plus the overlapping share of the previous one.
* ``BoundedLRU`` — a map with a size cap (least recently used evicted) and an idle
  TTL (swept in small budgets by the background loop).
* ``KnownSet`` — a bounded "seen before" filter of 64-bit keys in two generations.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "WIB_OFFSET_SECONDS",
    "BoundedLRU",
    "Ewma",
    "KnownSet",
    "RateParams",
    "RateTracker",
    "Seasonal",
    "hour_of_day_wib",
    "hour_of_week_wib",
]

# Asia/Jakarta (WIB) is UTC+7 all year: Indonesia has had no daylight saving since 1964.
WIB_OFFSET_SECONDS = 7 * 3600
# At most this many empty buckets are replayed into a seasonal baseline after a quiet
# gap (plain EWMA baselines decay in closed form); beyond it little would change.
MAX_CATCHUP = 60

K = TypeVar("K")
V = TypeVar("V")


def hour_of_week_wib(ts: float) -> int:
    """0..167: Monday 00:00 WIB is 0 (1970-01-01 was a Thursday, hence the +72)."""
    return int((math.floor((ts + WIB_OFFSET_SECONDS) / 3600.0) + 72) % 168)


def hour_of_day_wib(ts: float) -> int:
    return int(math.floor((ts + WIB_OFFSET_SECONDS) / 3600.0) % 24)


class Ewma:
    """Exponentially weighted mean and variance of a stream."""

    __slots__ = ("mean", "n", "var")

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def update(self, x: float, alpha: float) -> None:
        if self.n == 0:
            self.mean, self.var = x, 0.0
        else:
            diff = x - self.mean
            incr = alpha * diff
            self.mean += incr
            self.var = (1.0 - alpha) * (self.var + diff * incr)
        self.n += 1

    def decay(self, k: int, alpha: float) -> None:
        """``k`` updates with x = 0 in O(1) (closed form of ``update(0.0)`` repeated)."""
        if k <= 0 or self.n == 0:
            return
        keep = (1.0 - alpha) ** k
        self.var = keep * (self.var + self.mean * self.mean * (1.0 - keep))
        self.mean *= keep
        self.n += k


class Seasonal:
    """An EWMA per hour-of-week slot (168 means, variances and counts)."""

    __slots__ = ("means", "obs", "vars")

    def __init__(self) -> None:
        self.means = array("d", bytes(8 * 168))
        self.vars = array("d", bytes(8 * 168))
        self.obs = array("I", bytes(4 * 168))

    def update(self, slot: int, x: float, alpha: float) -> None:
        if self.obs[slot] == 0:
            self.means[slot], self.vars[slot] = x, 0.0
        else:
            diff = x - self.means[slot]
            incr = alpha * diff
            self.means[slot] += incr
            self.vars[slot] = (1.0 - alpha) * (self.vars[slot] + diff * incr)
        if self.obs[slot] < 0xFFFFFFFF:
            self.obs[slot] += 1


@dataclass(frozen=True, slots=True)
class RateParams:
    """How one family of ``RateTracker`` behaves (shared, so trackers stay small)."""

    bucket: float
    alpha: float
    mean_floor: float
    sd_floor: float
    season_alpha: float = 0.0
    season_min_obs: int = 0


class RateTracker:
    """Event counts in fixed buckets with an EWMA (and optional seasonal) baseline."""

    __slots__ = ("alerted", "base", "count", "level", "prev", "season", "start")

    def __init__(self, seasonal: bool = False) -> None:
        self.start = -math.inf
        self.count = 0.0
        self.prev = 0.0
        self.base = Ewma()
        self.season: Seasonal | None = Seasonal() if seasonal else None
        self.alerted = -math.inf  # bucket of the last alert: one alert per bucket and level
        self.level = 0

    def _roll(self, ts: float, p: RateParams) -> None:
        if self.start == -math.inf:
            self.start = ts - (ts % p.bucket)
            return
        if ts < self.start + p.bucket:
            return
        gaps = int((ts - self.start) // p.bucket)
        self._feed(self.count, self.start, p)
        if self.season is None:
            self.base.decay(gaps - 1, p.alpha)
        else:
            for i in range(1, min(gaps, MAX_CATCHUP)):
                self._feed(0.0, self.start + i * p.bucket, p)
        self.prev = self.count if gaps == 1 else 0.0
        self.count = 0.0
        self.start += gaps * p.bucket

    def _feed(self, x: float, bucket_start: float, p: RateParams) -> None:
        self.base.update(x, p.alpha)
        if self.season is not None:
            self.season.update(hour_of_week_wib(bucket_start), x, p.season_alpha)

    def add(self, ts: float, p: RateParams, n: float = 1.0) -> float:
        """Count ``n`` events at ``ts``; returns the sliding-window estimate."""
        self._roll(ts, p)
        self.count += n
        return self._sliding(ts, p)

    def estimate(self, ts: float, p: RateParams) -> float:
        """Events in the last bucket-length: current bucket + overlapping part of the last."""
        self._roll(ts, p)
        return self._sliding(ts, p)

    def _sliding(self, ts: float, p: RateParams) -> float:
        elapsed = min(max(ts - self.start, 0.0), p.bucket)
        return self.count + self.prev * (1.0 - elapsed / p.bucket)

    def baseline(self, ts: float, p: RateParams) -> tuple[float, float]:
        """Expected count per bucket and its standard deviation, floors applied."""
        mean, var = self.base.mean, self.base.var
        season = self.season
        if season is not None:
            slot = hour_of_week_wib(ts)
            if season.obs[slot] >= p.season_min_obs:
                mean, var = season.means[slot], season.vars[slot]
        return max(mean, p.mean_floor), max(math.sqrt(max(var, 0.0)), p.sd_floor)

    def zscore(self, ts: float, p: RateParams) -> float:
        mean, sd = self.baseline(ts, p)
        return (self.estimate(ts, p) - mean) / sd

    def should_alert(self, level: int = 1) -> bool:
        """True the first time in this bucket that an anomaly reaches ``level`` (>= 1).

        So a flood is reported once per bucket, and again only when it escalates.
        """
        if self.alerted != self.start:
            self.alerted, self.level = self.start, 0
        if level <= self.level:
            return False
        self.level = level
        return True


class _Entry(Generic[V]):
    __slots__ = ("last", "value")

    def __init__(self, last: float, value: V) -> None:
        self.last = last
        self.value = value


class BoundedLRU(Generic[K, V]):
    """A dict with a size cap (LRU eviction) and an idle TTL; not thread-safe by itself."""

    __slots__ = ("_data", "cap", "evicted", "ttl")

    def __init__(self, cap: int, ttl: float) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = cap
        self.ttl = ttl
        self._data: OrderedDict[K, _Entry[V]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: K, now: float) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if now - entry.last > self.ttl:
            del self._data[key]
            return None
        entry.last = max(entry.last, now)
        self._data.move_to_end(key)
        return entry.value

    def peek(self, key: K) -> V | None:
        """The value without touching recency (for background readers)."""
        entry = self._data.get(key)
        return None if entry is None else entry.value

    def get_or_create(self, key: K, now: float, factory: Callable[[], V]) -> V:
        value = self.get(key, now)
        if value is not None:
            return value
        return self.put(key, now, factory())

    def put(self, key: K, now: float, value: V) -> V:
        """Insert ``value`` (the caller knows ``key`` is absent), evicting the LRU entry."""
        self._data[key] = _Entry(now, value)
        if len(self._data) > self.cap:
            self._data.popitem(last=False)
            self.evicted += 1
        return value

    def pop(self, key: K) -> V | None:
        entry = self._data.pop(key, None)
        return None if entry is None else entry.value

    def sweep(self, now: float, budget: int = 1000) -> int:
        """Drop up to ``budget`` idle entries from the least recently used end."""
        dropped = 0
        data = self._data
        while data and dropped < budget:
            key, entry = next(iter(data.items()))
            if now - entry.last <= self.ttl:
                break
            del data[key]
            dropped += 1
        return dropped

    def items(self) -> list[tuple[K, V]]:
        """A snapshot of (key, value) pairs, most recently used last."""
        return [(k, e.value) for k, e in self._data.items()]


class KnownSet:
    """Bounded 'seen before' filter: two generations of at most ``cap`` 64-bit keys each.

    When the current generation fills up it becomes the old one and the oldest is
    dropped, so memory stays below ``2 * cap`` ints while recently seen keys survive.
    """

    __slots__ = ("_cur", "_old", "cap")

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self._cur: set[int] = set()
        self._old: set[int] = set()

    @staticmethod
    def key(text: str) -> int:
        """64-bit key of the text (str hashes are cached on the object: nearly free)."""
        return hash(text)

    def __len__(self) -> int:
        return len(self._cur) + len(self._old)

    def seen(self, text: str) -> bool:
        """Was ``text`` seen before?  Remembers it either way."""
        k = self.key(text)
        if k in self._cur:
            return True
        found = k in self._old
        self._cur.add(k)
        if len(self._cur) >= self.cap:
            self._old, self._cur = self._cur, set()
        return found
