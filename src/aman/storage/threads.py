"""Where the hot path's blocking database work runs: one thread per SQLite file.

The inbox worker, the sender's claims and the send-result group commit hand
their transactions to a thread.  On SQLite one writer at a time is all the file
allows (``storage.db`` serialises them with a lock), so separate threads only
took turns, handing the lock and the GIL to each other: they share one thread
per database file here, and its queue is the order of their transactions.  The
ingest group commit asks for a thread of its own (a webhook's answer must not
wait behind a worker's batch), and on PostgreSQL, whose transactions do run in
parallel, every component has one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine

from aman.storage.db import database_key

__all__ = ["DbThread", "db_thread"]

T = TypeVar("T")


class _Shared:
    """A single-thread executor and how many ``DbThread`` handles still use it."""

    def __init__(self, name: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.users = 0


_SHARED: dict[str, _Shared] = {}
_GUARD = threading.Lock()


class DbThread:
    """One component's handle on the thread that runs its database work."""

    def __init__(self, shared: _Shared, key: str | None) -> None:
        self._shared = shared
        self._key = key  # None: the executor is this handle's own
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the database thread; awaited from the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._shared.executor, fn, *args)

    def close(self) -> None:
        """Done with it; the thread stops (after its queued work) when its last user closes."""
        if self._closed:
            return
        self._closed = True
        with _GUARD:
            self._shared.users -= 1
            last = self._shared.users == 0
            if last and self._key is not None:
                del _SHARED[self._key]
        if last:
            self._shared.executor.shutdown(wait=True)


def db_thread(engine: Engine, name: str, *, own: bool = False) -> DbThread:
    """The thread for ``engine``'s work: shared per SQLite file unless ``own``
    (or on PostgreSQL), then a thread named ``name`` for this caller alone."""
    if own or engine.dialect.name != "sqlite":
        alone = _Shared(name)
        alone.users = 1
        return DbThread(alone, None)
    key = database_key(engine.url.database or "")
    with _GUARD:
        shared = _SHARED.get(key) or _SHARED.setdefault(key, _Shared("sqlite"))
        shared.users += 1
    return DbThread(shared, key)
