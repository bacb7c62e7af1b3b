"""A tiny signed-webhook sink: verifies X-Hub-Signature-256 and records what arrived."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from aman.simulator.errors import SimulatorError, SimulatorTimeoutError
from aman.simulator.payloads import SIGNATURE_HEADER


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    """One webhook POST whose signature matched."""

    body: bytes
    payload: dict[str, Any]
    received_at: float

    def values(self) -> list[dict[str, Any]]:
        """The change values of every entry."""
        return [
            change["value"]
            for entry in self.payload.get("entry", [])
            for change in entry.get("changes", [])
        ]

    def statuses(self) -> list[dict[str, Any]]:
        """Status objects carried by this webhook."""
        return [s for v in self.values() for s in v.get("statuses", [])]

    def messages(self) -> list[dict[str, Any]]:
        """Inbound message objects carried by this webhook."""
        return [m for v in self.values() for m in v.get("messages", [])]


class WebhookReceiver:
    """Serves POST `path`; answers scripted statuses first (then 200) to exercise retries."""

    def __init__(
        self, app_secret: str, *, responses: Iterable[int] = (), path: str = "/webhook"
    ) -> None:
        if not app_secret:
            raise SimulatorError("app_secret must be non-empty")
        self._secret = app_secret.encode()
        self._responses = deque(responses)
        self._path = path
        self.received: list[ReceivedWebhook] = []
        self.attempts = 0
        self.bad_signatures = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    def script(self, *statuses: int) -> None:
        """Queue HTTP statuses to answer the next POSTs with."""
        self._responses.extend(statuses)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve; return the webhook URL."""
        app = web.Application()
        app.router.add_post(self._path, self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}{self._path}"
        return self.url

    async def stop(self) -> None:
        """Stop serving. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def statuses(self) -> list[dict[str, Any]]:
        """Every status received, in arrival order."""
        return [s for hook in self.received for s in hook.statuses()]

    def messages(self) -> list[dict[str, Any]]:
        """Every inbound message received, in arrival order."""
        return [m for hook in self.received for m in hook.messages()]

    async def wait_for_statuses(
        self, count: int, timeout: float = 5.0  # noqa: ASYNC109 - a deadline is the API
    ) -> list[dict[str, Any]]:
        """Wait until at least `count` statuses arrived."""
        deadline = time.monotonic() + timeout
        while len(found := self.statuses()) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SimulatorTimeoutError(f"{len(found)} of {count} statuses arrived")
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                continue
        return found

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        expected = "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            self.bad_signatures += 1
            return web.Response(status=401)
        status = self._responses.popleft() if self._responses else 200
        if 200 <= status < 300:
            self.received.append(ReceivedWebhook(body, orjson.loads(body), time.monotonic()))
            self._changed.set()
        return web.Response(status=status)
