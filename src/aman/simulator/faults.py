"""Fault-injection settings and the seeded dice that decide when a fault fires."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping, MutableSequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aman.simulator.errors import SimulatorConfigError

_T = TypeVar("_T")

_RATE_FIELDS = frozenset(
    {"rate_429", "rate_5xx", "rate_timeout", "rate_131056", "duplicate_webhooks",
     "reorder_statuses"}
)
_BOOL_FIELDS = frozenset({"timeout_accepts"})
_INT_FIELDS = frozenset({"retry_after_s"})


@dataclass(frozen=True, slots=True)
class Faults:
    """What can go wrong, and how often. Rates are probabilities in [0, 1].

    latency_ms / latency_jitter_ms: delay before answering a send.
    rate_429: HTTP 429, Graph code 130429, with Retry-After: retry_after_s.
    rate_5xx: HTTP 500 (code 131000) or 503 (code 2).
    rate_timeout: hang timeout_hang_s, then drop the connection without an answer;
        with timeout_accepts the message is recorded as sent first (the ambiguous case).
    rate_131056: pair rate limit error.
    duplicate_webhooks: a webhook is delivered a second time.
    reorder_statuses: a message's statuses are emitted in shuffled order.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_s: int = 1
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    timeout_hang_s: float = 30.0
    timeout_accepts: bool = False
    rate_131056: float = 0.0
    duplicate_webhooks: float = 0.0
    reorder_statuses: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _BOOL_FIELDS:
                if not isinstance(value, bool):
                    raise SimulatorConfigError(f"fault {f.name} must be a boolean")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SimulatorConfigError(f"fault {f.name} must be a number")
            if not math.isfinite(value) or value < 0:
                raise SimulatorConfigError(f"fault {f.name} must be a finite number >= 0")
            if f.name in _RATE_FIELDS and value > 1:
                raise SimulatorConfigError(f"fault {f.name} is a probability and must be <= 1")
            if f.name in _INT_FIELDS and not isinstance(value, int):
                raise SimulatorConfigError(f"fault {f.name} must be an integer")

    def to_dict(self) -> dict[str, float | int | bool]:
        """Plain JSON-ready view of the settings."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; unknown names or bad values raise."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SimulatorConfigError(f"unknown fault setting(s): {', '.join(unknown)}")
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in _BOOL_FIELDS and name not in _INT_FIELDS and isinstance(value, int):
                value = value if isinstance(value, bool) else float(value)
            clean[name] = value
        return dataclasses.replace(self, **clean)


class FaultDice:
    """Current fault settings plus a seeded random.Random, so runs are reproducible."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        # Not used for anything secret: reproducible fault schedules are the point.
        self._rng = random.Random(seed)  # noqa: S311  # nosec B311

    def hit(self, rate: float) -> bool:
        """True with probability `rate` (never draws when the rate is zero)."""
        return rate > 0.0 and self._rng.random() < rate

    def latency_s(self) -> float:
        """Delay before answering a send, in seconds."""
        f = self.faults
        jitter = f.latency_jitter_ms * self._rng.random() if f.latency_jitter_ms > 0 else 0.0
        return (f.latency_ms + jitter) / 1000.0

    def coin(self) -> bool:
        """A fair coin."""
        return self._rng.random() < 0.5

    def shuffle(self, items: MutableSequence[_T]) -> None:
        """Shuffle in place."""
        self._rng.shuffle(items)

    def update(self, changes: Mapping[str, Any]) -> Faults:
        """Apply `changes` to the live settings and return them."""
        self.faults = self.faults.updated(changes)
        return self.faults

    def reseed(self, seed: int) -> None:
        """Restart the random sequence."""
        self._rng.seed(seed)
