"""Per-API-token rate limiting, shared by every API process through the database.

Each token allows ``rate`` requests per second with bursts of up to ``burst``.
The authority is one row per token in ``api_token_rates`` holding the GCRA
"theoretical arrival time" (the token bucket written as a single timestamp):
a request at ``now`` is allowed when ``max(tat, now) + 1/rate - now <=
burst/rate``, and then ``tat`` moves on by ``1/rate``.  Check and update are one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement, so N processes behind a
load balancer share one limit instead of getting N times it (SQLite and
PostgreSQL alike; no window rows to clean up).

Fast path: each process also keeps an in-memory bucket per token with the same
rate and burst.  A process's own allowed requests are a subset of all allowed
requests, so when its local bucket is empty the shared one is too: the request
is refused without a database write (a flood costs no writes).  A request the
database refuses gives its local token back, which keeps that implication true.
Local memory is bounded: least recently used buckets are dropped beyond
``max_buckets`` (a dropped bucket starts full again; the database still decides).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Engine, case, literal
from sqlalchemy.dialects import postgresql, sqlite

from aman.accounts.models import ApiTokenRateRow

__all__ = ["SharedRateLimiter", "TokenBuckets"]

_EPSILON = 1e-9  # float slack so that exactly-on-time requests are allowed


class TokenBuckets:
    """In-process token buckets (the fast path of :class:`SharedRateLimiter`)."""

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

    def refund(self, key: int, burst: int) -> None:
        """Give back the request just taken from ``key`` (it was refused elsewhere)."""
        with self._lock:
            found = self._buckets.get(key)
            if found is not None:
                self._buckets[key] = (min(float(burst), found[0] + 1.0), found[1])


class SharedRateLimiter:
    """The per-token limit every process shares (see the module docstring)."""

    def __init__(self, engine: Engine, local: TokenBuckets | None = None) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._local = local or TokenBuckets()

    def take(self, key: int, rate: float, burst: int, now: float) -> float:
        """Count one request of token ``key``: 0.0 if allowed, else seconds to wait."""
        wait = self._local.take(key, rate, burst, now)
        if wait > 0:
            return wait
        wait = self._shared(key, rate, burst, now)
        if wait > 0:
            self._local.refund(key, burst)
        return wait

    def _shared(self, key: int, rate: float, burst: int, now: float) -> float:
        interval = 1.0 / rate
        limit = burst * interval
        tat = ApiTokenRateRow.tat  # in DO UPDATE: the stored row's value
        start = case((tat > literal(now), tat), else_=literal(now))
        fits = start + interval - now <= limit + _EPSILON
        ins = self._insert(ApiTokenRateRow).values(token_id=key, tat=now + interval, allowed=True)
        stmt = ins.on_conflict_do_update(
            index_elements=["token_id"],
            set_={"tat": case((fits, start + interval), else_=tat), "allowed": fits},
        ).returning(ApiTokenRateRow.tat, ApiTokenRateRow.allowed)
        with self._engine.begin() as conn:
            row = conn.execute(stmt).one()
        if row.allowed:
            return 0.0
        # Refused: tat is unchanged and ahead of now; the request fits once it is
        # within ``limit - interval`` of the clock.
        return max(interval * 0.001, float(row.tat) + interval - limit - now)
