"""Send pacing: a per-number pacer that never exceeds the rate in any 1-second window,
and a per-recipient token bucket for Meta's pair rate limit.

``Pacer`` spaces sends evenly at 1/rate and additionally keeps a log of the
last ``floor(rate)`` actual send times, so even late wake-ups cannot put more
than ``rate`` sends into any half-open one-second window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

__all__ = ["Pacer", "RecipientBuckets"]


class Pacer:
    """Evenly spaced permits at ``rate`` per second, hard-capped per 1-second window."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._cap = max(1, math.floor(rate))
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._log: deque[float] = deque(maxlen=self._cap)

    async def acquire(self) -> float:
        """Wait for a permit; returns the monotonic time the permit was granted."""
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)
        while True:
            now = self._clock()
            if len(self._log) < self._cap or now - self._log[0] >= 1.0:
                self._log.append(now)
                return now
            await self._sleep(self._log[0] + 1.0 - now)


class RecipientBuckets:
    """Token bucket per recipient (pair rate: ~1 message / 6 s with bursts up to 45)."""

    def __init__(
        self,
        *,
        capacity: float = 45.0,
        refill_per_second: float = 1.0 / 6.0,
        max_recipients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._refill = refill_per_second
        self._max = max_recipients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, recipient: str) -> float:
        """Take a token: 0.0 when granted, else the seconds to wait before retrying."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(recipient, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - stamp) * self._refill)
        if tokens >= 1.0:
            self._buckets[recipient] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[recipient] = (tokens, now)
            wait = (1.0 - tokens) / self._refill
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait
