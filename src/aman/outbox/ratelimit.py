"""Send pacing: a per-number pacer that never exceeds the rate in any 1-second window,
and a per-recipient token bucket for Meta's pair rate limit.

``Pacer`` spaces sends evenly at 1/rate.  The hard cap is enforced on the
requests themselves, not on the permits: a send occupies the pacer from the
moment its permit is granted (before any byte leaves) until one second after
its answer arrived.  The server stamps a request somewhere between those two
instants, so at most ``floor(rate)`` requests can carry stamps in any
half-open one-second window, however late the write leaves, however long the
server queues it, and however the event loop stalls.  The price is that each
send costs ``1 + latency`` seconds of one permit: the sustained rate is about
``rate / (1 + latency)``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

__all__ = ["Pacer", "RecipientBuckets"]


class Pacer:
    """Evenly spaced sends at ``rate`` per second, hard-capped per 1-second window.

    Use ``async with pacer.send():`` around the request (or ``acquire`` before and
    ``release`` after it): the cap holds for any stamp the server puts on the request
    between the two.
    """

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
        self._hold = 0.0  # no permit before this (Meta asked the number to wait)
        self._in_flight = 0
        self._done: deque[float] = deque()  # answer times of the last second, oldest first
        self._released = asyncio.Event()
        self._turn = asyncio.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _expire(self, now: float) -> None:
        done = self._done
        while done and done[0] + 1.0 <= now:
            done.popleft()

    async def acquire(self) -> float:
        """Wait for a permit; returns the monotonic time it was granted.

        Every granted permit must be followed by exactly one ``release``.
        """
        async with self._turn:  # first come, first served; one waiter polls the window
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self._interval
            if slot > now:
                await self._sleep(slot - now)
            while True:
                now = self._clock()
                if now < self._hold:
                    await self._sleep(self._hold - now)
                    continue
                self._expire(now)
                if self._in_flight + len(self._done) < self._cap:
                    self._in_flight += 1
                    return now
                if self._done:
                    await self._sleep(self._done[0] + 1.0 - now)
                else:  # every permit is in flight: wait for an answer
                    await self._released.wait()

    def hold(self, seconds: float) -> None:
        """Grant no permit for ``seconds`` (a throughput limit hit: Meta said wait)."""
        until = self._clock() + seconds
        if until > self._hold:
            self._hold = until
            self._next = max(self._next, until)

    def release(self) -> None:
        """The request's answer (or failure) has arrived: it now counts for one more second."""
        if self._in_flight <= 0:
            raise RuntimeError("release without acquire")
        self._in_flight -= 1
        self._done.append(self._clock())
        released, self._released = self._released, asyncio.Event()
        released.set()

    @asynccontextmanager
    async def send(self) -> AsyncIterator[float]:
        """Hold a permit around one request; yields the time it was granted."""
        granted = await self.acquire()
        try:
            yield granted
        finally:
            self.release()

    def quiet_in(self) -> float:
        """Seconds until no send of ours can share a one-second window with a later send.

        Before another process takes over this number (lease hand-over), wait this long.
        Infinite while requests are in flight.
        """
        if self._in_flight:
            return math.inf
        now = self._clock()
        self._expire(now)
        return self._done[-1] + 1.0 - now if self._done else 0.0


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
        # A bucket that has refilled is the same as no bucket: forget it (the least
        # recently used come first), so a broadcast to 100,000 numbers keeps only the
        # few seconds' worth still refilling instead of an entry per recipient.
        while self._buckets:
            first_tokens, first_stamp = next(iter(self._buckets.values()))
            if first_stamp + (self._capacity - first_tokens) / self._refill > now:
                break
            self._buckets.popitem(last=False)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
