"""``python -m bench.scaleout``: echo throughput on PostgreSQL with 1, 2 and 4 worker
processes, and on SQLite with a single process, in one run.

For each worker count N this script creates a fresh PostgreSQL database (dropped
at the end), starts the Cloud API simulator, one ``aman serve --role web``
(receiver), one ``--role sender`` and N ``--role worker`` processes, all on
127.0.0.1 with throw-away secrets and the echo bot.  Then (unless
``--no-sqlite``) the same with one ``aman serve --role all`` on a SQLite WAL
file in a temporary directory.  Each setup gets the same steps: webhooks
offered open loop (``bench.generator``: latency from each request's intended
send time) at each ``--rates`` step, and finally a saturation step at
``--burst-rate`` whose reply rate is the pipeline's capacity.  Per step:
acked webhooks, replies, replies/s, end-to-end p50/p99 (intended send ->
reply accepted by the simulator), duplicates and lost replies, and the CPU
of every role (and of PostgreSQL's backends for the bench database).

Exactly once is checked twice for every setup: at the simulator (each unique
text echoed once, to the right user, nothing foreign) and in the database after
the run (every stored inbound message is ``done`` with exactly one sent reply).

No process is pinned: the scale-out processes need every core.  The load
average and the busy share of each core are recorded, because on a shared
machine other work takes CPU from the processes measured.  Results: the
``scaleout`` section of ``bench/RESULTS.md`` (the other sections are kept) and
``bench/out/scaleout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
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
from sqlalchemy import text

from aman.storage.db import make_engine
from bench.measure import SimClient, ack_step, collect_replies, echo_summary
from bench.results import RESULTS, RunInfo, load_average, write_section
from bench.scenarios import BenchContext
from bench.servers import (
    HOST,
    BenchSecrets,
    Proc,
    ProcessGroup,
    free_port,
    niceness,
    wait_ready,
)
from bench.stats import machine_facts
from bench.workload import build_workload, users_for

__all__ = [
    "ScalePlan",
    "Setup",
    "database_check",
    "main",
    "render_section",
    "render_summary",
    "render_table",
    "run_scaleout",
    "setups",
]

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
    """Exactly once in the database (PostgreSQL or SQLite): every inbound message done
    with one sent reply."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:

            def counts(query: str) -> dict[Any, int]:
                return {row[0]: int(row[1]) for row in conn.execute(text(query)).all()}

            inbox = counts("SELECT status, count(*) FROM inbox GROUP BY status")
            outbox = counts(
                "SELECT state, count(*) FROM outbox WHERE kind = 'message' GROUP BY state"
            )
            replies_per_message = counts(
                "SELECT n, count(*) FROM (SELECT i.id, count(o.id) AS n FROM inbox i "
                "LEFT JOIN outbox o ON o.inbox_id = i.id AND o.kind = 'message' "
                "GROUP BY i.id) per GROUP BY n"
            )
    finally:
        engine.dispose()
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


# -- one setup ---------------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """PostgreSQL with ``workers`` worker processes, or SQLite with one ``--role all``."""

    database: str  # "postgresql" or "sqlite"
    workers: int = 1

    @property
    def key(self) -> str:
        return f"pg{self.workers}" if self.database == "postgresql" else "sqlite"

    @property
    def processes(self) -> str:
        if self.database == "sqlite":
            return "1 (`--role all`)"
        plural = "s" if self.workers != 1 else ""
        return f"{self.workers} worker{plural} + web + sender"


def setups(workers: Sequence[int], *, sqlite: bool) -> list[Setup]:
    """The run's setups in order: PostgreSQL per worker count, then SQLite single process."""
    return [Setup("postgresql", n) for n in workers] + ([Setup("sqlite")] if sqlite else [])


@contextmanager
def _database(setup: Setup, admin_url: str) -> Iterator[str]:
    if setup.database == "postgresql":
        with fresh_database(admin_url) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="aman-scaleout-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'aman.db'}"  # aman opens it in WAL mode


@dataclass
class _Stack:
    sim: Proc
    web: Proc  # receives the webhooks
    aman: dict[str, list[Proc]]  # role -> processes

    def roles(self) -> dict[str, list[Proc]]:
        return {**self.aman, "sim": [self.sim]}


async def _start_stack(ctx: BenchContext, setup: Setup, url: str) -> _Stack:
    port = free_port()
    group, s = ctx.group, ctx.secrets
    sim = group.start_simulator(f"{setup.key}-sim", s, webhook_port=port, pinned=False)
    await wait_ready(sim, "/_sim/health")
    graph = f"http://{HOST}:{sim.port}/v23.0"

    def aman(name: str, role: str, role_port: int = 0) -> Proc:
        return group.start_aman(
            f"{setup.key}-{name}",
            s,
            role=role,
            database_url=url,
            graph_url=graph,
            mark_read=False,
            port=role_port,
            pinned=False,
        )

    if setup.database == "sqlite":
        single = aman("all", "all", port)
        await wait_ready(single, "/healthz")
        return _Stack(sim, single, {"all": [single]})
    web = aman("web", "web", port)
    await wait_ready(web, "/healthz")  # migrates the new database before the others start
    sender = aman("sender", "sender")
    workers = [aman(f"worker{i}", "worker") for i in range(setup.workers)]
    for proc in (sender, *workers):
        await wait_ready(proc, "/healthz")
    return _Stack(sim, web, {"web": [web], "workers": workers, "sender": [sender]})


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
    pg_pids = _backend_pids(url) if url.startswith("postgresql") else []
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
    if pg_pids:
        summary["cpu_cores"]["postgres"] = round(
            (sum(_pid_cpu(pid) for pid in pg_pids) - pg0) / wall, 3
        )
    summary["load_avg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return summary


async def run_setup(
    ctx: BenchContext, setup: Setup, plan: ScalePlan, admin_url: str
) -> dict[str, Any]:
    """Every step of the plan for one setup, on a fresh database."""
    steps: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "database": setup.database,
        "workers": setup.workers,
        "processes": setup.processes,
        "load_start": load_average(),
    }
    with _database(setup, admin_url) as url:
        stack = await _start_stack(ctx, setup, url)
        try:
            async with SimClient(stack.sim.port) as sim_api:
                warm = await _step(
                    ctx,
                    stack,
                    sim_api,
                    url,
                    tag=f"w{setup.key}",
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
                        tag=f"s{setup.key}r{int(rate)}",
                        rate=rate,
                        seconds=seconds,
                        plan=plan,
                    )
                    summary["kind"] = kind
                    steps.append(summary)
                    log.info("%s %s %5.0f/s: %s", setup.key, kind, rate, _brief(summary))
                    await asyncio.sleep(1.0)
            result["alive_after"] = {p.name: p.alive() for ps in stack.roles().values() for p in ps}
            result["check"] = database_check(url)
        finally:
            for procs in stack.roles().values():
                for proc in procs:
                    ctx.group.stop(proc)
    result["steps"] = steps
    result["load_end"] = load_average()
    return result


async def run_scaleout(
    ctx: BenchContext,
    plan: ScalePlan,
    admin_url: str,
    runs: list[dict[str, Any]],
    *,
    sqlite: bool = True,
) -> None:
    """The plan for every setup in turn; each result is appended to ``runs`` as soon as
    it is complete, so a later failure keeps the earlier setups' figures."""
    for setup in setups(plan.workers, sqlite=sqlite):
        runs.append(await run_setup(ctx, setup, plan, admin_url))


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


def _setup_cells(run: dict[str, Any]) -> str:
    db = "PostgreSQL" if run["database"] == "postgresql" else "SQLite (WAL)"
    return f"{db} | {run['processes']}"


def _once(run: dict[str, Any], step: dict[str, Any]) -> str:
    db_ok = (run.get("check") or {}).get("exactly_once")
    return "yes" if step["exactly_once_at_simulator"] and db_ok else "NO"


def render_summary(runs: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per setup, its capacity (replies/s of the saturation step)."""
    lines = [
        "| database | aman processes | capacity: replies/s at saturation | offered/s "
        "| e2e p99 ms at each step | exactly once (simulator and database) |",
        "|---|---|---:|---:|---|---|",
    ]
    for run in runs:
        steps = run["steps"]
        sat = [s for s in steps if s["kind"] == "saturation"] or steps[-1:]
        p99 = ", ".join(
            f"{_ms(s['e2e_latency_ms']['p99'])} @ {s['offered_rate']:.0f}/s"
            for s in steps if s["kind"] == "step"
        )
        once = "yes" if steps and all(_once(run, s) == "yes" for s in steps) else "NO"
        cap = f"{sat[0]['reply_rate']:,}" if sat else "-"
        offered = f"{sat[0]['offered_rate']:,.0f}" if sat else "-"
        lines.append(f"| {_setup_cells(run)} | {cap} | {offered} | {p99 or '-'} | {once} |")
    return "\n".join(lines) + "\n"


def render_table(runs: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per (setup, step)."""
    lines = [
        "| database | aman processes | step | offered/s | messages | acked | replies "
        "| replies/s | e2e p50 ms | e2e p99 ms | ≤ 1 s | dup | lost | exactly once "
        "| CPU cores by role | waiting for CPU | load avg |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for run in runs:
        for s in run["steps"]:
            lat = s["e2e_latency_ms"]
            cpu = ", ".join(f"{role} {v}" for role, v in s["cpu_cores"].items() if role != "sim")
            lines.append(
                f"| {_setup_cells(run)} | {s['kind']} | {s['offered_rate']:.0f} "
                f"| {s['requests']} | {s['acked']} | {s['replies']} | {s['reply_rate']} "
                f"| {_ms(lat['p50'])} | {_ms(lat['p99'])} | {s['within_1s']:.1%} "
                f"| {s['duplicate_replies']} | {s['lost_replies'] + s['late_at_cutoff']} "
                f"| {_once(run, s)} | {cpu} | {s['runq_wait_cores']} | {s['load_avg']} |"
            )
    return "\n".join(lines) + "\n"


def render_section(data: dict[str, Any], info: RunInfo) -> str:
    """The ``scaleout`` section of bench/RESULTS.md."""
    plan, facts = data["plan"], data["machine"]
    rates = ", ".join(f"{r:g}" for r in plan["rates"])
    burst = (
        f", then saturation at {plan['burst_rate']:g}/s for {plan['burst_seconds']:g} s"
        if plan["burst_rate"] > 0
        else ""
    )
    nice = f"; niceness {data['nice']}" if data.get("nice") else ""
    counts = [str(n) for n in plan["workers"]]
    listed = ", ".join(counts[:-1]) + " and " + counts[-1] if len(counts) > 1 else "".join(counts)
    noun = "process" if counts == ["1"] else "processes"
    what = [f"PostgreSQL with {listed} worker {noun}"] if counts else []
    what += ["SQLite single process"] if data.get("sqlite") else []
    lines = [
        f"## Scale-out: {' vs '.join(what)}: `bench/scaleout.py`",
        "",
        *info.lines(),
        f"- Machine: {facts['nproc']} cores, {facts['cpu_model']}, Python {facts['python']}; "
        "no process pinned (the scale-out processes share every core with PostgreSQL, the "
        f"simulator and the load generator){nice}.",
        "- Setups, each on a fresh database: PostgreSQL with `aman serve --role web`, "
        "`--role sender` and N × `--role worker`; SQLite (WAL, synchronous=FULL, temporary "
        "directory) with one `aman serve --role all`. AMAN_BOT=echo, read receipts off, "
        "simulator with `--no-statuses --no-window`.",
        f"- Steps per setup: {plan['warmup_seconds']:g} s warm-up, open loop at {rates}/s for "
        f"{plan['duration']:g} s each{burst}. *Capacity* is the reply rate of the saturation "
        "step (offered above what the setup can answer). *Exactly once*: every unique text "
        "echoed once to its user at the simulator, and in the database every inbound message "
        "done with exactly one sent reply.",
        "",
    ]
    if data.get("errors"):
        lines += ["**Problems during the run:**", ""] + [f"- {e}" for e in data["errors"]] + [""]
    runs = data.get("runs") or []
    if runs:
        lines += [render_summary(runs), "Every step:", "", render_table(runs)]
    return "\n".join(lines).rstrip() + "\n"


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
        "--no-sqlite",
        action="store_true",
        help="skip the SQLite single-process setup (run by default after PostgreSQL)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("AMAN_BENCH_POSTGRES_URL", DEFAULT_PG),
        help="PostgreSQL server (a role allowed to CREATE DATABASE)",
    )
    parser.add_argument("--out", default=str(BENCH_DIR / "out"), help="JSON and logs")
    parser.add_argument(
        "--results",
        default=str(RESULTS),
        help="markdown file whose scaleout section is rewritten (others are kept)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the benchmark's processes and autogroup, as in "
        "bench.run (negative needs root)",
    )
    args = parser.parse_args(argv)
    plan = ScalePlan(
        workers=[int(x) for x in args.workers.split(",") if x.strip()],
        rates=_floats(args.rates),
        duration=args.duration,
        burst_rate=args.burst_rate,
        burst_seconds=args.burst_seconds,
    )
    if not plan.rates or any(n < 1 for n in plan.workers):
        parser.error("need at least one rate and worker counts >= 1")
    if not plan.workers and args.no_sqlite:
        parser.error("nothing to run: no worker counts and --no-sqlite")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    info = RunInfo.start("python -m bench.scaleout", argv)
    runs: list[dict[str, Any]] = []
    data: dict[str, Any] = {
        "command": info.command,
        "code": info.code,
        "plan": asdict(plan),
        "machine": machine_facts(),
        "nice": args.nice,
        "sqlite": not args.no_sqlite,
        "errors": [],
        "runs": runs,
    }
    code = 0
    with contextlib.ExitStack() as stack:
        try:
            # Children inherit this niceness; ProcessGroup adds none of its own.
            stack.enter_context(niceness(args.nice))
        except PermissionError:
            parser.error("a negative --nice needs root")
        group = stack.enter_context(ProcessGroup(out_dir / "logs", server_cpu=0, tool_cpu=1))
        ctx = BenchContext(out_dir, group, BenchSecrets.generate())
        try:
            uvloop.run(run_scaleout(ctx, plan, args.pg_url, runs, sqlite=not args.no_sqlite))
        except Exception as exc:
            log.exception("scale-out benchmark failed")
            data["errors"].append(f"{type(exc).__name__}: {exc}")
            code = 1
    info.finish()
    data["load_end"] = info.load_end
    (out_dir / "scaleout.json").write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    section = render_section(data, info)
    print(section)
    if runs:
        write_section(Path(args.results), "scaleout", section)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
