"""Alert webhook push: HMAC signature, retries with backoff, final refusals, bounded queue,
and the monitor pushing a new alert end to end (local aiohttp receiver on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from aman.audit.service import AuditService
from aman.monitor import Monitor, MonitorSettings, verify_push_signature
from aman.monitor.errors import MonitorConfigError
from aman.monitor.push import AlertPusher, sign_body
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault

pytestmark = pytest.mark.anyio
SECRET = b"s" * 40


class Receiver:
    """A local alert receiver answering a scripted list of statuses."""

    def __init__(self, statuses: list[int], headers: dict[str, str] | None = None) -> None:
        self.statuses = statuses
        self.headers = headers or {}
        self.got: list[tuple[bytes, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((await request.read(), request.headers.copy()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, headers=self.headers if status != 200 else None)


async def serve(rx: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", rx.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rx.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield rx
    finally:
        await runner.cleanup()


@pytest.fixture
async def flaky() -> AsyncIterator[Receiver]:
    async for rx in serve(Receiver([503, 503])):
        yield rx


@pytest.fixture
async def refusing() -> AsyncIterator[Receiver]:
    async for rx in serve(Receiver([400])):
        yield rx


@pytest.fixture
async def limited() -> AsyncIterator[Receiver]:
    async for rx in serve(Receiver([429], {"Retry-After": "0.2"})):
        yield rx


@pytest.fixture
async def ok() -> AsyncIterator[Receiver]:
    async for rx in serve(Receiver([])):
        yield rx


async def test_signed_payload_retried_until_accepted(flaky: Receiver) -> None:
    sleeps: list[float] = []

    async def fast_sleep(d: float) -> None:
        sleeps.append(d)

    pusher = AlertPusher(flaky.url, SECRET, base_delay=0.5, sleep=fast_sleep)
    await pusher.start()
    try:
        assert await pusher.deliver({"event": "alert", "alert": {"id": 1, "kind": "x"}})
    finally:
        await pusher.stop()
    assert len(flaky.got) == 3
    assert 0.5 <= sleeps[0] <= 0.55 and 1.0 <= sleeps[1] <= 1.1  # exponential + jitter
    deliveries = set()
    for body, headers in flaky.got:
        assert verify_push_signature(SECRET, body, headers["X-Aman-Signature"])
        assert not verify_push_signature(b"t" * 40, body, headers["X-Aman-Signature"])
        assert not verify_push_signature(SECRET, body + b" ", headers["X-Aman-Signature"])
        assert headers["X-Aman-Event"] == "alert"
        payload = orjson.loads(body)
        assert payload["alert"]["id"] == 1 and payload["delivery"] == headers["X-Aman-Delivery"]
        deliveries.add(payload["delivery"])
    assert len(deliveries) == 1  # the same delivery id on every retry


async def test_client_errors_are_final(refusing: Receiver) -> None:
    pusher = AlertPusher(refusing.url, SECRET, base_delay=0.0)
    await pusher.start()
    try:
        assert not await pusher.deliver({"event": "alert"})
    finally:
        await pusher.stop()
    assert len(refusing.got) == 1


async def test_retry_after_is_honoured(limited: Receiver) -> None:
    sleeps: list[float] = []

    async def fast_sleep(d: float) -> None:
        sleeps.append(d)

    pusher = AlertPusher(limited.url, SECRET, base_delay=0.01, sleep=fast_sleep)
    await pusher.start()
    try:
        assert await pusher.deliver({"event": "alert"})
    finally:
        await pusher.stop()
    assert sleeps == [pytest.approx(0.2)]


async def test_unreachable_receiver_gives_up_after_the_attempts() -> None:
    pusher = AlertPusher("http://127.0.0.1:9/hook", SECRET, attempts=3, base_delay=0.01)
    await pusher.start()
    try:
        t0 = time.monotonic()
        assert not await pusher.deliver({"event": "alert"})
        assert time.monotonic() - t0 < 2.0
    finally:
        await pusher.stop()
    assert pusher.stats.retries == 2


async def test_queue_is_bounded_and_never_blocks(ok: Receiver) -> None:
    pusher = AlertPusher(ok.url, SECRET, queue_size=3)
    accepted = [pusher.offer({"n": i}) for i in range(5)]  # workers not started yet
    assert accepted == [True, True, True, False, False] and pusher.stats.dropped == 2
    await pusher.start()
    await pusher.stop(drain_seconds=5)
    assert pusher.stats.delivered == 3 and len(ok.got) == 3
    with pytest.raises(MonitorConfigError):
        AlertPusher(ok.url, b"short")
    assert sign_body(SECRET, b"{}").startswith("sha256=")


async def test_monitor_pushes_new_alerts_in_the_background(ok: Receiver, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    upgrade(engine)
    master = secrets.token_bytes(32)
    settings = MonitorSettings(
        webhook_url=ok.url, webhook_secret=SECRET.decode(), flush_seconds=0.05
    )
    m = Monitor(
        engine, Vault.open_or_create(engine, "default", master), AuditService(master), settings
    )
    await m.start()
    try:
        t0 = time.monotonic()
        now = time.time()
        for k in range(12):
            m.signature_failure(now + k * 0.01, "192.0.2.50")
        while not ok.got and time.monotonic() - t0 < 5:
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - t0
    finally:
        await m.stop()
        engine.dispose()
    assert ok.got, "no alert was pushed"
    body, headers = ok.got[0]
    assert verify_push_signature(SECRET, body, headers["X-Aman-Signature"])
    alert: dict[str, Any] = orjson.loads(body)["alert"]
    assert alert["kind"] == "signature_failure_source" and alert["status"] == "open"
    assert "192.0.2.50" not in body.decode()
    assert elapsed < 2.0
