"""Group commit: many concurrent writers share one transaction and one fsync.

Request handlers ``await committer.submit(item)``; a single background task
drains everything queued while the previous transaction ran and writes it in
one transaction on a dedicated thread.  Throughput therefore does not hinge on
one fsync per request, while every caller still only returns after *its* rows
are durably committed.  A bounded queue gives back-pressure (``Overloaded``).
When a shared transaction fails, each item is written alone.  An item whose own
values the database refuses (a constraint, a value out of range) is ``Unstorable``:
it will fail however often it is retried.  Anything else (the database away, a
missing table, a bug) is ``StorageUnavailable``: try again later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from aman.storage.db import PinnedConnection
from aman.storage.threads import db_thread

__all__ = ["GroupCommitter", "Overloaded", "StorageUnavailable", "Unstorable", "item_failure"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class Overloaded(Exception):
    """Too much is queued already: answer 503 so the sender retries later."""


class StorageUnavailable(Exception):
    """The database could not commit the write (down, locked, disk full)."""


class Unstorable(Exception):
    """The database is there but refuses this item itself: retrying will not help."""


def item_failure(exc: Exception) -> Exception:
    """What a write of one item alone failing with ``exc`` means for its caller.

    Only errors about the item's own values are ``Unstorable``; a schema or code
    problem would refuse every item alike, and a retry after the fix must store them.
    """
    if isinstance(exc, IntegrityError | DataError) and not exc.connection_invalidated:
        return Unstorable(type(exc).__name__)
    return StorageUnavailable(type(exc).__name__)


class GroupCommitter(Generic[T]):
    """Batches ``submit`` calls into shared transactions run by ``write``."""

    def __init__(
        self,
        engine: Engine,
        write: Callable[[Connection, Sequence[T]], None],
        *,
        max_batch: int = 2000,
        queue_limit: int = 20000,
        after_commit: Callable[[Sequence[T]], None] | None = None,
        name: str = "groupcommit",
        own_thread: bool = False,
    ) -> None:
        self._conn = PinnedConnection(engine)  # used on the writer thread only
        self._write = write
        self._max_batch = max_batch
        self._queue_limit = queue_limit
        self._after_commit = after_commit
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._thread = db_thread(engine, name, own=own_thread)
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        self.items = 0

    @property
    def queued(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def submit(self, item: T) -> None:
        """Queue ``item`` and return once it is committed; raise on failure."""
        if self._closed:
            raise StorageUnavailable("storage is shutting down")
        if len(self._pending) >= self._queue_limit:
            raise Overloaded(f"{len(self._pending)} writes queued")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        self._wake.set()
        await fut

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                items = [item for item, _ in batch]
                try:
                    await self._thread.run(self._commit, items)
                except Exception as exc:  # noqa: BLE001 - mapped to callers below
                    log.warning(
                        "group commit of %d items failed: %s", len(items), type(exc).__name__
                    )
                    await self._retry_one_by_one(batch)
                    continue
                self.batches += 1
                self.items += len(items)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
                if self._after_commit is not None:
                    self._after_commit(items)
            if self._closed:
                return

    async def _retry_one_by_one(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        """Isolate a bad item so it cannot fail the others' writes."""
        done: list[T] = []
        for item, fut in batch:
            try:
                await self._thread.run(self._commit, [item])
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                if not fut.done():
                    fut.set_exception(item_failure(exc))
            else:
                done.append(item)
                if not fut.done():
                    fut.set_result(None)
        if done and self._after_commit is not None:
            self._after_commit(done)

    def _commit(self, items: Sequence[T]) -> None:
        with self._conn.begin() as conn:
            self._write(conn, items)

    async def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(StorageUnavailable("storage is shutting down"))
        self._pending.clear()
        self._thread.close()
        self._conn.close()
