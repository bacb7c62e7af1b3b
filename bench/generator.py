"""Open-loop HTTP/1.1 load generator: fixed intended send times, keep-alive pool, httptools parsing.

Request ``i`` of a run is *intended* to leave at ``t0 + i / rate`` whatever
happened to earlier requests (open loop), so queueing anywhere, including in
this generator's own backlog when every connection is busy, shows up in the
latency, which is always measured from the intended time.  Requests are fully
pre-rendered bytes, so the hot path is one ``transport.write`` per request and
one C-level response parse.  503 answers can be retried after a delay, like
Meta re-delivers webhooks; a connection that dies under a request re-sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import httptools

__all__ = ["DEFAULT_RETRY_DELAYS", "LoadResult", "OpenLoopClient"]

# Seconds before re-sending a request answered 503 (attempt 2, 3, ...).
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 4.0, 4.0)
NO_ANSWER = 0  # status recorded for a request that was sent but never got an answer
NOT_SENT = -1  # the run ended before a free connection could take the request
_TICK = 0.001


@dataclass
class LoadResult:
    """Per-request outcomes of one open-loop run plus the generator's own figures."""

    n: int
    rate: float
    t0: float  # perf_counter() time at which request 0 was intended to leave
    wall0: float  # time.time() matching t0
    status: list[int]
    done_at: list[float]  # perf_counter() time of the final answer (nan when none)
    dispatched_at: list[float]  # perf_counter() time the generator first handled the request
    attempts: list[int]
    responses_503: int = 0
    retried: int = 0
    not_sent: int = 0
    conn_errors: int = 0
    connect_failures: int = 0
    peak_connections: int = 0
    peak_backlog: int = 0
    dispatch_seconds: float = 0.0  # wall time of the dispatch phase
    dispatch_cpu_seconds: float = 0.0  # this process's CPU during the dispatch phase
    total_seconds: float = 0.0
    total_cpu_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def intended(self, i: int) -> float:
        return self.t0 + i / self.rate

    def intended_wall(self, i: int) -> float:
        return self.wall0 + i / self.rate


class _Conn(asyncio.Protocol):
    """One keep-alive connection carrying at most one request at a time."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.current = -1
        self.retry_after: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value

    def on_message_complete(self) -> None:
        index, self.current = self.current, -1
        retry_after, self.retry_after = self.retry_after, None
        keep = self.parser.should_keep_alive()
        self.run._complete(self, index, self.parser.get_status_code(), retry_after, keep)

    def connection_lost(self, exc: Exception | None) -> None:
        self.run._lost(self)


class OpenLoopClient:
    """Sends pre-rendered requests to host:port at a fixed rate over a growing keep-alive pool."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 256,
        retry_503: bool = False,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        max_conn_retries: int = 3,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the benchmark only talks to the loopback interface")
        self._host = host
        self._port = port
        self._max_connections = max_connections
        self._retry_503 = retry_503
        self._retry_delays = tuple(retry_delays)
        self._max_conn_retries = max_conn_retries

    async def run(
        self, requests: Sequence[bytes], rate: float, *, grace: float = 15.0,
        inflight_grace: float = 10.0,
    ) -> LoadResult:
        """Send each request at its intended time; wait at most ``grace`` s for the last answers.

        When ``grace`` runs out, requests still waiting for a connection are dropped
        (``NOT_SENT``) and those already in the server get ``inflight_grace`` more seconds,
        so every request the server may have stored is either answered or counted.
        """
        if rate <= 0 or not requests:
            raise ValueError("need a positive rate and at least one request")
        run = _Run(self, requests, rate)
        # A full collection in the middle of a step would stall the schedule.
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return await run.execute(grace, inflight_grace)
        finally:
            if was_enabled:
                gc.enable()


class _Run:
    """State of one open-loop run (kept apart so a client can run many times)."""

    def __init__(self, client: OpenLoopClient, requests: Sequence[bytes], rate: float) -> None:
        self.c = client
        self.requests = requests
        self.n = n = len(requests)
        self.rate = rate
        self.loop = asyncio.get_running_loop()
        self.status = [NO_ANSWER] * n
        self.done_at = [math.nan] * n
        self.dispatched_at = [math.nan] * n
        self.attempts = [0] * n
        self.conn_retries = [0] * n
        self.idle: list[_Conn] = []
        self.conns: set[_Conn] = set()
        self.connecting = 0
        self.backlog: deque[int] = deque()
        self.finished = 0
        self.all_done = asyncio.Event()
        self.closing = False
        self.feeding = True
        self.retry_pending: set[int] = set()
        self.timers: set[asyncio.TimerHandle] = set()
        self.connect_tasks: set[asyncio.Task[None]] = set()
        self.res = LoadResult(n, rate, 0.0, 0.0, self.status, self.done_at, self.dispatched_at,
                              self.attempts)

    async def execute(self, grace: float, inflight_grace: float) -> LoadResult:
        res, rate, n, clock = self.res, self.rate, self.n, time.perf_counter
        start = clock() + 0.02
        res.t0 = start
        res.wall0 = time.time() + (start - clock())
        cpu0 = time.process_time()
        i = 0
        try:
            while i < n:
                now = clock()
                due = min(n, max(0, int((now - start) * rate) + 1))
                while i < due:
                    self.dispatched_at[i] = now
                    self._dispatch(i)
                    i += 1
                if i < n:
                    # Timers tick in whole milliseconds: sleeping less would spin; requests
                    # that fall due meanwhile leave together (the lag is measured).
                    await asyncio.sleep(max(_TICK, start + i / rate - clock()))
            dispatch_end = clock()
            res.dispatch_seconds = dispatch_end - start
            res.dispatch_cpu_seconds = time.process_time() - cpu0
            if self.finished < n:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_done.wait(), timeout=grace)
            if self.finished < n:
                self._stop_feeding()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_done.wait(), timeout=inflight_grace)
            res.total_seconds = clock() - start
            res.total_cpu_seconds = time.process_time() - cpu0
        finally:
            self._shutdown()
        return res

    def _stop_feeding(self) -> None:
        """No more sends: drop the backlog and pending retries, keep waiting for in-flight."""
        self.feeding = False
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        for i in self.retry_pending:
            self._finish(i, 503, answered=False)
        self.retry_pending.clear()
        while self.backlog:
            i = self.backlog.popleft()
            self.res.not_sent += 1
            self._finish(i, NOT_SENT, answered=False)

    def _shutdown(self) -> None:
        self.closing = True
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        for task in self.connect_tasks:
            task.cancel()
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        self.backlog.clear()

    # -- sending -------------------------------------------------------------
    def _dispatch(self, i: int) -> None:
        if self.idle:
            self._send(self.idle.pop(), i)
            return
        self.backlog.append(i)
        if len(self.backlog) > self.res.peak_backlog:
            self.res.peak_backlog = len(self.backlog)
        if len(self.conns) + self.connecting < self.c._max_connections:
            self._spawn_connect()

    def _send(self, conn: _Conn, i: int) -> None:
        conn.current = i
        self.attempts[i] += 1
        if conn.transport is None:
            self._lost(conn)
            return
        conn.transport.write(self.requests[i])

    def _spawn_connect(self) -> None:
        self.connecting += 1
        task = self.loop.create_task(self._connect())
        self.connect_tasks.add(task)
        task.add_done_callback(self.connect_tasks.discard)

    async def _connect(self) -> None:
        try:
            _, conn = await self.loop.create_connection(
                lambda: _Conn(self), self.c._host, self.c._port
            )
        except OSError:
            self.res.connect_failures += 1
            self.connecting -= 1
            if not self.closing and self.backlog and self.res.connect_failures < 1000:
                timer = self.loop.call_later(0.05, self._reconnect_if_needed)
                self.timers.add(timer)
            return
        self.connecting -= 1
        if self.closing:
            if conn.transport is not None:
                conn.transport.close()
            return
        self.conns.add(conn)
        if len(self.conns) > self.res.peak_connections:
            self.res.peak_connections = len(self.conns)
        self._next_for(conn)

    def _reconnect_if_needed(self) -> None:
        if not self.closing and self.backlog and not self.idle and (
            len(self.conns) + self.connecting < self.c._max_connections
        ):
            self._spawn_connect()

    def _next_for(self, conn: _Conn) -> None:
        if self.backlog:
            self._send(conn, self.backlog.popleft())
        else:
            self.idle.append(conn)

    # -- answers (called by _Conn) -------------------------------------------
    def _complete(
        self, conn: _Conn, i: int, status: int, retry_after: bytes | None, keep_alive: bool
    ) -> None:
        if i < 0:
            return
        if status == 503:
            self.res.responses_503 += 1
            tries = self.attempts[i]
            if self.c._retry_503 and tries <= len(self.c._retry_delays) and self.feeding:
                self.res.retried += 1
                delay = self.c._retry_delays[tries - 1]
                self.retry_pending.add(i)
                timer = self.loop.call_later(delay, self._redispatch, i)
                self.timers.add(timer)
                self._after_answer(conn, keep_alive)
                return
        self._finish(i, status)
        self._after_answer(conn, keep_alive)

    def _after_answer(self, conn: _Conn, keep_alive: bool) -> None:
        if self.closing:
            return
        if keep_alive:
            self._next_for(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def _redispatch(self, i: int) -> None:
        self.retry_pending.discard(i)
        if self.feeding and not self.closing:
            self._dispatch(i)

    def _finish(self, i: int, status: int, *, answered: bool = True) -> None:
        self.status[i] = status
        if answered:
            self.done_at[i] = time.perf_counter()
        self.finished += 1
        if self.finished >= self.n:
            self.all_done.set()

    def _lost(self, conn: _Conn) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        i = conn.current
        conn.current = -1
        if self.closing:
            return
        if i >= 0:
            self.res.conn_errors += 1
            self.conn_retries[i] += 1
            if self.conn_retries[i] <= self.c._max_conn_retries and self.feeding:
                self._dispatch(i)
            else:
                self._finish(i, NO_ANSWER, answered=False)
        if self.backlog and not self.idle:
            self._reconnect_if_needed()
