"""Emit sent/delivered/read (or failed) status webhooks for accepted sends, batched."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aman.simulator.config import STATUS_KINDS, SimulatorConfig
from aman.simulator.delivery import WebhookSender
from aman.simulator.errors import GRAPH_TITLES, SimulatorTimeoutError
from aman.simulator.faults import FaultDice
from aman.simulator.payloads import statuses_payload
from aman.simulator.state import WINDOW_SECONDS, SentMessage


@dataclass(frozen=True, slots=True)
class _Pending:
    wamid: str
    recipient: str
    kind: str
    opaque: str | None
    conversation: dict[str, Any] | None
    pricing: dict[str, Any] | None
    error_code: int | None = None
    error_details: str | None = None


class StatusEmitter:
    """A timer heap of pending statuses drained by one task, so each batch goes out in order."""

    def __init__(
        self,
        config: SimulatorConfig,
        sender: WebhookSender,
        dice: FaultDice,
        now: Callable[[], float],
    ) -> None:
        self._config = config
        self._sender = sender
        self._dice = dice
        self._now = now
        d0, d1, d2 = config.status_delays
        self._offsets = {"sent": d0, "delivered": d0 + d1, "read": d0 + d1 + d2}
        self._kinds = [k for k in STATUS_KINDS if k in config.status_kinds]
        self._heap: list[tuple[float, int, _Pending]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.status_concurrency)
        self._conversations: dict[tuple[str, str], tuple[str, float]] = {}
        self.emitted = 0
        self.webhooks = 0

    @property
    def pending(self) -> int:
        """Statuses scheduled but not yet delivered."""
        return len(self._heap)

    def schedule(self, message: SentMessage, category: str, free: bool) -> None:
        """Queue the statuses of an accepted message."""
        if not self._kinds:
            return
        conversation, pricing = self._conversation(message.to, category, free)
        kinds = list(self._kinds)
        if self._dice.hit(self._dice.faults.reorder_statuses):
            self._dice.shuffle(kinds)
        offsets = sorted(self._offsets[k] for k in self._kinds)
        for kind, offset in zip(kinds, offsets, strict=True):
            with_billing = kind != "read"
            self._push(offset, _Pending(
                message.wamid, message.to, kind, message.biz_opaque_callback_data,
                conversation if with_billing else None, pricing if with_billing else None,
            ))

    def schedule_failed(self, message: SentMessage, code: int, details: str) -> None:
        """Queue a 'failed' status carrying a Graph error."""
        self._push(self._offsets["sent"], _Pending(
            message.wamid, message.to, "failed", message.biz_opaque_callback_data, None, None,
            code, details,
        ))

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until every queued status was delivered (or given up on)."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            raise SimulatorTimeoutError(f"{self.pending} statuses still pending") from None

    def reset(self) -> None:
        """Drop queued statuses, conversations and counters."""
        self._heap.clear()
        self._conversations.clear()
        self.emitted = self.webhooks = 0

    async def stop(self) -> None:
        """Stop the drain task; queued statuses are dropped."""
        task, self._task = self._task, None
        tasks = [*self._in_flight, *([task] if task is not None else [])]
        for pending in tasks:
            pending.cancel()
        for pending in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        self._in_flight.clear()
        self._heap.clear()
        self._idle.set()

    def _conversation(
        self, wa_id: str, category: str, free: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        now = self._now()
        key = (wa_id, category)
        found = self._conversations.get(key)
        if found is None or found[1] <= now:
            found = (secrets.token_hex(16), now + WINDOW_SECONDS)
            self._conversations[key] = found
        conversation = {
            "id": found[0],
            "expiration_timestamp": str(int(found[1])),
            "origin": {"type": category},
        }
        pricing = {
            "billable": not free,
            "pricing_model": "PMP",
            "category": category,
            "type": "free_customer_service" if free else "regular",
        }
        return conversation, pricing

    def _push(self, offset: float, pending: _Pending) -> None:
        due = asyncio.get_running_loop().time() + offset
        heapq.heappush(self._heap, (due, next(self._seq), pending))
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _pop_due(self, now: float, limit: int) -> list[_Pending]:
        batch: list[_Pending] = []
        while self._heap and len(batch) < limit and self._heap[0][0] <= now:
            batch.append(heapq.heappop(self._heap)[2])
        return batch

    def _build(self, p: _Pending) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": p.wamid,
            "status": p.kind,
            "timestamp": str(int(self._now())),
            "recipient_id": p.recipient,
        }
        if p.conversation is not None:
            conversation = dict(p.conversation)
            if p.kind != "sent":
                del conversation["expiration_timestamp"]
            status["conversation"] = conversation
        if p.pricing is not None:
            status["pricing"] = p.pricing
        if p.opaque is not None:
            status["biz_opaque_callback_data"] = p.opaque
        if p.error_code is not None:
            title = GRAPH_TITLES.get(p.error_code, "Unknown error")
            status["errors"] = [{
                "code": p.error_code,
                "title": title,
                "message": title,
                "error_data": {"details": p.error_details},
            }]
        return status

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        limit = self._config.status_batch_max
        linger = self._config.status_linger_ms / 1000.0
        while True:
            if not self._heap:
                if not self._in_flight:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._heap[0][0] - loop.time()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            batch = self._pop_due(loop.time(), limit)
            if len(batch) < limit and linger > 0:
                await asyncio.sleep(linger)
                batch.extend(self._pop_due(loop.time(), limit - len(batch)))
            self.emitted += len(batch)
            self.webhooks += 1
            payload = statuses_payload(self._config, [self._build(p) for p in batch])
            if self._config.status_concurrency == 1:
                await self._sender.deliver(payload)
                continue
            await self._slots.acquire()
            delivery = loop.create_task(self._deliver_in_background(payload))
            self._in_flight.add(delivery)
            delivery.add_done_callback(self._delivered)

    async def _deliver_in_background(self, payload: dict[str, Any]) -> None:
        try:
            await self._sender.deliver(payload)
        finally:
            self._slots.release()

    def _delivered(self, task: asyncio.Task[None]) -> None:
        # Checked here, after the task left the in-flight set: two deliveries ending in
        # the same loop turn each saw the other still in flight, and nobody set idle.
        self._in_flight.discard(task)
        if not self._heap and not self._in_flight:
            self._idle.set()
