"""LISTEN/NOTIFY wake-ups on PostgreSQL: a hint, never the source of truth.

Triggers (migration 0005) notify ``aman_inbox``/``aman_outbox`` when rows become
ready; this listener wakes the local worker/sender at once.  Polling stays on
as the fallback, so a lost notification or a dropped connection only costs
latency.  The connection is kept alive and re-established with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy.engine import make_url

from aman.aio import sleep_or_stop

__all__ = ["PgListener", "conninfo"]

log = logging.getLogger(__name__)


def conninfo(url: str) -> str:
    """A libpq connection string for an SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgListener:
    def __init__(self, url: str, handlers: Mapping[str, Callable[[], None]]) -> None:
        self._conninfo = conninfo(url)
        self._handlers = dict(handlers)
        self.connected = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                await self._listen(stop)
                delay = 0.5
            except (psycopg.Error, OSError) as exc:
                self.connected.clear()
                log.warning("notify listener: %s; reconnecting in %.1fs", type(exc).__name__, delay)
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, 10.0)

    async def _listen(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
            for channel in self._handlers:
                await conn.execute(f"LISTEN {channel}")  # fixed identifiers from our code
            self.connected.set()
            # Everything may have changed while we were not listening.
            for wake in self._handlers.values():
                wake()
            # Stop at once on shutdown, not at the next 5-second keep-alive.
            serve = asyncio.ensure_future(self._serve(conn, stop))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({serve, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (serve, stopping):
                    task.cancel()
            if serve.done() and not serve.cancelled():
                error = serve.exception()
                if error is not None:
                    raise error

    async def _serve(self, conn: psycopg.AsyncConnection[object], stop: asyncio.Event) -> None:
        while not stop.is_set():
            async for note in conn.notifies(timeout=5.0):
                handler = self._handlers.get(note.channel)
                if handler is not None:
                    handler()
                if stop.is_set():
                    return
            await conn.execute("SELECT 1")  # keep-alive; raises if the server went away
