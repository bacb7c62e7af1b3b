"""Push alerts to a configured webhook, signed with HMAC-SHA256, from a background task.

Each delivery is a JSON POST with ``X-Aman-Signature: sha256=<hex HMAC-SHA256(secret,
raw body)>``, ``X-Aman-Event: alert`` and ``X-Aman-Delivery: <unique id>`` (the body
also carries ``delivery`` and ``sent_at``, so a receiver can reject replays).
Deliveries wait in a bounded queue (``offer`` never blocks: when full the alert is
dropped and counted; it stays in the database).  Network errors, timeouts, 408, 429
and 5xx are retried with exponential backoff plus jitter (``Retry-After`` honoured up
to the cap); any other status is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from aman.monitor.errors import MonitorConfigError, MonitorError

__all__ = ["AlertPusher", "PushStats", "sign_body", "verify_push_signature"]

log = logging.getLogger(__name__)
_PREFIX = "sha256="
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_JITTER = secrets.SystemRandom()


def sign_body(secret: bytes, body: bytes) -> str:
    """The ``X-Aman-Signature`` value for ``body``."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_push_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """For receivers (and tests): constant-time check of ``X-Aman-Signature``."""
    if not header or not header.startswith(_PREFIX) or len(header) != len(_PREFIX) + 64:
        return False
    return hmac.compare_digest(sign_body(secret, body), header.lower())


@dataclass(slots=True)
class PushStats:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0


class AlertPusher:
    """Bounded queue + worker tasks delivering signed alert payloads."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        queue_size: int = 1000,
        attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        workers: int = 2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if len(secret) < 32:
            raise MonitorConfigError("the alert webhook secret must be at least 32 bytes")
        self.url = url
        self._secret = secret
        self._attempts = max(1, attempts)
        self._base = base_delay
        self._max = max_delay
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._workers = max(1, workers)
        self._sleep = sleep
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max(1, queue_size))
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.stats = PushStats()

    def offer(self, payload: Mapping[str, Any]) -> bool:
        """Queue one alert for delivery (event-loop thread only); False when dropped."""
        try:
            self._queue.put_nowait(dict(payload))
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.warning("alert push queue full: alert dropped from push (kept in database)")
            return False
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        if self._tasks:
            return
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]

    async def stop(self, drain_seconds: float = 2.0) -> None:
        """Give queued deliveries ``drain_seconds``, then cancel and close."""
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _worker(self) -> None:
        while True:
            payload = await self._queue.get()
            try:
                ok = await self.deliver(payload)
                if ok:
                    self.stats.delivered += 1
                else:
                    self.stats.failed += 1
            except Exception as exc:  # noqa: BLE001 - one bad delivery must not kill the worker
                self.stats.failed += 1
                log.warning("alert push failed: %s", type(exc).__name__)
            finally:
                self._queue.task_done()

    async def deliver(self, payload: Mapping[str, Any]) -> bool:
        """POST one payload with retries; True once the receiver answered 2xx."""
        if self._session is None:
            raise MonitorError("AlertPusher.start() was not called")
        delivery = secrets.token_hex(12)
        for attempt in range(1, self._attempts + 1):
            body = orjson.dumps(
                {**payload, "delivery": delivery, "sent_at": time.time()},
                option=orjson.OPT_SORT_KEYS,
            )
            headers = {
                "content-type": "application/json",
                "x-aman-signature": sign_body(self._secret, body),
                "x-aman-event": "alert",
                "x-aman-delivery": delivery,
            }
            retry_after: float | None = None
            try:
                async with self._session.post(self.url, data=body, headers=headers) as resp:
                    await resp.read()
                    if 200 <= resp.status < 300:
                        return True
                    if resp.status not in _RETRY_STATUSES:
                        log.warning("alert push refused with HTTP %d", resp.status)
                        return False
                    retry_after = _retry_after(resp.headers.get("retry-after"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("alert push attempt %d: %s", attempt, type(exc).__name__)
            if attempt == self._attempts:
                break
            self.stats.retries += 1
            delay = min(self._max, self._base * 2 ** (attempt - 1))
            delay += _JITTER.uniform(0.0, delay * 0.1)
            if retry_after is not None:
                delay = min(self._max, max(delay, retry_after))
            await self._sleep(delay)
        log.warning("alert push gave up after %d attempts", self._attempts)
        return False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
