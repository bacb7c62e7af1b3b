"""The benchmark scenarios: ingest (bare vs aman web), echo end-to-end (aman, pywa), overload.

Each scenario starts its own processes (server under test on one core, the
Cloud API simulator on the tool core beside this generator), steps through
offered rates, writes its raw steps to ``bench/out/<scenario>.json`` and
returns them for the report.  Servers are stopped when the scenario ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.measure import (
    SimClient,
    ack_step,
    ack_summary,
    collect_replies,
    echo_summary,
    timeline,
)
from bench.servers import (
    HOST,
    BenchSecrets,
    Proc,
    ProcessGroup,
    count_inbox_rows,
    free_port,
    wait_ready,
)
from bench.workload import build_workload, users_for

__all__ = ["BenchContext", "EchoPlan", "run_echo", "run_ingest", "run_overload"]

log = logging.getLogger("bench")


@dataclass
class BenchContext:
    """What every scenario shares: output folder, processes, secrets, a step counter."""

    out_dir: Path
    group: ProcessGroup
    secrets: BenchSecrets
    max_connections: int = 256
    _block: int = 0

    def next_block(self) -> int:
        self._block += 1
        if self._block > 999:
            raise ValueError("more than 999 steps in one run")
        return self._block

    def save(self, name: str, data: Any) -> Path:
        path = self.out_dir / f"{name}.json"
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        return path

    def fresh_db(self, name: str) -> Path:
        path = self.out_dir / "db" / f"{name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return path


def _workload(ctx: BenchContext, tag: str, rate: float, duration: float, port: int) -> Any:
    n = max(1, round(rate * duration))
    return build_workload(tag=tag, block=ctx.next_block(), n=n, users=users_for(n),
                          app_secret=ctx.secrets.app_secret.encode(), host=HOST, port=port)


# -- 1. ingest ---------------------------------------------------------------
async def run_ingest(ctx: BenchContext, target: str, rates: Sequence[float],
                     duration: float) -> dict[str, Any]:
    """Signed webhooks at fixed rates against the bare HMAC server or ``aman serve --role web``."""
    db = ctx.fresh_db("ingest") if target == "aman" else None
    if target == "bare":
        server = ctx.group.start_bare("ingest-bare", ctx.secrets)
        await wait_ready(server, "/webhook")
    else:
        assert db is not None
        server = ctx.group.start_aman("ingest-aman", ctx.secrets, role="web", db_path=db,
                                      graph_url="http://127.0.0.1:9/v23.0", mark_read=False)
        await wait_ready(server, "/healthz")
    steps: list[dict[str, Any]] = []
    total_200 = 0
    no_answer = 0  # sent, never answered: may or may not have been stored
    rows_before = 0
    try:
        for rate in rates:
            workload = _workload(ctx, f"i{target[0]}{int(rate)}", rate, duration, server.port)
            step = await ack_step(workload, rate, server=server, sim=None, port=server.port,
                                  max_connections=ctx.max_connections, retry_503=False,
                                  grace=15.0, server_core=ctx.group.server_cpu,
                                  tool_core=ctx.group.tool_cpu)
            summary = ack_summary(step)
            total_200 += summary["acked"]
            no_answer += summary["no_answer"]
            if db is not None:
                rows = count_inbox_rows(db)
                summary["rows_added"] = rows - rows_before
                rows_before = rows
            steps.append(summary)
            log.info("ingest %s %6.0f/s: %s", target, rate, _brief(summary))
            await asyncio.sleep(1.0)
    finally:
        ctx.group.stop(server)
    result: dict[str, Any] = {"target": target, "steps": steps, "total_200": total_200,
                              "total_no_answer": no_answer}
    if db is not None:
        final_rows = count_inbox_rows(db)
        result["rows_final"] = final_rows
        # Every 200 must be a stored row; a request that was never answered may be either.
        result["durable_ok"] = total_200 <= final_rows <= total_200 + no_answer
    ctx.save(f"ingest-{target}", result)
    return result


# -- 2./3. echo end to end -----------------------------------------------------
@dataclass
class EchoPlan:
    rates: Sequence[float]
    duration: float
    extend_step: float = 0.0  # > 0: keep stepping up by this much while sustained
    max_extra_steps: int = 0
    refine: int = 0  # up to this many bisecting steps between the best pass and a fail above
    stop_after_fails: int = 0  # > 0: skip the remaining rates after this many fails in a row
    ack_grace_s: float = 20.0  # how long to wait for the last webhook answers of a step
    stall_s: float = 3.0
    max_drain_s: float = 20.0


@dataclass
class _EchoStack:
    """A server under test (aman or pywa) with its simulator."""

    ctx: BenchContext
    target: str
    mark_read: bool
    name: str
    sim: Proc | None = None
    server: Proc | None = None
    port: int = 0
    restarts: int = 0
    servers_started: list[str] = field(default_factory=list)

    async def start_sim(self) -> Proc:
        self.port = free_port()
        self.sim = self.ctx.group.start_simulator(f"{self.name}-sim", self.ctx.secrets,
                                                  webhook_port=self.port)
        await wait_ready(self.sim, "/_sim/health")
        return self.sim

    async def start_server(self) -> Proc:
        assert self.sim is not None
        graph = f"http://{HOST}:{self.sim.port}/v23.0"
        label = f"{self.name}-{len(self.servers_started)}"
        if self.target == "aman":
            db = self.ctx.fresh_db(label)
            self.server = self.ctx.group.start_aman(label, self.ctx.secrets, role="all", db_path=db,
                                                    graph_url=graph, mark_read=self.mark_read,
                                                    port=self.port)
            await wait_ready(self.server, "/healthz")
        else:
            self.server = self.ctx.group.start_pywa(label, self.ctx.secrets, graph_url=graph,
                                                    mark_read=self.mark_read, port=self.port)
            await wait_ready(self.server, "/webhook?hub.mode=subscribe&hub.challenge=1"
                             f"&hub.verify_token={self.ctx.secrets.verify_token}")
        self.servers_started.append(label)
        return self.server

    async def restart_server(self) -> None:
        if self.server is not None:
            self.ctx.group.stop(self.server)
        self.restarts += 1
        await self.start_server()

    def stop(self) -> None:
        for proc in (self.server, self.sim):
            if proc is not None:
                self.ctx.group.stop(proc)


async def _echo_step(ctx: BenchContext, stack: _EchoStack, sim_api: SimClient, rate: float,
                     duration: float, *, retry_503: bool, stall_s: float, max_drain_s: float,
                     ack_grace_s: float = 20.0, with_timeline: bool = False) -> dict[str, Any]:
    assert stack.server is not None and stack.sim is not None
    workload = _workload(ctx, f"e{stack.name}{int(rate)}", rate, duration, stack.port)
    before = await sim_api.stats()
    step = await ack_step(workload, rate, server=stack.server, sim=stack.sim, port=stack.port,
                          max_connections=ctx.max_connections, retry_503=retry_503,
                          grace=ack_grace_s,
                          server_core=ctx.group.server_cpu, tool_core=ctx.group.tool_cpu)
    acked = [s == 200 for s in step.result.status]
    replies = await collect_replies(
        sim_api, workload, acked, since=int(before.get("accepted", 0)),
        reads_before=int(before.get("read_receipts", 0)), stall_seconds=stall_s,
        max_seconds=max_drain_s,
    )
    await sim_api.reset()
    summary = echo_summary(step, replies)
    summary["server"] = stack.servers_started[-1]
    if with_timeline:
        summary["timeline"] = timeline(step, replies)
    return summary


def _next_rate(steps: list[dict[str, Any]], plan: EchoPlan, extra_done: int) -> float | None:
    """Step above the highest rate tried so far, if that one was sustained."""
    top = max(steps, key=lambda s: s["offered_rate"])
    if plan.extend_step > 0 and top["sustained"] and extra_done < plan.max_extra_steps:
        return float(top["offered_rate"] + plan.extend_step)
    return None


def _trailing_fails(steps: list[dict[str, Any]]) -> int:
    count = 0
    for step in reversed(steps):
        if step["sustained"]:
            break
        count += 1
    return count


def _refine_rate(steps: list[dict[str, Any]]) -> float | None:
    passed = [s["offered_rate"] for s in steps if s["sustained"]]
    if not passed:
        return None
    best = max(passed)
    failed = [s["offered_rate"] for s in steps if not s["sustained"] and s["offered_rate"] > best]
    if not failed:
        return None
    mid = round((best + min(failed)) / 2 / 50) * 50
    return float(mid) if best < mid < min(failed) else None


class Stepper:
    """Which echo rate to run next: the planned rates, steps up, then refining steps.

    After ``stop_after_fails`` failures in a row the planned rates left are skipped;
    the refining steps still run.  Each one is midway (on a 50/s grid) between the best
    pass and the lowest failure above it, so a few of them bisect the edge: the peer's
    rate then comes out at the same resolution as aman's, not at the plan's coarse steps.
    """

    def __init__(self, plan: EchoPlan) -> None:
        self.plan = plan
        self.queue = list(plan.rates)
        self.skipped: list[float] = []
        self._extra = 0
        self._refined = 0
        self._stopped = False

    def next_rate(self, steps: list[dict[str, Any]]) -> float | None:
        plan = self.plan
        if (plan.stop_after_fails and not self._stopped
                and _trailing_fails(steps) >= plan.stop_after_fails):
            self._stopped = True
            self.skipped.extend(self.queue)
            self.queue.clear()
        if not self.queue and steps:
            nxt = None if self._stopped else _next_rate(steps, plan, self._extra)
            if nxt is not None:
                self._extra += 1
                self.queue.append(nxt)
            elif self._refined < plan.refine and (mid := _refine_rate(steps)) is not None:
                self._refined += 1
                self.queue.append(mid)
        return self.queue.pop(0) if self.queue else None


async def run_echo(ctx: BenchContext, target: str, plan: EchoPlan, *,
                   mark_read: bool) -> dict[str, Any]:
    """Echo bot end to end at stepped rates; replies matched at the simulator."""
    name = f"{target}-{'read' if mark_read else 'noread'}"
    stack = _EchoStack(ctx, target, mark_read, name)
    steps: list[dict[str, Any]] = []
    stepper = Stepper(plan)
    try:
        await stack.start_sim()
        await stack.start_server()
        assert stack.sim is not None
        async with SimClient(stack.sim.port) as sim_api:
            dirty = False
            while (rate := stepper.next_rate(steps)) is not None:
                if dirty:
                    await stack.restart_server()
                summary = await _echo_step(ctx, stack, sim_api, rate, plan.duration,
                                           retry_503=True, stall_s=plan.stall_s,
                                           max_drain_s=plan.max_drain_s,
                                           ack_grace_s=plan.ack_grace_s)
                steps.append(summary)
                log.info("echo %s %6.0f/s: %s", name, rate, _brief(summary))
                dirty = not summary["drained"] or summary["non_200"] > 0
                await asyncio.sleep(0.5)
    finally:
        stack.stop()
    steps.sort(key=lambda s: s["offered_rate"])
    sustained = [s["offered_rate"] for s in steps if s["sustained"]]
    result = {"target": target, "mark_read": mark_read, "steps": steps,
              "max_sustained_rate": max(sustained) if sustained else 0.0,
              "restarts": stack.restarts, "skipped_rates": stepper.skipped}
    ctx.save(f"echo-{name}", result)
    return result


# -- 4. overload ---------------------------------------------------------------
async def run_overload(ctx: BenchContext, rate: float, duration: float, *, mark_read: bool,
                       max_drain_s: float, based_on: float) -> dict[str, Any]:
    """Offer aman ``rate`` (twice its sustained rate) with Meta-like 503 retries; wait for drain."""
    stack = _EchoStack(ctx, "aman", mark_read, "overload")
    try:
        await stack.start_sim()
        await stack.start_server()
        assert stack.sim is not None
        async with SimClient(stack.sim.port) as sim_api:
            started = time.monotonic()
            summary = await _echo_step(ctx, stack, sim_api, rate, duration, retry_503=True,
                                       stall_s=min(30.0, max_drain_s), max_drain_s=max_drain_s,
                                       with_timeline=True)
            summary["scenario_s"] = round(time.monotonic() - started, 1)
            assert stack.server is not None
            summary["server_alive_after"] = stack.server.alive()
    finally:
        stack.stop()
    summary["based_on_sustained_rate"] = based_on
    summary["mark_read"] = mark_read
    log.info("overload %6.0f/s: %s", rate, _brief(summary))
    ctx.save("overload", summary)
    return summary


def _brief(s: dict[str, Any]) -> str:
    lat = s.get("e2e_latency_ms") or s["ack_latency_ms"]
    parts = [f"acked {s['acked']}/{s['requests']}", f"ack/s {s['ack_rate']}",
             f"p50 {lat['p50']} p99 {lat['p99']} max {lat['max']} ms",
             f"srv cpu {s['server_cpu']}", f"gen cpu {s['generator']['cpu']}"]
    if "replies" in s:
        parts.append(f"replies {s['replies']} lost {s['lost_replies']} "
                     f"<=1s {s['within_1s']} sustained {s['sustained']}")
    return ", ".join(parts)
