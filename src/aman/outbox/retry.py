"""Retry policy as data: exponential back-off with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 1.0
    cap: float = 300.0
    max_attempts: int = 8

    def delay(
        self,
        attempt: int,
        retry_after: float | None,
        rng: random.Random,
        *,
        pair_rate: bool = False,
    ) -> float | None:
        """Seconds before attempt ``attempt + 1``; None when attempts are exhausted.

        ``pair_rate`` (error 131056): Meta asks for 4^X seconds after the X+1-th failure,
        as a minimum, so that wait is never shortened by jitter.
        """
        if attempt >= self.max_attempts:
            return None
        if pair_rate and retry_after is None:
            wait = min(self.cap, 4.0 ** max(0, attempt - 1))
            return wait + rng.uniform(0.0, wait * 0.1)
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        jittered = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            # Meta said when: wait that long, plus a little jitter to spread the herd.
            return retry_after + rng.uniform(0.0, min(1.0, retry_after * 0.1))
        return jittered
