"""Rebuild conversation sessions from message times and handoff events (pure logic).

A session is one customer's conversation on one business number.  It starts
with an inbound message when the customer has been silent for more than
``gap`` seconds (and no human handoff is open).  Inside a session:

- bot first response: first bot reply sent after the session's first message;
- handoff: the first handoff opened during the session (from the audit ledger);
- human first response: first agent message sent after the handoff;
- resolution: bot-only sessions end with the bot's last reply; handed-off
  sessions end when the agent hands the conversation back.

Containment is the share of sessions that never reached a human.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Session", "SessionBuilder", "summary"]


@dataclass(slots=True)
class Session:
    phone_number_id: str
    contact_ix: str
    start: float
    last_inbound: float
    messages: int = 1
    bot_first_reply: float | None = None
    bot_last_reply: float | None = None
    handoff_at: float | None = None
    human_first_reply: float | None = None
    closed_at: float | None = None

    @property
    def handed_off(self) -> bool:
        return self.handoff_at is not None

    @property
    def open_handoff(self) -> bool:
        return self.handoff_at is not None and self.closed_at is None


class SessionBuilder:
    """Feed events in time order (any kind interleaved); read ``sessions`` at the end."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.sessions: list[Session] = []
        self._current: dict[tuple[str, str], Session] = {}
        self._by_prefix: dict[str, set[tuple[str, str]]] = defaultdict(set)

    def inbound(self, pnid: str, ix: str, at: float) -> None:
        key = (pnid, ix)
        cur = self._current.get(key)
        if cur is None or (not cur.open_handoff and at - cur.last_inbound > self.gap):
            cur = Session(pnid, ix, at, at)
            self._current[key] = cur
            self.sessions.append(cur)
            self._by_prefix[ix[:12]].add(key)
            return
        cur.last_inbound = at
        cur.messages += 1

    def outbound(self, pnid: str, ix: str, at: float, source: str) -> None:
        """``source`` is bot (a reply to a message), agent or other (campaigns...)."""
        cur = self._current.get((pnid, ix))
        if cur is None or at < cur.start:
            return
        if source == "bot":
            if cur.bot_first_reply is None:
                cur.bot_first_reply = at
            cur.bot_last_reply = at
        elif (
            source == "agent"
            and cur.handoff_at is not None
            and at >= cur.handoff_at
            and cur.human_first_reply is None
        ):
            cur.human_first_reply = at

    def handoff(self, ix_prefix: str, at: float, opened: bool) -> None:
        """A ledger entry names the contact by a blind-index prefix, not by number."""
        keys = self._by_prefix.get(ix_prefix[:12])
        if not keys:
            return
        live = [self._current[k] for k in keys if self._current[k].start <= at]
        if not live:
            return
        cur = max(live, key=lambda s: s.start)
        if opened:
            if cur.handoff_at is None:
                cur.handoff_at = at
        elif cur.open_handoff:
            cur.closed_at = at


def _stats(values: Iterable[float]) -> dict[str, float | int | None]:
    data = sorted(values)
    n = len(data)
    if not n:
        return {"count": 0, "mean": None, "median": None, "p90": None}

    def pct(p: float) -> float:
        # Nearest rank: the smallest value with at least p of the data at or below it.
        return data[max(1, math.ceil(p * n)) - 1]

    mid = n // 2
    median = data[mid] if n % 2 else (data[mid - 1] + data[mid]) / 2
    return {"count": n, "mean": sum(data) / n, "median": median, "p90": pct(0.9)}


def summary(sessions: Iterable[Session], start: float, end: float) -> dict[str, object]:
    """Figures over the sessions that started in [start, end)."""
    chosen = [s for s in sessions if start <= s.start < end]
    n = len(chosen)
    handed = [s for s in chosen if s.handed_off]
    bot_only = [s for s in chosen if not s.handed_off]
    return {
        "sessions": n,
        "handoffs": len(handed),
        "handoff_rate": len(handed) / n if n else None,
        "containment_rate": len(bot_only) / n if n else None,
        "bot_first_response_s": _stats(
            s.bot_first_reply - s.start for s in chosen if s.bot_first_reply is not None
        ),
        "human_first_response_s": _stats(
            s.human_first_reply - s.handoff_at
            for s in handed
            if s.human_first_reply is not None and s.handoff_at is not None
        ),
        "bot_resolution_s": _stats(
            s.bot_last_reply - s.start for s in bot_only if s.bot_last_reply is not None
        ),
        "human_resolution_s": _stats(
            s.closed_at - s.start for s in handed if s.closed_at is not None
        ),
        "unresolved_handoffs": sum(1 for s in handed if s.closed_at is None),
    }
