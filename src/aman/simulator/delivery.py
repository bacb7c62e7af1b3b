"""Deliver signed webhooks to the bot with Meta-like retries and fault injection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from aman.simulator.config import SimulatorConfig
from aman.simulator.faults import FaultDice
from aman.simulator.payloads import SIGNATURE_HEADER, USER_AGENT, encode, sign


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Final HTTP status of a webhook delivery (0: never got an answer) and attempts used."""

    status: int
    attempts: int

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx."""
        return 200 <= self.status < 300


class WebhookSender:
    """POSTs signed webhook bodies; re-delivers on non-2xx or connection failure."""

    def __init__(self, config: SimulatorConfig, dice: FaultDice) -> None:
        self._url = config.webhook_url
        self._secret = config.app_secret.encode()
        self._delays = config.webhook_retry_delays
        self._timeout = aiohttp.ClientTimeout(total=config.webhook_timeout_s)
        self._dice = dice
        self._session: aiohttp.ClientSession | None = None
        self._closed = asyncio.Event()
        self.deliveries = 0
        self.delivered = 0
        self.retries = 0
        self.failed = 0
        self.duplicated = 0

    def open(self) -> None:
        """Allow deliveries again after close()."""
        self._closed.clear()

    async def close(self) -> None:
        """Stop retrying and release the HTTP session."""
        self._closed.set()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def reset_counters(self) -> None:
        """Zero the counters."""
        self.deliveries = self.delivered = self.retries = self.failed = self.duplicated = 0

    def stats(self) -> dict[str, int]:
        """Counters as a dict."""
        return {
            "deliveries": self.deliveries,
            "delivered": self.delivered,
            "retries": self.retries,
            "failed": self.failed,
            "duplicated": self.duplicated,
        }

    async def deliver(self, payload: Mapping[str, Any]) -> DeliveryResult:
        """Sign and deliver one webhook; maybe deliver it twice (duplicate_webhooks fault)."""
        body = encode(payload)
        result = await self._deliver_body(body)
        if result.ok and self._dice.hit(self._dice.faults.duplicate_webhooks):
            self.duplicated += 1
            await self._deliver_body(body)
        return result

    async def _deliver_body(self, body: bytes) -> DeliveryResult:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            "User-Agent": USER_AGENT,
        }
        status = 0
        attempts = 0
        for retry_delay in (None, *self._delays):
            if self._closed.is_set():
                break
            if retry_delay is not None:
                self.retries += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(retry_delay):
                        await self._closed.wait()
                if self._closed.is_set():
                    break
            attempts += 1
            self.deliveries += 1
            status = await self._post(body, headers)
            if 200 <= status < 300:
                self.delivered += 1
                return DeliveryResult(status, attempts)
        self.failed += 1
        return DeliveryResult(status, attempts)

    async def _post(self, body: bytes, headers: dict[str, str]) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return 0
