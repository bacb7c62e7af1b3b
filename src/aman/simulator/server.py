"""The Simulator: wires state, fault dice, phone and status emitter into an aiohttp server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from aman.simulator.config import SimulatorConfig
from aman.simulator.control import ControlApi
from aman.simulator.delivery import WebhookSender
from aman.simulator.errors import SimulatorError
from aman.simulator.faults import FaultDice, Faults
from aman.simulator.graph import MESSAGES_ROUTE, GraphApi
from aman.simulator.phone import SimulatedPhone
from aman.simulator.state import SentMessage, SimState
from aman.simulator.statuses import StatusEmitter

GRAPH_VERSION = "v23.0"


class Simulator:
    """A local fake of the WhatsApp Cloud API plus a simulated user phone."""

    def __init__(self, config: SimulatorConfig, *, now: Callable[[], float] = time.time) -> None:
        self.config = config
        self.now = now
        self.state = SimState(config.max_messages)
        self.dice = FaultDice(config.faults, config.seed)
        self.sender = WebhookSender(config, self.dice)
        self.emitter = StatusEmitter(config, self.sender, self.dice, now)
        self.phone = SimulatedPhone(config, self.sender, self.state, now)
        self._closing = asyncio.Event()
        self._graph = GraphApi(config, self.state, self.dice, self.emitter, now, self._closing)
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

    @property
    def sent(self) -> list[SentMessage]:
        """The kept sends, oldest first: a copy of the newest `config.max_messages`."""
        return self.state.sent

    @property
    def graph_url(self) -> str:
        """Graph API base URL for aman, e.g. http://127.0.0.1:PORT/v23.0 (after start())."""
        if self.base_url is None:
            raise SimulatorError("simulator is not started")
        return f"{self.base_url}/{GRAPH_VERSION}"

    def app(self) -> web.Application:
        """The aiohttp application (built once)."""
        if self._app is None:
            app = web.Application()
            app.router.add_post(MESSAGES_ROUTE, self._graph.messages)
            ControlApi(self).add_routes(app)
            app.on_startup.append(self._on_startup)
            app.on_shutdown.append(self._on_shutdown)
            app.on_cleanup.append(self._on_cleanup)
            self._app = app
        return self._app

    def stats(self) -> dict[str, Any]:
        """Counters: accepted, rejected by code, read receipts, duplicates, webhooks, statuses."""
        stats = self.state.stats()
        stats["webhooks"] = self.sender.stats()
        stats["statuses"] = {
            "emitted": self.emitter.emitted,
            "webhooks": self.emitter.webhooks,
            "pending": self.emitter.pending,
        }
        stats["faults"] = self.dice.faults.to_dict()
        return stats

    def set_faults(self, **changes: Any) -> Faults:
        """Change fault settings at run time (same names as Faults)."""
        return self.dice.update(changes)

    def reset(self, *, faults: bool = False) -> None:
        """Forget sends, counters, windows and queued statuses; reseed the dice."""
        self.state.reset()
        self.emitter.reset()
        self.sender.reset_counters()
        self.dice.reseed(self.config.seed)
        if faults:
            self.dice.faults = self.config.faults

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = ephemeral); return the base URL."""
        if self._runner is not None:
            raise SimulatorError("simulator already started")
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.base_url = f"http://{shown}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving, drop queued statuses and close the webhook client. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        else:
            await self._on_shutdown(None)
            await self._on_cleanup(None)
        self.base_url = None

    async def wait_for_sent(
        self, count: int, timeout: float  # noqa: ASYNC109 - the agreed public signature
    ) -> list[SentMessage]:
        """The kept sends once at least `count` were accepted; SimulatorTimeoutError if not."""
        return await self.state.wait_for(count, timeout)

    async def drain_statuses(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every queued status webhook went out."""
        await self.emitter.drain(timeout)

    async def _on_startup(self, _app: web.Application | None) -> None:
        self._closing.clear()
        self.sender.open()

    async def _on_shutdown(self, _app: web.Application | None) -> None:
        self._closing.set()
        self.state.cancel_waiters()

    async def _on_cleanup(self, _app: web.Application | None) -> None:
        await self.emitter.stop()
        await self.sender.close()
