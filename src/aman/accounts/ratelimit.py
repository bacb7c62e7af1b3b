"""Per-API-token rate limiting: a token bucket per token, in this process's memory.

Each token refills at ``rate`` requests per second up to ``burst``.  State is
per process (documented limit): with N web processes a token can reach N times
its rate; the database-backed login throttle is the control that must hold
across processes, this one protects capacity.  Memory is bounded: the least
recently used buckets are dropped beyond ``max_buckets`` (a dropped bucket
starts full again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["TokenBuckets"]


class TokenBuckets:
    def __init__(self, max_buckets: int = 100_000) -> None:
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self._max = max_buckets
        self._lock = threading.Lock()

    def take(self, key: int, rate: float, burst: int, now: float) -> float:
        """Take one request from ``key``'s bucket: 0.0 if allowed, else seconds to wait."""
        with self._lock:
            level, last = self._buckets.get(key, (float(burst), now))
            level = min(float(burst), level + max(0.0, now - last) * rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (level, now)
                wait = (1.0 - level) / rate if rate > 0 else float("inf")
            self._buckets.move_to_end(key)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
            return wait
