"""Reason records and the noisy-OR rule that turns reason weights into one score."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Reason", "merge_reasons", "noisy_or"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding: a short stable ``code``, human ``text`` and a weight in [0, 1).

    The weight is the probability-like belief that this finding alone marks a
    message as malicious; independent findings combine with :func:`noisy_or`.
    """

    code: str
    text: str
    weight: float


def noisy_or(weights: Iterable[float]) -> float:
    """``1 - prod(1 - w)``: at least one of several independent signals is right."""
    keep = 1.0
    for w in weights:
        keep *= 1.0 - min(max(w, 0.0), 1.0)
    return 1.0 - keep


def merge_reasons(reasons: Iterable[Reason]) -> list[Reason]:
    """Deduplicate by code, keeping the heaviest instance, in first-seen order."""
    best: dict[str, Reason] = {}
    for reason in reasons:
        seen = best.get(reason.code)
        if seen is None or reason.weight > seen.weight:
            best[reason.code] = reason
    return list(best.values())
