"""One measured step: offer a workload open-loop, then summarise acks (and echo replies).

``ack_step`` runs the generator against a server and meters the CPU of the
server, of this process and of every core.  ``collect_replies`` polls the
simulator's record of accepted sends, matches each reply to its request by
the echoed (unique) text and stops when every acked message has its reply, when
replies stop coming, or at a hard time limit.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from aman.simulator.control import DROPPED_HEADER
from bench.generator import NO_ANSWER, LoadResult, OpenLoopClient
from bench.servers import HOST, Proc
from bench.stats import CoreMeter, fraction, latency_summary, rate_of, share_within
from bench.workload import Workload

__all__ = [
    "AckStep",
    "EchoReplies",
    "SimClient",
    "ack_step",
    "ack_summary",
    "collect_replies",
    "echo_summary",
    "timeline",
]


@dataclass
class AckStep:
    """A finished load run plus the CPU figures around it."""

    workload: Workload
    result: LoadResult
    server_cpu: float  # cores used by the server under test during the run
    sim_cpu: float | None
    cores: dict[int, float]
    server_core: int
    tool_core: int


async def ack_step(
    workload: Workload, rate: float, *, server: Proc, sim: Proc | None, port: int,
    max_connections: int, retry_503: bool, grace: float, server_core: int, tool_core: int,
) -> AckStep:
    client = OpenLoopClient(HOST, port, max_connections=max_connections, retry_503=retry_503)
    meter = CoreMeter()
    cpu_server0 = server.cpu_seconds()
    cpu_sim0 = sim.cpu_seconds() if sim is not None else 0.0
    meter.start()
    t0 = time.perf_counter()
    result = await client.run(workload.requests, rate, grace=grace)
    wall = max(time.perf_counter() - t0, 1e-9)
    cores = meter.stop()
    server_cpu = round((server.cpu_seconds() - cpu_server0) / wall, 3)
    sim_cpu = round((sim.cpu_seconds() - cpu_sim0) / wall, 3) if sim is not None else None
    return AckStep(workload, result, server_cpu, sim_cpu, cores, server_core, tool_core)


def ack_summary(step: AckStep) -> dict[str, Any]:
    """Acks, statuses, ack latency and the generator's own health for one step."""
    r = step.result
    codes = Counter(r.status)
    ok = [i for i in range(r.n) if r.status[i] == 200]
    last = max((r.done_at[i] for i in ok), default=r.t0)
    span = max(last - r.t0, r.n / r.rate)
    lag = [r.dispatched_at[i] - r.intended(i) for i in range(r.n)]
    dispatch_rate = rate_of(r.n, r.dispatch_seconds + 1.0 / r.rate)
    gen_cpu = round(r.dispatch_cpu_seconds / r.dispatch_seconds, 3) if r.dispatch_seconds else 0.0
    lag_summary = latency_summary(lag)
    return {
        "offered_rate": r.rate,
        "duration_s": round(r.n / r.rate, 2),
        "requests": r.n,
        "users": step.workload.users,
        "acked": len(ok),
        "ack_rate": rate_of(len(ok), span),
        "status_counts": {str(k): v for k, v in sorted(codes.items())},
        "non_200": r.n - len(ok),
        "no_answer": codes.get(NO_ANSWER, 0),
        "not_sent": r.not_sent,
        "responses_503": r.responses_503,
        "retries_503": r.retried,
        "conn_errors": r.conn_errors,
        "ack_latency_ms": latency_summary(r.done_at[i] - r.intended(i) for i in ok),
        "generator": {
            "dispatch_rate": dispatch_rate,
            "dispatch_lag_ms": lag_summary,
            "cpu": gen_cpu,
            "peak_connections": r.peak_connections,
            "peak_backlog": r.peak_backlog,
            "keeps_up": bool(dispatch_rate >= 0.99 * r.rate
                             and (lag_summary["p99"] or 0.0) < 20.0 and gen_cpu < 0.9),
        },
        "server_cpu": step.server_cpu,
        "sim_cpu": step.sim_cpu,
        "core_busy": {str(k): v for k, v in step.cores.items()},
        # CPU the rest of the machine took on each core (busy minus our processes).
        "foreign_cpu": _foreign(step),
    }


def _foreign(step: AckStep) -> dict[str, float]:
    r = step.result
    gen = r.total_cpu_seconds / r.total_seconds if r.total_seconds else 0.0
    ours = {step.server_core: step.server_cpu,
            step.tool_core: gen + (step.sim_cpu or 0.0)}
    return {str(core): round(max(0.0, busy - ours.get(core, 0.0)), 3)
            for core, busy in step.cores.items()}


class SimClient:
    """The simulator's control API (/_sim/stats, /_sim/messages) over loopback."""

    def __init__(self, port: int) -> None:
        self._base = f"http://{HOST}:{port}"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimClient:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("SimClient used outside 'async with'")
        return self._session

    async def _get(self, path: str) -> Any:
        async with self._open().get(self._base + path) as resp:
            resp.raise_for_status()
            return await resp.json(loads=_loads)

    async def stats(self) -> dict[str, Any]:
        data = await self._get("/_sim/stats")
        return data if isinstance(data, dict) else {}

    async def reset(self) -> None:
        """Forget recorded sends (keeps the simulator's heap, and its GC pauses, small)."""
        async with self._open().post(self._base + "/_sim/reset", json={}) as resp:
            resp.raise_for_status()

    async def messages(self, since: int) -> list[dict[str, Any]]:
        """Recorded sends from index ``since``; raises if some were dropped unread."""
        async with self._open().get(f"{self._base}/_sim/messages?since={since}") as resp:
            resp.raise_for_status()
            dropped = int(resp.headers.get(DROPPED_HEADER, "0"))
            data = await resp.json(loads=_loads)
        if dropped:
            # The simulator keeps only its newest --max-messages sends: replies matched
            # against what is left would be counted as lost.
            raise RuntimeError(f"the simulator dropped {dropped} sends before they were read")
        return data if isinstance(data, list) else []


def _loads(raw: str | bytes) -> Any:
    import orjson

    return orjson.loads(raw)


@dataclass
class EchoReplies:
    """Replies matched to the requests of one step."""

    received_at: list[float]  # wall time the simulator accepted the reply (nan: none)
    duplicates: int = 0
    wrong_recipient: int = 0
    foreign: int = 0  # sends that belong to no request of this step
    drain_seconds: float = 0.0
    drained: bool = False  # every acked request has its reply
    stalled: bool = False  # gave up because replies stopped coming (missing ones are lost)
    read_receipts: int = 0
    next_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


async def collect_replies(
    sim: SimClient, workload: Workload, acked: list[bool], *, since: int, reads_before: int,
    stall_seconds: float, max_seconds: float,
) -> EchoReplies:
    """Poll the simulator until every acked request has its reply, or replies stall."""
    index = workload.index_of_text()
    out = EchoReplies([math.nan] * len(workload.texts), next_index=since)
    want = sum(acked)
    got_acked = 0
    start = last_progress = time.monotonic()
    while True:
        batch = await sim.messages(out.next_index)
        if batch:
            out.next_index = int(batch[-1]["index"]) + 1
            last_progress = time.monotonic()
        for msg in batch:
            body = msg.get("body") or {}
            text = (body.get("text") or {}).get("body") if body.get("type") == "text" else None
            i = index.get(text) if isinstance(text, str) else None
            if i is None:
                out.foreign += 1
                continue
            if out.received_at[i] == out.received_at[i]:
                out.duplicates += 1
                continue
            out.received_at[i] = float(msg["received_at"])
            if msg.get("to") != workload.wa_ids[i]:
                out.wrong_recipient += 1
            if acked[i]:
                got_acked += 1
        now = time.monotonic()
        if got_acked >= want:
            out.drained = True
            break
        if now - last_progress > stall_seconds:
            out.stalled = True
            break
        if now - start > max_seconds:
            break
        await asyncio.sleep(0.25)
    out.drain_seconds = round(time.monotonic() - start, 2)
    stats = await sim.stats()
    out.read_receipts = int(stats.get("read_receipts", 0)) - reads_before
    return out


def echo_summary(step: AckStep, replies: EchoReplies) -> dict[str, Any]:
    """Ack summary plus end-to-end echo figures (latency from intended send to reply)."""
    r = step.result
    summary = ack_summary(step)
    e2e = [replies.received_at[i] - r.intended_wall(i) for i in range(r.n)]
    acked = [r.status[i] == 200 for i in range(r.n)]
    replied = [x == x for x in replies.received_at]
    missing = sum(1 for a, got in zip(acked, replied, strict=True) if a and not got)
    # Missing replies count as lost only when replies had stopped coming; at the time
    # limit with replies still flowing they are late (still queued in the server).
    lost = missing if replies.stalled else 0
    late = 0 if replies.stalled else missing
    n_replied = sum(replied)
    last = max((x for x in replies.received_at if x == x), default=r.wall0)
    within_1s = share_within(e2e, 1.0, r.n)
    summary.update({
        "replies": n_replied,
        "replies_per_acked": fraction(n_replied, summary["acked"]),
        "lost_replies": lost,
        "late_at_cutoff": late,
        "replies_without_ack": sum(1 for a, got in zip(acked, replied, strict=True)
                                   if got and not a),
        "duplicate_replies": replies.duplicates,
        "wrong_recipient": replies.wrong_recipient,
        "read_receipts": replies.read_receipts,
        "reply_rate": rate_of(n_replied, max(last - r.wall0, r.n / r.rate)),
        "e2e_latency_ms": latency_summary(e2e),
        "within_1s": within_1s,
        "drained": replies.drained,
        "drain_s": replies.drain_seconds,
        "sustained": bool(within_1s >= 0.99 and missing == 0),
    })
    return summary


def timeline(step: AckStep, replies: EchoReplies, bucket_s: float = 2.0) -> list[dict[str, Any]]:
    """Per bucket of intended send time: offered, acked, replied, e2e p50/p99 (latency growth)."""
    r = step.result
    buckets: dict[int, list[int]] = {}
    for i in range(r.n):
        buckets.setdefault(int((i / r.rate) // bucket_s), []).append(i)
    rows = []
    for b in sorted(buckets):
        idx = buckets[b]
        lat = latency_summary(replies.received_at[i] - r.intended_wall(i) for i in idx)
        rows.append({
            "from_s": round(b * bucket_s, 1),
            "offered": len(idx),
            "acked_first_try": sum(1 for i in idx if r.status[i] == 200 and r.attempts[i] == 1),
            "acked": sum(1 for i in idx if r.status[i] == 200),
            "replied": lat["count"],
            "e2e_p50_ms": lat["p50"],
            "e2e_p99_ms": lat["p99"],
        })
    return rows
