"""In-memory record of what the simulator accepted, rejected and saw from the phone."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aman.simulator.errors import SimulatorError, SimulatorTimeoutError

WINDOW_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One accepted outbound send."""

    wamid: str
    to: str
    type: str
    body: dict[str, Any]
    biz_opaque_callback_data: str | None
    received_at: float

    def to_json(self, index: int) -> dict[str, Any]:
        """JSON view used by /_sim/messages."""
        return {
            "index": index,
            "wamid": self.wamid,
            "to": self.to,
            "type": self.type,
            "body": self.body,
            "biz_opaque_callback_data": self.biz_opaque_callback_data,
            "received_at": self.received_at,
        }


class SimState:
    """Sends, counters, read receipts and customer-service windows."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self.rejected: Counter[int] = Counter()
        self.read_receipts: list[str] = []
        self.duplicates = 0
        self.duplicate_keys: list[str] = []
        self.inbound = 0
        self.dropped = 0
        self._opaque_seen: dict[str, int] = {}
        self._last_inbound: dict[str, float] = {}
        self._last_outbound: dict[str, str] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def reset(self) -> None:
        """Forget everything (waiters stay registered and keep waiting)."""
        self.sent.clear()
        self.rejected.clear()
        self.read_receipts.clear()
        self.duplicates = 0
        self.duplicate_keys.clear()
        self.inbound = 0
        self.dropped = 0
        self._opaque_seen.clear()
        self._last_inbound.clear()
        self._last_outbound.clear()

    def record_sent(self, message: SentMessage) -> None:
        """Store an accepted send, count duplicates and wake waiters."""
        self.sent.append(message)
        self._last_outbound[message.to] = message.wamid
        key = message.biz_opaque_callback_data
        if key:
            seen = self._opaque_seen.get(key, 0)
            if seen:
                self.duplicates += 1
                if seen == 1:
                    self.duplicate_keys.append(key)
            self._opaque_seen[key] = seen + 1
        if self._waiters:
            self._wake()

    def record_rejected(self, code: int) -> None:
        """Count an error answer by Graph error code."""
        self.rejected[code] += 1

    def record_read(self, message_id: str) -> None:
        """Count a mark-as-read call."""
        self.read_receipts.append(message_id)

    def record_inbound(self, wa_id: str, at: float) -> None:
        """The user wrote: their 24 h customer-service window (re)opens."""
        self.inbound += 1
        self._last_inbound[wa_id] = at

    def window_open(self, wa_id: str, now: float) -> bool:
        """True when the user wrote within the last 24 hours."""
        last = self._last_inbound.get(wa_id)
        return last is not None and now - last <= WINDOW_SECONDS

    def last_outbound(self, wa_id: str) -> str | None:
        """wamid of the newest message sent to `wa_id`, if any."""
        return self._last_outbound.get(wa_id)

    def messages(self, to: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """JSON views of sends from index `since`, optionally only those to `to`."""
        start = max(since, 0)
        return [
            m.to_json(i)
            for i, m in enumerate(self.sent[start:], start)
            if to is None or m.to == to
        ]

    def stats(self) -> dict[str, Any]:
        """Counters as a JSON-ready dict."""
        return {
            "accepted": len(self.sent),
            "rejected": {str(code): n for code, n in sorted(self.rejected.items())},
            "rejected_total": sum(self.rejected.values()),
            "read_receipts": len(self.read_receipts),
            "duplicates": self.duplicates,
            "duplicate_keys": list(self.duplicate_keys),
            "inbound": self.inbound,
            "dropped_connections": self.dropped,
        }

    async def wait_for(self, count: int, timeout: float) -> list[SentMessage]:  # noqa: ASYNC109
        """Return the sends once at least `count` were accepted, else raise on timeout."""
        if len(self.sent) < count:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (count, future)
            self._waiters.append(entry)
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                raise SimulatorTimeoutError(
                    f"only {len(self.sent)} of {count} messages after {timeout} s"
                ) from None
            finally:
                if entry in self._waiters:
                    self._waiters.remove(entry)
        return list(self.sent)

    def cancel_waiters(self) -> None:
        """Make every pending wait_for() raise SimulatorError (used on shutdown)."""
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(SimulatorError("simulator is stopping"))

    def _wake(self) -> None:
        n = len(self.sent)
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for count, future in self._waiters:
            if count <= n:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((count, future))
        self._waiters = keep
