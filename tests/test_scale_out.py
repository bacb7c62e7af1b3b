"""Roles in separate runtimes sharing PostgreSQL: NOTIFY wake-ups, sender leases, fail-over."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import uvicorn

from aman.app import create_app
from aman.demo import _bind, demo_settings
from aman.engine.builtin import load_builtin_bot
from aman.runtime import Runtime
from aman.simulator import Simulator, SimulatorConfig
from aman.storage.leases import Leases

pytestmark = pytest.mark.anyio


class Server(uvicorn.Server):
    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        import contextlib

        return contextlib.nullcontext()


async def start_web(runtime: Runtime, sock) -> tuple[Server, asyncio.Task[None]]:  # type: ignore[no-untyped-def]
    server = Server(
        uvicorn.Config(create_app(runtime), lifespan="on", log_level="warning", loop="asyncio")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    return server, task


@pytest.mark.postgres
async def test_separate_roles_wake_each_other_through_notify(tmp_path: Path, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only")
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    # Poll only every 30 s: replies within a second prove the NOTIFY path works.
    settings = demo_settings(tmp_path, bot="echo", database_url=db_url, poll_seconds=30.0)
    sim = Simulator(
        SimulatorConfig(
            access_token=settings.access_token.reveal(),  # type: ignore[union-attr]
            app_secret=settings.app_secret.reveal(),  # type: ignore[union-attr]
            webhook_url=f"http://127.0.0.1:{port}/webhook",
            statuses=False,
        )
    )
    await sim.start()
    settings = settings.with_(graph_api_url=sim.graph_url)
    web = Runtime(settings, load_builtin_bot("echo"), role="web")
    worker = Runtime(settings, load_builtin_bot("echo"), role="worker")
    sender = Runtime(settings, load_builtin_bot("echo"), role="sender")
    server, task = await start_web(web, sock)
    await worker.start()
    await sender.start()
    try:
        assert worker.listener is not None and sender.listener is not None
        await asyncio.wait_for(worker.listener.connected.wait(), 10)
        await asyncio.wait_for(sender.listener.connected.wait(), 10)
        await asyncio.sleep(0.5)  # past the start-up drain
        started = time.monotonic()
        for i in range(5):
            assert (await sim.phone.send_text("6281234533333", f"notify {i}")).status == 200
        await sim.wait_for_sent(5, 10)
        assert time.monotonic() - started < 5.0
        assert [m.body["text"]["body"] for m in sim.sent] == [f"notify {i}" for i in range(5)]
    finally:
        await sender.stop()
        await worker.stop()
        server.should_exit = True
        await task
        await sim.stop()
        sock.close()


def test_lease_is_exclusive_and_taken_over_after_expiry(db_url: str) -> None:
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    leases = Leases()
    now = time.time()
    with engine.begin() as conn:
        assert leases.acquire(conn, "sender:1", holder=1, ttl=5, now=now)
        assert not leases.acquire(conn, "sender:1", holder=2, ttl=5, now=now + 1)
        assert leases.acquire(conn, "sender:1", holder=1, ttl=5, now=now + 2)  # renew
        assert not leases.acquire(conn, "sender:1", holder=2, ttl=5, now=now + 6)
        assert leases.acquire(conn, "sender:1", holder=2, ttl=5, now=now + 7.5)  # expired
        assert not leases.acquire(conn, "sender:1", holder=1, ttl=5, now=now + 8)
        leases.release(conn, "sender:1", holder=2)
        assert leases.acquire(conn, "sender:1", holder=1, ttl=5, now=now + 9)
    engine.dispose()
