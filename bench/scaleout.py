"""``python -m bench.scaleout``: echo throughput on PostgreSQL with 1, 2 and 4 worker processes.

For each worker count N this script creates a fresh PostgreSQL database (dropped
at the end), starts the Cloud API simulator, one ``aman serve --role web``
(receiver), one ``--role sender`` and N ``--role worker`` processes, all on
127.0.0.1 with throw-away secrets and the echo bot.  Then it offers signed
webhooks open loop (``bench.generator``: latency from each request's intended
send time) at each ``--rates`` step, and finally a saturation step at
``--burst-rate`` whose reply rate is the pipeline's capacity.  Per step:
acked webhooks, replies, replies/s, end-to-end p50/p99 (intended send ->
reply accepted by the simulator), duplicates and lost replies, and the CPU
of every role and of PostgreSQL's backends for the bench database.

Exactly once is checked twice: at the simulator (each unique text echoed once,
to the right user, nothing foreign) and in the database after the run (every
stored inbound message is ``done`` with exactly one sent reply).

No process is pinned: the scale-out processes need every core.  The load
average and the busy share of each core are recorded, because on a shared
machine other work takes CPU from the processes measured.  Results go to
``bench/out/scaleout.json`` and a markdown table to ``bench/out/scaleout.md``
(``bench/RESULTS.md`` is left alone).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
import uvloop
from psycopg import sql

from bench.measure import SimClient, ack_step, collect_replies, echo_summary
from bench.run import _AUTOGROUP, _autogroup_nice
from bench.scenarios import BenchContext
from bench.servers import HOST, BenchSecrets, Proc, ProcessGroup, free_port, wait_ready
from bench.stats import machine_facts
from bench.workload import build_workload, users_for

__all__ = ["ScalePlan", "main", "render_table", "run_scaleout"]

log = logging.getLogger("bench")
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ScalePlan:
    """What to run for every worker count."""

    workers: Sequence[int]
    rates: Sequence[float]
    duration: float
    burst_rate: float
    burst_seconds: float
    warmup_seconds: float = 2.0
    stall_s: float = 8.0
    max_drain_s: float = 60.0


# -- the throw-away database ----------------------------------------------------
def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url``; yields its URL, drops it after."""
    name = f"aman_scaleout_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _backend_pids(url: str) -> list[int]:
    """PostgreSQL server processes serving the bench database right now."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def _pid_cpu(pid: int) -> float:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _runq_wait(pids: Sequence[int]) -> float:
    """Seconds the threads of ``pids`` spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(stat.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def database_check(url: str) -> dict[str, Any]:
    """Exactly once in the database: every inbound message done with one sent reply."""
    with psycopg.connect(url, autocommit=True) as conn:

        def counts(query: str) -> dict[Any, int]:
            return {row[0]: int(row[1]) for row in conn.execute(query).fetchall()}

        inbox = counts("SELECT status, count(*) FROM inbox GROUP BY status")
        outbox = counts("SELECT state, count(*) FROM outbox WHERE kind = 'message' GROUP BY state")
        replies_per_message = counts(
            "SELECT n, count(*) FROM (SELECT i.id, count(o.id) AS n FROM inbox i "
            "LEFT JOIN outbox o ON o.inbox_id = i.id AND o.kind = 'message' "
            "GROUP BY i.id) per GROUP BY n"
        )
    total = sum(inbox.values())
    return {
        "inbox": {str(k): v for k, v in inbox.items()},
        "outbox_messages": {str(k): v for k, v in outbox.items()},
        "replies_per_message": {str(k): v for k, v in replies_per_message.items()},
        "exactly_once": bool(
            total > 0
            and inbox.get("done", 0) == total
            and outbox.get("sent", 0) == total
            and sum(outbox.values()) == total
            and replies_per_message == {1: total}
        ),
    }


# -- one worker count ------------------------------------------------------------
@dataclass
class _Stack:
    sim: Proc
    web: Proc
    sender: Proc
    workers: list[Proc]

    def roles(self) -> dict[str, list[Proc]]:
        return {
            "web": [self.web],
            "sender": [self.sender],
            "workers": self.workers,
            "sim": [self.sim],
        }


async def _start_stack(ctx: BenchContext, n: int, url: str) -> _Stack:
    port = free_port()
    group, s = ctx.group, ctx.secrets
    sim = group.start_simulator(f"scale{n}-sim", s, webhook_port=port, pinned=False)
    await wait_ready(sim, "/_sim/health")
    graph = f"http://{HOST}:{sim.port}/v23.0"

    def aman(name: str, role: str, role_port: int = 0) -> Proc:
        return group.start_aman(
            f"scale{n}-{name}",
            s,
            role=role,
            database_url=url,
            graph_url=graph,
            mark_read=False,
            port=role_port,
            pinned=False,
        )

    web = aman("web", "web", port)
    await wait_ready(web, "/healthz")  # migrates the new database before the others start
    sender = aman("sender", "sender")
    workers = [aman(f"worker{i}", "worker") for i in range(n)]
    for proc in (sender, *workers):
        await wait_ready(proc, "/healthz")
    return _Stack(sim, web, sender, workers)


async def _step(
    ctx: BenchContext,
    stack: _Stack,
    sim_api: SimClient,
    url: str,
    *,
    tag: str,
    rate: float,
    seconds: float,
    plan: ScalePlan,
) -> dict[str, Any]:
    n = max(1, round(rate * seconds))
    workload = build_workload(
        tag=tag,
        block=ctx.next_block(),
        n=n,
        users=users_for(n),
        app_secret=ctx.secrets.app_secret.encode(),
        host=HOST,
        port=stack.web.port,
    )
    pg_pids = _backend_pids(url)
    roles = stack.roles()
    cpu0 = {role: sum(p.cpu_seconds() for p in procs) for role, procs in roles.items()}
    pg0 = sum(_pid_cpu(pid) for pid in pg_pids)
    ours = [p.pid for procs in roles.values() for p in procs]
    wait0 = _runq_wait(ours)
    before = await sim_api.stats()
    t0 = time.monotonic()
    step = await ack_step(
        workload,
        rate,
        server=stack.web,
        sim=stack.sim,
        port=stack.web.port,
        max_connections=ctx.max_connections,
        retry_503=True,
        grace=20.0,
        server_core=-1,
        tool_core=-1,
    )
    replies = await collect_replies(
        sim_api,
        workload,
        [c == 200 for c in step.result.status],
        since=int(before.get("accepted", 0)),
        reads_before=int(before.get("read_receipts", 0)),
        stall_seconds=plan.stall_s,
        max_seconds=plan.max_drain_s,
    )
    wall = max(time.monotonic() - t0, 1e-9)
    await sim_api.reset()
    summary = echo_summary(step, replies)
    # Per-core "foreign" CPU from ack_summary assumes pinned processes; not meaningful here.
    summary.pop("foreign_cpu", None)
    summary["foreign_sends"] = replies.foreign
    summary["exactly_once_at_simulator"] = bool(
        summary["replies"] == summary["acked"]
        and summary["duplicate_replies"] == 0
        and summary["wrong_recipient"] == 0
        and replies.foreign == 0
        and summary["replies_without_ack"] == 0
    )
    summary["cpu_cores"] = {
        role: round((sum(p.cpu_seconds() for p in procs) - cpu0[role]) / wall, 3)
        for role, procs in roles.items()
    }
    # Threads of aman and the simulator that were ready to run but had no CPU, in
    # cores: on a shared machine this, not aman, can be what limits the figures.
    summary["runq_wait_cores"] = round((_runq_wait(ours) - wait0) / wall, 3)
    summary["cpu_cores"]["postgres"] = round(
        (sum(_pid_cpu(pid) for pid in pg_pids) - pg0) / wall, 3
    )
    summary["load_avg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return summary


async def run_workers(ctx: BenchContext, n: int, plan: ScalePlan, admin_url: str) -> dict[str, Any]:
    """Every step of the plan with ``n`` worker processes on a fresh database."""
    steps: list[dict[str, Any]] = []
    result: dict[str, Any] = {"workers": n, "load_start": machine_facts()["load_avg_1_5_15"]}
    with fresh_database(admin_url) as url:
        stack = await _start_stack(ctx, n, url)
        try:
            async with SimClient(stack.sim.port) as sim_api:
                warm = await _step(
                    ctx,
                    stack,
                    sim_api,
                    url,
                    tag=f"w{n}",
                    rate=plan.rates[0],
                    seconds=plan.warmup_seconds,
                    plan=plan,
                )
                result["warmup_exactly_once"] = warm["exactly_once_at_simulator"]
                schedule = [(rate, plan.duration, "step") for rate in plan.rates]
                if plan.burst_rate > 0:
                    schedule.append((plan.burst_rate, plan.burst_seconds, "saturation"))
                for rate, seconds, kind in schedule:
                    summary = await _step(
                        ctx,
                        stack,
                        sim_api,
                        url,
                        tag=f"s{n}r{int(rate)}",
                        rate=rate,
                        seconds=seconds,
                        plan=plan,
                    )
                    summary["kind"] = kind
                    steps.append(summary)
                    log.info("workers=%d %s %5.0f/s: %s", n, kind, rate, _brief(summary))
                    await asyncio.sleep(1.0)
            result["alive_after"] = {p.name: p.alive() for ps in stack.roles().values() for p in ps}
            result["database"] = database_check(url)
        finally:
            for procs in stack.roles().values():
                for proc in procs:
                    ctx.group.stop(proc)
    result["steps"] = steps
    result["load_end"] = machine_facts()["load_avg_1_5_15"]
    return result


async def run_scaleout(ctx: BenchContext, plan: ScalePlan, admin_url: str) -> list[dict[str, Any]]:
    """The plan for every worker count in turn."""
    return [await run_workers(ctx, n, plan, admin_url) for n in plan.workers]


# -- report ------------------------------------------------------------------------
def _brief(s: dict[str, Any]) -> str:
    lat = s["e2e_latency_ms"]
    return (
        f"acked {s['acked']}/{s['requests']} replies {s['replies']} "
        f"({s['reply_rate']}/s) p50 {lat['p50']} p99 {lat['p99']} ms dup "
        f"{s['duplicate_replies']} lost {s['lost_replies']} late {s['late_at_cutoff']} "
        f"cpu {s['cpu_cores']} waiting {s['runq_wait_cores']} load {s['load_avg']}"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def render_table(runs: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per (worker count, step)."""
    lines = [
        "| workers | step | offered/s | messages | acked | replies | replies/s | e2e p50 ms "
        "| e2e p99 ms | ≤ 1 s | dup | lost | exactly once | CPU web/workers/sender/pg | "
        "waiting for CPU | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for run in runs:
        db_ok = (run.get("database") or {}).get("exactly_once")
        for s in run["steps"]:
            lat, cpu = s["e2e_latency_ms"], s["cpu_cores"]
            once = "yes" if s["exactly_once_at_simulator"] and db_ok else "NO"
            lines.append(
                f"| {run['workers']} | {s['kind']} | {s['offered_rate']:.0f} | {s['requests']} "
                f"| {s['acked']} | {s['replies']} | {s['reply_rate']} | {_ms(lat['p50'])} "
                f"| {_ms(lat['p99'])} | {s['within_1s']:.1%} | {s['duplicate_replies']} "
                f"| {s['lost_replies'] + s['late_at_cutoff']} | {once} "
                f"| {cpu['web']}/{cpu['workers']}/{cpu['sender']}/{cpu['postgres']} "
                f"| {s['runq_wait_cores']} | {s['load_avg']} |"
            )
    return "\n".join(lines) + "\n"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaleout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to run")
    parser.add_argument("--rates", default="100,200", help="open-loop steps, messages/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument(
        "--burst-rate",
        type=float,
        default=1000.0,
        help="saturation step rate (0: none); its replies/s is the capacity",
    )
    parser.add_argument("--burst-seconds", type=float, default=4.0)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("AMAN_BENCH_POSTGRES_URL", DEFAULT_PG),
        help="PostgreSQL server (a role allowed to CREATE DATABASE)",
    )
    parser.add_argument("--out", default=str(BENCH_DIR / "out"), help="JSON, table and logs")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the benchmark's processes and autogroup, as in "
        "bench.run (negative needs root)",
    )
    args = parser.parse_args(argv)
    plan = ScalePlan(
        workers=[int(x) for x in args.workers.split(",")],
        rates=_floats(args.rates),
        duration=args.duration,
        burst_rate=args.burst_rate,
        burst_seconds=args.burst_seconds,
    )
    if not plan.rates or any(n < 1 for n in plan.workers):
        parser.error("need at least one rate and worker counts >= 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "command": "python -m bench.scaleout",
        "plan": asdict(plan),
        "machine": machine_facts(),
        "errors": [],
    }
    code = 0
    group_nice_before = None
    if args.nice:
        try:
            os.nice(args.nice)
            group_nice_before = _autogroup_nice(args.nice)
        except PermissionError:
            parser.error("a negative --nice needs root")
    data["nice"] = args.nice
    # Children inherit this process's niceness (set above); ProcessGroup adds none.
    with ProcessGroup(out_dir / "logs", server_cpu=0, tool_cpu=1) as group:
        ctx = BenchContext(out_dir, group, BenchSecrets.generate())

        async def go() -> None:
            data["runs"] = await run_scaleout(ctx, plan, args.pg_url)

        try:
            uvloop.run(go())
        except Exception as exc:
            log.exception("scale-out benchmark failed")
            data["errors"].append(f"{type(exc).__name__}: {exc}")
            code = 1
        finally:
            if group_nice_before is not None:
                _AUTOGROUP.write_text(f"{group_nice_before}\n")
    data["load_end"] = machine_facts()["load_avg_1_5_15"]
    (out_dir / "scaleout.json").write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    if data.get("runs"):
        table = render_table(data["runs"])
        facts = data["machine"]
        head = (
            f"Scale-out on PostgreSQL, {facts['date_utc']}, {facts['nproc']} cores "
            f"({facts['cpu_model']}), load average at start {facts['load_avg_1_5_15']}, "
            f"at end {data['load_end']}.\n\n"
        )
        (out_dir / "scaleout.md").write_text(head + table)
        print(head + table)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
