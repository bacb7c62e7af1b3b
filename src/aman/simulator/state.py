"""In-memory record of what the simulator accepted, rejected and saw from the phone.

Only the newest ``max_messages`` sends are kept (and as many read receipts, callback-data
keys for duplicate detection and duplicated keys), so a simulator can run for days. Every
send keeps the absolute index it was given when accepted (0 after a reset), so readers
page with ``since=<index>`` across drops; the counters count everything since the reset.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from aman.simulator.errors import SimulatorConfigError, SimulatorError, SimulatorTimeoutError

WINDOW_SECONDS = 24 * 3600.0
DEFAULT_MAX_MESSAGES = 100_000


def check_max_messages(value: object) -> int:
    """`value` if it is a usable cap on kept messages (an int >= 1), else SimulatorConfigError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SimulatorConfigError(f"max_messages must be an integer >= 1, not {value!r}")
    return value


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

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self.max_messages = check_max_messages(max_messages)
        # The newest sends; the oldest has index first_index, the newest accepted - 1.
        self._sent: deque[SentMessage] = deque(maxlen=self.max_messages)
        self.accepted = 0  # every accepted send since the reset, kept or not
        self.rejected: Counter[int] = Counter()
        self._read_receipts: deque[str] = deque(maxlen=self.max_messages)
        self.read_total = 0
        self.duplicates = 0
        # The first max_messages keys sent more than once (duplicates counts them all);
        # a dict, so a key forgotten by _opaque_seen and repeated again is listed once.
        self._duplicate_keys: dict[str, None] = {}
        self.inbound = 0
        self.dropped = 0
        # How often each of the max_messages most recently sent keys was sent: a repeat is
        # caught at least while an earlier copy is among the last max_messages sends.
        self._opaque_seen: OrderedDict[str, int] = OrderedDict()
        self._last_inbound: dict[str, float] = {}
        self._last_outbound: dict[str, str] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def reset(self) -> None:
        """Forget everything (waiters stay registered and keep waiting)."""
        self._sent.clear()
        self.accepted = 0
        self.rejected.clear()
        self._read_receipts.clear()
        self.read_total = 0
        self.duplicates = 0
        self._duplicate_keys.clear()
        self.inbound = 0
        self.dropped = 0
        self._opaque_seen.clear()
        self._last_inbound.clear()
        self._last_outbound.clear()

    def record_sent(self, message: SentMessage) -> None:
        """Keep an accepted send (dropping the oldest past the cap), count duplicates, wake."""
        self._sent.append(message)
        self.accepted += 1
        self._last_outbound[message.to] = message.wamid
        key = message.biz_opaque_callback_data
        if key:
            self._count_key(key)
        if self._waiters:
            self._wake()

    def _count_key(self, key: str) -> None:
        seen = self._opaque_seen.get(key, 0)
        if seen:
            self.duplicates += 1
            if seen == 1 and len(self._duplicate_keys) < self.max_messages:
                self._duplicate_keys[key] = None
            self._opaque_seen.move_to_end(key)
        self._opaque_seen[key] = seen + 1
        if len(self._opaque_seen) > self.max_messages:
            self._opaque_seen.popitem(last=False)

    def record_rejected(self, code: int) -> None:
        """Count an error answer by Graph error code."""
        self.rejected[code] += 1

    def record_read(self, message_id: str) -> None:
        """Count a mark-as-read call."""
        self._read_receipts.append(message_id)
        self.read_total += 1

    @property
    def read_receipts(self) -> list[str]:
        """wamids of the newest `max_messages` mark-as-read calls, oldest first (a copy)."""
        return list(self._read_receipts)

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

    @property
    def sent(self) -> list[SentMessage]:
        """The kept sends, oldest first (a copy; the newest `max_messages` of them)."""
        return list(self._sent)

    @property
    def first_index(self) -> int:
        """Index of the oldest kept send (= how many were dropped since the reset)."""
        return self.accepted - len(self._sent)

    def dropped_since(self, since: int) -> int:
        """How many sends at index >= `since` are no longer kept (0: nothing missed)."""
        return max(0, self.first_index - max(since, 0))

    def sent_since(self, since: int) -> list[tuple[int, SentMessage]]:
        """(index, send) of the kept sends with index >= `since`, oldest first."""
        start = max(since, self.first_index)
        count = self.accepted - start
        if count <= 0:
            return []
        newest = list(itertools.islice(reversed(self._sent), count))
        newest.reverse()
        return list(enumerate(newest, start))

    def messages(self, to: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """JSON views of the kept sends from index `since`, optionally only those to `to`."""
        return [m.to_json(i) for i, m in self.sent_since(since) if to is None or m.to == to]

    def stats(self) -> dict[str, Any]:
        """Counters as a JSON-ready dict."""
        return {
            "accepted": self.accepted,
            "kept": len(self._sent),
            "first_index": self.first_index,
            "max_messages": self.max_messages,
            "rejected": {str(code): n for code, n in sorted(self.rejected.items())},
            "rejected_total": sum(self.rejected.values()),
            "read_receipts": self.read_total,
            "duplicates": self.duplicates,
            "duplicate_keys": list(self._duplicate_keys),
            "inbound": self.inbound,
            "dropped_connections": self.dropped,
        }

    async def wait_for(self, count: int, timeout: float) -> list[SentMessage]:  # noqa: ASYNC109
        """Return the kept sends once at least `count` were accepted, else raise on timeout."""
        await self.wait_until(count, timeout)
        return self.sent

    async def wait_until(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        """Return once at least `count` sends were accepted, else raise on timeout."""
        if self.accepted < count:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (count, future)
            self._waiters.append(entry)
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                raise SimulatorTimeoutError(
                    f"only {self.accepted} of {count} messages after {timeout} s"
                ) from None
            finally:
                if entry in self._waiters:
                    self._waiters.remove(entry)

    def cancel_waiters(self) -> None:
        """Make every pending wait_for() raise SimulatorError (used on shutdown)."""
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(SimulatorError("simulator is stopping"))

    def _wake(self) -> None:
        n = self.accepted
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for count, future in self._waiters:
            if count <= n:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((count, future))
        self._waiters = keep
