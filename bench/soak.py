"""Soak test: ``aman serve`` (echo bot) + the Cloud API simulator under steady open-loop load.

Run: ``.venv/bin/python -m bench.soak [--minutes 30] [--rate 200] [--database-url URL]``
(``--minutes 1`` is a quick check; a PostgreSQL URL should name an empty database).
Not part of CI.

Both run as subprocesses on 127.0.0.1 with throw-away secrets.  Signed
webhooks, one text message each, are offered at ``--rate`` per second on a
fixed schedule (open loop: a late answer never delays the next request; every
latency is measured from the request's intended send time).  A 503 is retried
after 0.5/1/2/4/8 s like Meta redelivers.  Every 10 s the script samples
aman's RSS, open file descriptors and CPU, and the p50/p99 of the echo latency
(intended send -> reply accepted by the simulator) and of the webhook ack.
After the load it keeps sampling an idle aman for ``--cooldown`` seconds.
Results: the ``soak`` section of ``bench/RESULTS.md`` (the other sections are
kept) with the chart ``bench/soak.svg`` (RSS and echo latency p50/p99 over
time, committed with it), the raw samples in ``bench/out/soak.json``, and a
printed summary.  Memory and fd growth are fitted to the samples under load
after a warm-up (slopes need 5 minutes of data) so a leak shows as a slope,
not as start-up allocation nor as memory given back once the load stops.
The load average is recorded: on a shared machine every figure is pessimistic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from aman.analytics.svg import nice_ticks
from aman.security.crypto import generate_master_key
from aman.simulator.control import DROPPED_HEADER
from aman.webhook.signature import sign
from bench.results import RESULTS, RunInfo, write_section

__all__ = ["main", "render_section", "render_svg", "summarise"]

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out"
PNID = "106540352242922"
DISPLAY = "6281100000001"
WABA = "102290129340398"
SAMPLE_SECONDS = 10.0
PROG = "python -m bench.soak"
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class SoakError(Exception):
    """A process under test did not start or died during the soak."""


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """The two subprocesses and what the load needs to know about them."""

    aman: subprocess.Popen[bytes]
    sim: subprocess.Popen[bytes]
    aman_url: str
    sim_url: str
    app_secret: bytes = field(repr=False)


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


async def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SoakError(f"{what} exited with code {proc.returncode} (see its log)")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with s.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise SoakError(f"{what} not ready after {timeout:.0f} s")


async def start_stack(args: argparse.Namespace, data_dir: Path) -> Stack:
    app_secret = secrets.token_hex(32)
    token = "soak-" + secrets.token_urlsafe(24)
    aman_port, sim_port = free_port(), free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AMAN_")}
    sim_env = base_env | {"AMAN_SIM_APP_SECRET": app_secret, "AMAN_SIM_ACCESS_TOKEN": token}
    sim_cmd = [
        sys.executable,
        *(
            f"-m aman.simulator --host {HOST} --port {sim_port} --webhook-url "
            f"http://{HOST}:{aman_port}/webhook --no-window --phone-number-id {PNID} "
            f"--display-phone-number {DISPLAY}"
        ).split(),
    ]
    if args.no_statuses:
        sim_cmd.append("--no-statuses")
    sim = _spawn(sim_cmd, sim_env, OUT / "soak-simulator.log")
    sim_url = f"http://{HOST}:{sim_port}"
    aman_env = base_env | {
        "AMAN_DATABASE_URL": args.database_url or f"sqlite:///{data_dir / 'aman.db'}",
        "AMAN_APP_SECRET": app_secret,
        "AMAN_VERIFY_TOKEN": secrets.token_urlsafe(16),
        "AMAN_ACCESS_TOKEN": token,
        "AMAN_PHONE_NUMBER_ID": PNID,
        "AMAN_GRAPH_API_URL": f"{sim_url}/v23.0",
        "AMAN_BOT": "echo",
        "AMAN_MASTER_KEY": generate_master_key(),
        "AMAN_SEND_RATE": str(args.send_rate),
        "AMAN_MARK_READ": "false" if args.no_read_receipts else "true",
    }
    aman = _spawn(
        [sys.executable, "-m", "aman.cli", "serve", "--host", HOST, "--port", str(aman_port)],
        aman_env,
        OUT / "soak-aman.log",
    )
    stack = Stack(aman, sim, f"http://{HOST}:{aman_port}", sim_url, app_secret.encode())
    try:
        await _wait_http(f"{sim_url}/_sim/health", sim, "simulator", 30)
        await _wait_http(f"{stack.aman_url}/healthz", aman, "aman serve", 60)
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    for proc in (stack.aman, stack.sim):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in (stack.aman, stack.sim):
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ------------------------------------------------------------------- /proc


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise SoakError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


# ---------------------------------------------------------------- load + echo


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Counters:
    offered: int = 0
    acked: int = 0
    retried: int = 0
    failed: int = 0
    echoed: int = 0
    sim_dropped: int = 0  # sends the simulator dropped (past --max-messages) before we read them
    window_echo_ms: list[float] = field(default_factory=list)
    window_ack_ms: list[float] = field(default_factory=list)
    all_echo_ms: list[float] = field(default_factory=list)
    all_ack_ms: list[float] = field(default_factory=list)


class Load:
    """Open-loop webhook generator plus the collector that matches echoes to requests."""

    def __init__(self, stack: Stack, rate: float, customers: int) -> None:
        self.stack = stack
        self.rate = rate
        self.customers = customers
        self.c = Counters()
        self.run_id = secrets.token_hex(4)
        self.wall0 = 0.0
        # "load" while requests are offered, then "drain" (late echoes), then "idle".
        self.phase = "load"
        self._pending: set[asyncio.Task[None]] = set()
        self._seen: set[int] = set()  # the simulator may accept a redelivered reply twice

    def body(self, i: int) -> bytes:
        """One signed-to-be webhook: a text from one of ``customers`` senders."""
        wa_id = f"62812{i % self.customers:08d}"
        msg = {"from": wa_id, "id": f"wamid.soak.{self.run_id}.{i}", "type": "text",
               "timestamp": str(int(time.time())), "text": {"body": f"soak {self.run_id} {i}"}}
        value = {"messaging_product": "whatsapp", "messages": [msg],
                 "metadata": {"display_phone_number": DISPLAY, "phone_number_id": PNID},
                 "contacts": [{"profile": {"name": "Soak"}, "wa_id": wa_id}]}
        entry = {"id": WABA, "changes": [{"field": "messages", "value": value}]}
        return orjson.dumps({"object": "whatsapp_business_account", "entry": [entry]})

    async def _post(self, session: aiohttp.ClientSession, i: int, intended: float) -> None:
        raw = self.body(i)
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": sign(self.stack.app_secret, raw),
        }
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                await asyncio.sleep(delay)
                self.c.retried += 1
            try:
                async with session.post(
                    f"{self.stack.aman_url}/webhook", data=raw, headers=headers
                ) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, OSError, TimeoutError):
                status = 0
            if status == 200:
                ms = (time.time() - intended) * 1000.0
                self.c.acked += 1
                self.c.window_ack_ms.append(ms)
                self.c.all_ack_ms.append(ms)
                return
            if status not in (0, 503) or attempt == len(RETRY_DELAYS):
                self.c.failed += 1
                return

    async def offer(self, seconds: float, stop: asyncio.Event) -> None:
        connector = aiohttp.TCPConnector(limit=512)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            t0 = time.perf_counter()
            self.wall0 = time.time()
            total = int(seconds * self.rate)
            for i in range(total):
                if stop.is_set():
                    break
                due = t0 + i / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self._post(session, i, self.wall0 + i / self.rate))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
                self.c.offered += 1
            if self._pending:
                await asyncio.wait(set(self._pending))

    async def collect(self, stop: asyncio.Event) -> None:
        """Poll the simulator's record of accepted sends and time each echo."""
        since = 0
        prefix = f"soak {self.run_id} "
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    url = f"{self.stack.sim_url}/_sim/messages?since={since}"
                    async with session.get(url) as r:
                        sent = orjson.loads(await r.read())
                        self.c.sim_dropped += int(r.headers.get(DROPPED_HEADER, "0"))
                    for m in sent:
                        since = max(since, int(m["index"]) + 1)
                        text = (m.get("body") or {}).get("text", {}).get("body", "")
                        if not text.startswith(prefix):
                            continue
                        i = int(text[len(prefix) :])
                        if i in self._seen:
                            continue
                        self._seen.add(i)
                        ms = (float(m["received_at"]) - (self.wall0 + i / self.rate)) * 1000.0
                        self.c.echoed += 1
                        self.c.window_echo_ms.append(ms)
                        self.c.all_echo_ms.append(ms)
                await asyncio.sleep(0.25)

    def backlog(self) -> int:
        return self.c.acked - self.c.echoed


# -------------------------------------------------------------------- sampling


async def sample(stack: Stack, load: Load, stop: asyncio.Event, out: list[dict[str, Any]]) -> None:
    pid = stack.aman.pid
    start = time.monotonic()
    cpu_before, t_before = cpu_seconds(pid), start
    # The simulator and this generator share the machine: is the rig itself the limit?
    sim_before, gen_before = cpu_seconds(stack.sim.pid), time.process_time()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
        if stack.aman.poll() is not None:
            raise SoakError(f"aman serve died with code {stack.aman.returncode}")
        now = time.monotonic()
        cpu_now, sim_now = cpu_seconds(pid), cpu_seconds(stack.sim.pid)
        gen_now = time.process_time()
        span = max(now - t_before, 1e-9)
        c = load.c
        out.append(
            {
                "t_s": round(now - start, 1),
                "phase": load.phase,
                "rss_mib": round(rss_mib(pid), 1),
                "open_fds": open_fds(pid),
                "cpu_pct": round(100.0 * (cpu_now - cpu_before) / span, 1),
                "sim_cpu_pct": round(100.0 * (sim_now - sim_before) / span, 1),
                "generator_cpu_pct": round(100.0 * (gen_now - gen_before) / span, 1),
                "offered": c.offered,
                "acked": c.acked,
                "echoed": c.echoed,
                "backlog": load.backlog(),
                "retried": c.retried,
                "failed": c.failed,
                "echo_p50_ms": _round(percentile(sorted(c.window_echo_ms), 50)),
                "echo_p99_ms": _round(percentile(sorted(c.window_echo_ms), 99)),
                "ack_p50_ms": _round(percentile(sorted(c.window_ack_ms), 50)),
                "ack_p99_ms": _round(percentile(sorted(c.window_ack_ms), 99)),
                "echoes_in_window": len(c.window_echo_ms),
            }
        )
        c.window_echo_ms, c.window_ack_ms = [], []
        cpu_before, sim_before, gen_before, t_before = cpu_now, sim_now, gen_now, now
        s = out[-1]
        print(
            f"  {s['t_s']:7.0f}s  rss {s['rss_mib']:7.1f} MiB  fds {s['open_fds']:4d}  "
            f"cpu {s['cpu_pct']:5.1f}% (sim {s['sim_cpu_pct']:.0f}%, gen "
            f"{s['generator_cpu_pct']:.0f}%)  echo p50/p99 {s['echo_p50_ms']}/"
            f"{s['echo_p99_ms']} ms  backlog {s['backlog']}",
            flush=True,
        )


# --------------------------------------------------------------------- results


def _slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, in value per hour."""
    if len(points) < 3 or len({t for t, _ in points}) < 2:
        return None
    return 3600.0 * statistics.linear_regression(*zip(*points, strict=True)).slope


def _latency(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    out = {q: _round(percentile(ordered, float(q[1:]))) for q in ("p50", "p90", "p99")}
    return out | {"max": _round(ordered[-1] if ordered else None)}


def _trend(samples: list[dict[str, Any]], key: str, warm_from: float) -> dict[str, Any]:
    """First/last/max of a sampled figure and its slope per hour after the warm-up.

    The slope is fitted to the samples taken under load only: memory that comes back
    down once the load stops (drain, idle) would otherwise pull it below the leak rate.
    It needs at least five minutes after the warm-up; shorter runs report None (a
    minute of data says nothing about an hour).
    """
    values = [float(s[key]) for s in samples]
    warm = [
        (s["t_s"], float(s[key]))
        for s in samples
        if s["t_s"] >= warm_from and s.get("phase", "load") == "load"
    ]
    long_enough = len(warm) >= 3 and warm[-1][0] - warm[0][0] >= 300.0
    return {
        "first": values[0] if values else None,
        "last": values[-1] if values else None,
        "max": max(values) if values else None,
        "growth_per_hour_after_warmup": _round(_slope_per_hour(warm)) if long_enough else None,
    }


def summarise(samples: list[dict[str, Any]], load: Load, seconds: float) -> dict[str, Any]:
    c = load.c
    warm_from = min(120.0, seconds / 4)
    return {
        "offered": c.offered,
        "acked": c.acked,
        "failed": c.failed,
        "retried_503": c.retried,
        "echoed": c.echoed,
        "lost": c.acked - c.echoed,
        # Echoes the simulator dropped unread are in "lost" too: non-zero means raise
        # --max-messages, not that aman lost them.
        "sim_dropped": c.sim_dropped,
        "offered_rate": round(c.offered / seconds, 1),
        "echo_ms": _latency(c.all_echo_ms),
        "ack_ms": _latency(c.all_ack_ms),
        "warmup_s": warm_from,
        "rss_mib": _trend(samples, "rss_mib", warm_from),
        "open_fds": _trend(samples, "open_fds", warm_from),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _text(x: float, y: float, text: str, *, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="tick" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {style}/>'


def _panel(
    y0: float,
    title: str,
    unit: str,
    series: list[tuple[str, str, list[tuple[float, float]]]],
    t_max: float,
) -> list[str]:
    """One line chart (time on x) at vertical offset ``y0``; series = (label, colour, points)."""
    left, width, height = 70.0, 800.0, 230.0
    values = [v for _, _, pts in series for _, v in pts]
    ticks = nice_ticks(max(values, default=0.0))
    v_max = ticks[-1]
    t_max = max(t_max, 1.0)
    parts = [
        f'<text x="{left}" y="{y0 - 10}" class="title">{escape(title)}</text>',
        f'<rect x="{left}" y="{y0}" width="{width}" height="{height}" class="frame"/>',
    ]
    for tick in ticks:
        y = y0 + height - height * tick / v_max
        parts.append(_line(left, y, left + width, y, 'class="grid"'))
        parts.append(_text(left - 6, y + 4, f"{tick:g}", anchor="end"))
    step = max(1.0, math.ceil(t_max / 60.0 / 10.0))
    minute = 0.0
    while minute * 60.0 <= t_max:
        x = left + width * (minute * 60.0) / t_max
        parts.append(_text(x, y0 + height + 16, f"{minute:g}", anchor="middle"))
        minute += step
    parts.append(_text(left + width / 2, y0 + height + 32, "minutes", anchor="middle"))
    mid = y0 + height / 2
    parts.append(_text(16, mid, unit, anchor="middle", extra=f' transform="rotate(-90 16 {mid})"'))
    for n, (label, colour, pts) in enumerate(series):
        stroke = f'stroke="{colour}" stroke-width="2"'
        if pts:
            coords = " ".join(
                f"{left + width * t / t_max:.1f},{y0 + height - height * v / v_max:.1f}"
                for t, v in pts
            )
            parts.append(f'<polyline points="{coords}" fill="none" {stroke}/>')
        lx, ly = left + width - 150, y0 + 16 + 16 * n
        parts.append(_line(lx, ly - 4, lx + 20, ly - 4, stroke))
        parts.append(_text(lx + 26, ly, label))
    return parts


def render_svg(samples: list[dict[str, Any]], caption: str) -> str:
    """Two line charts: aman's RSS, and the echo latency p50/p99, over time."""
    t_max = max((s["t_s"] for s in samples), default=1.0)

    def pts(key: str) -> list[tuple[float, float]]:
        return [(s["t_s"], float(s[key])) for s in samples if s.get(key) is not None]

    body = [
        *_panel(
            50,
            "aman serve: resident memory (RSS)",
            "MiB",
            [("RSS", "#1f77b4", pts("rss_mib"))],
            t_max,
        ),
        *_panel(
            360,
            "echo latency (intended send -> reply at the Cloud API)",
            "ms",
            [("p50", "#2ca02c", pts("echo_p50_ms")), ("p99", "#d62728", pts("echo_p99_ms"))],
            t_max,
        ),
    ]
    return "\n".join(
        [
            '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="660" '
            'viewBox="0 0 900 660">',
            "<style>.title{font:bold 14px sans-serif}.tick{font:11px sans-serif;fill:#333}"
            ".frame{fill:none;stroke:#333}.grid{stroke:#ddd}</style>",
            '<rect width="900" height="660" fill="white"/>',
            _text(450, 20, caption, anchor="middle"),
            *body,
            "</svg>",
        ]
    )


# ------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="load duration (default 30)")
    p.add_argument("--rate", type=float, default=200.0, help="messages offered per second")
    p.add_argument("--database-url", default="", help="e.g. postgresql://user@host:5432/db")
    p.add_argument("--customers", type=int, default=3000, help="distinct senders (>= 6 x rate)")
    p.add_argument("--send-rate", type=float, default=1000.0, help="AMAN_SEND_RATE for aman")
    p.add_argument("--no-statuses", action="store_true", help="simulator sends no status webhooks")
    p.add_argument("--no-read-receipts", action="store_true", help="AMAN_MARK_READ=false")
    p.add_argument("--drain-seconds", type=float, default=60.0, help="max wait for late echoes")
    p.add_argument("--cooldown", type=float, default=25.0, help="idle sampling after the load")
    p.add_argument(
        "--results",
        default=str(RESULTS),
        help="markdown file whose soak section is rewritten (others are kept)",
    )
    p.add_argument("--svg", default=str(BENCH_DIR / "soak.svg"), help="the chart to write")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.customers < 1:
        p.error("--minutes, --rate and --customers must be positive")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    seconds = args.minutes * 60.0
    with tempfile.TemporaryDirectory(prefix="aman-soak-") as tmp:
        stack = await start_stack(args, Path(tmp))
        samples: list[dict[str, Any]] = []
        try:
            load = Load(stack, args.rate, args.customers)
            stop_load, stop_all = asyncio.Event(), asyncio.Event()
            collector = asyncio.create_task(load.collect(stop_all))
            sampler = asyncio.create_task(sample(stack, load, stop_all, samples))
            print(
                f"soak: {args.rate:g} msg/s for {args.minutes:g} min against {stack.aman_url} "
                f"(aman pid {stack.aman.pid})",
                flush=True,
            )
            offer = asyncio.create_task(load.offer(seconds, stop_load))
            await asyncio.wait({offer, sampler}, return_when=asyncio.FIRST_COMPLETED)
            if sampler.done():
                stop_load.set()
                sampler.result()  # raises SoakError when aman died
            await offer
            load.phase = "drain"
            deadline = time.monotonic() + args.drain_seconds
            while load.backlog() and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            load.phase = "idle"
            await asyncio.sleep(args.cooldown)  # idle: does memory come back down?
            stop_all.set()
            await asyncio.gather(collector, sampler)
        finally:
            stop_stack(stack)
    return {
        "config": {
            k: v for k, v in vars(args).items() if k not in {"database_url", "results", "svg"}
        }
        | {
            "database": "postgresql" if args.database_url else "sqlite",
            "sample_seconds": SAMPLE_SECONDS,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "summary": summarise(samples, load, seconds),
        "samples": samples,
    }


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def render_section(result: dict[str, Any], info: RunInfo, svg_link: str) -> str:
    """The ``soak`` section of bench/RESULTS.md, with the chart at ``svg_link``."""
    s, cfg = result["summary"], result["config"]
    e, k, r, f = s["echo_ms"], s["ack_ms"], s["rss_mib"], s["open_fds"]

    def growth(trend: dict[str, Any], unit: str) -> str:
        slope = trend["growth_per_hour_after_warmup"]
        return "– (needs 5 min after warm-up)" if slope is None else f"{slope:+g} {unit}/h"

    lines = [
        f"## Soak: {cfg['rate']:g} messages/s for {cfg['minutes']:g} minutes: `bench/soak.py`",
        "",
        *info.lines(),
        f"- One `aman serve` (role all, echo bot, {cfg['database']}, read receipts "
        f"{'off' if cfg['no_read_receipts'] else 'on'}, AMAN_SEND_RATE={cfg['send_rate']:g}) "
        f"and the Cloud API simulator (status webhooks {'off' if cfg['no_statuses'] else 'on'}); "
        f"open-loop signed webhooks from {cfg['customers']:,} senders, latency from each "
        "request's intended send time; 503s retried after 0.5/1/2/4/8 s like Meta.",
        f"- Sampled every {cfg['sample_seconds']:g} s: aman's RSS and open fds, and the p50/p99 "
        f"of the echoes that arrived in that window; {cfg['cooldown']:g} s of idle sampling "
        f"after the load; growth fitted to the samples under load after a {s['warmup_s']:g} s "
        "warm-up.",
        "",
        f"![aman RSS and echo latency p50/p99 over the soak]({svg_link})",
        "",
        "| figure | result |",
        "|---|---|",
        f"| messages | {s['offered']:,} offered ({s['offered_rate']}/s), {s['acked']:,} acked, "
        f"{s['echoed']:,} echoed, {s['lost']:,} lost, {s['failed']:,} failed, "
        f"{s['retried_503']:,} 503 retries |",
        f"| echo latency ms p50 / p90 / p99 / max | {e['p50']} / {e['p90']} / {e['p99']} / "
        f"{e['max']} |",
        f"| webhook ack ms p50 / p90 / p99 / max | {k['p50']} / {k['p90']} / {k['p99']} / "
        f"{k['max']} |",
        f"| aman RSS MiB first / last / max; growth after warm-up | {r['first']} / {r['last']} "
        f"/ {r['max']}; {growth(r, 'MiB')} |",
        f"| aman open fds first / last / max; growth after warm-up | {f['first']} / "
        f"{f['last']} / {f['max']}; {growth(f, 'fds')} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = RunInfo.start(PROG, argv)
    try:
        result = asyncio.run(run(args))
    except SoakError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 1
    info.finish()
    result["run"] = {"command": info.command, "code": info.code, "date_utc": info.date_utc,
                     "load_start": info.load_start, "load_end": info.load_end}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    s = result["summary"]
    caption = (
        f"aman echo soak: {args.rate:g} msg/s, {args.minutes:g} min, "
        f"{result['config']['database']}, {os.cpu_count()} CPUs; {info.date_utc}, {info.code}"
    )
    svg, results = Path(args.svg), Path(args.results)
    svg.parent.mkdir(parents=True, exist_ok=True)
    svg.write_text(render_svg(result["samples"], caption), encoding="utf-8")
    write_section(results, "soak", render_section(result, info, _relative(svg, results.parent)))
    e, k, r, f = s["echo_ms"], s["ack_ms"], s["rss_mib"], s["open_fds"]
    lines = [
        f"offered {s['offered']} ({s['offered_rate']}/s), acked {s['acked']}, 503-retries "
        f"{s['retried_503']}, failed {s['failed']}, echoed {s['echoed']}, lost {s['lost']}",
        f"echo latency ms  p50 {e['p50']}  p90 {e['p90']}  p99 {e['p99']}  max {e['max']}",
        f"ack latency ms   p50 {k['p50']}  p90 {k['p90']}  p99 {k['p99']}  max {k['max']}",
        f"aman RSS MiB     first {r['first']}  last {r['last']}  max {r['max']}  "
        f"growth after warm-up {r['growth_per_hour_after_warmup']} MiB/h",
        f"aman open fds    first {f['first']}  last {f['last']}  max {f['max']}  "
        f"growth after warm-up {f['growth_per_hour_after_warmup']} /h",
        f"load average at start / end {info.load_start} / {info.load_end} "
        f"on {os.cpu_count()} CPUs",
        f"wrote {OUT / 'soak.json'}, {svg} and the soak section of {results}",
    ]
    print("\nsummary\n  " + "\n  ".join(lines))
    return 0 if s["failed"] == 0 and s["lost"] == 0 else 2


if __name__ == "__main__":
    raise SystemExit(main())
