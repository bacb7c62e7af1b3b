"""Process liveness: register, heartbeat, and find dead workers whose claims must be reclaimed.

Each aman process inserts a ``workers`` row and refreshes ``heartbeat_at``.  A
worker is dead when its heartbeat is stale, or at once when it ran on this
host and its pid is gone (a kill -9 followed by a restart recovers without
waiting for the stale timeout).  ``Liveness`` keeps a process from acting on its
claims after a stall long enough for its peers to have judged it dead.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections.abc import Callable

from sqlalchemy import Connection, delete, insert, select, update

from aman.storage.models import Worker

__all__ = ["HOST", "Liveness", "dead_workers", "deregister", "heartbeat", "register"]

HOST = socket.gethostname()[:128]


class Liveness:
    """When this process last proved to the database that it is alive (a heartbeat).

    Peers judge a worker dead once its heartbeat is ``stale_seconds`` old, and then
    reconcile and resend what it had claimed.  A process whose event loop stalled that
    long may wake up and go on with such a claim before its own housekeeping notices.
    So before an irreversible step (a Graph API request) it awaits ``confirmed()``:
    at once while the last heartbeat is less than half the stale period old, else after
    the next one, which tells it (by re-registering) whether it had been reaped.
    Heartbeats are recorded from the housekeeping thread; waiters poll (rare: a stall
    or a database outage).
    """

    def __init__(
        self,
        stale_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 0.05,
    ) -> None:
        self._max_age = stale_seconds / 2
        self._clock = clock
        self._poll = poll_seconds
        self._at = -math.inf

    def beaten(self, at: float) -> None:
        """A heartbeat begun at ``at`` (this clock) has been committed."""
        self._at = max(self._at, at)

    @property
    def age(self) -> float:
        return self._clock() - self._at

    def fresh(self) -> bool:
        return self.age < self._max_age

    async def confirmed(self) -> None:
        """Return once a heartbeat younger than half the stale period is on record."""
        while not self.fresh():  # noqa: ASYNC110 - beats come from the housekeeping thread
            await asyncio.sleep(self._poll)


def register(conn: Connection, role: str, now: float | None = None) -> int:
    now = time.time() if now is None else now
    result = conn.execute(
        insert(Worker)
        .values(role=role, host=HOST, pid=os.getpid(), started_at=now, heartbeat_at=now)
        .returning(Worker.id)
    )
    return int(result.scalar_one())


def heartbeat(conn: Connection, worker_id: int, now: float | None = None) -> bool:
    """Refresh the heartbeat; False if our row was removed (we were declared dead)."""
    now = time.time() if now is None else now
    result = conn.execute(update(Worker).where(Worker.id == worker_id).values(heartbeat_at=now))
    return result.rowcount == 1


def deregister(conn: Connection, worker_id: int) -> None:
    conn.execute(delete(Worker).where(Worker.id == worker_id))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_workers(
    conn: Connection,
    stale_seconds: float,
    now: float | None = None,
    *,
    judge_heartbeats: bool = True,
) -> list[int]:
    """Ids of workers that are gone; their rows are deleted (claims keep the id to reap).

    With ``judge_heartbeats`` False only processes of this host whose pid is gone
    count: the caller has not seen the database long enough (its start, or the end
    of an outage during which nobody could beat) to call a stale heartbeat a death.
    """
    now = time.time() if now is None else now
    rows = conn.execute(select(Worker.id, Worker.host, Worker.pid, Worker.heartbeat_at)).all()
    dead = [
        r.id
        for r in rows
        if (judge_heartbeats and r.heartbeat_at < now - stale_seconds)
        or (r.host == HOST and r.pid != os.getpid() and not _pid_alive(r.pid))
    ]
    if dead:
        conn.execute(delete(Worker).where(Worker.id.in_(dead)))
    return dead
