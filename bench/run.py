"""``python -m bench.run [--quick]``: the whole benchmark in one run, summary in bench/RESULTS.md.

Order: ingest (bare, then aman web), echo (aman without and with read
receipts), the pywa peer at the same rates, and finally overload at twice
aman's measured sustained echo rate.  This process (the load generator) pins
itself to the tool core; every server it starts is pinned with ``taskset``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.report import render
from bench.scenarios import BenchContext, EchoPlan, run_echo, run_ingest, run_overload
from bench.servers import BenchSecrets, ProcessGroup
from bench.stats import machine_facts

log = logging.getLogger("bench")
BENCH_DIR = Path(__file__).resolve().parent
SCENARIOS = ("ingest", "echo", "pywa", "overload")


def _plans(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "ingest": ([1000.0, 4000.0, 8000.0], 3.0),
            "echo": EchoPlan([200.0, 1000.0, 2000.0], 4.0, stall_s=4.0, max_drain_s=15.0),
            "pywa": EchoPlan([200.0, 400.0, 1000.0], 4.0, stall_s=3.0, max_drain_s=8.0,
                             ack_grace_s=8.0),
            "overload": (6.0, 60.0),
        }
    rates = [100.0, 200.0, 500.0, 1000.0, 1500.0, 2000.0]
    return {
        "ingest": ([1000.0, 2000.0, 4000.0, 6000.0, 8000.0], 10.0),
        "echo": EchoPlan(rates, 15.0, extend_step=500.0, max_extra_steps=3, refine=True,
                         stop_after_fails=2, stall_s=8.0, max_drain_s=30.0),
        "pywa": EchoPlan(rates, 15.0, refine=True, stop_after_fails=2, stall_s=8.0,
                         max_drain_s=20.0),
        "overload": (20.0, 180.0),
    }


def _src_files() -> dict[str, str]:
    """SHA-256 of every file under src/: shows whether the code changed mid-run."""
    import hashlib

    src = BENCH_DIR.parent / "src"
    return {
        str(path.relative_to(src)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(src.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _digest(files: dict[str, str]) -> str:
    import hashlib

    text = "".join(f"{name}\0{sha}\n" for name, sha in files.items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _code_version() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=BENCH_DIR.parent, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, cwd=BENCH_DIR.parent, timeout=10,
                               check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    sha = head.stdout.strip() or "unknown"
    return f"git {sha}" + (" + uncommitted changes in src/" if dirty.stdout.strip() else "")


async def _run(args: argparse.Namespace, data: dict[str, Any]) -> None:
    plans = _plans(args.quick)
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with ProcessGroup(out_dir / "logs", server_cpu=args.server_cpu, tool_cpu=args.tool_cpu,
                      nice=args.nice) as group:
        ctx = BenchContext(out_dir, group, BenchSecrets.generate(),
                           max_connections=args.max_connections)
        only = set(args.only.split(",")) if args.only else set(SCENARIOS)
        if "ingest" in only:
            rates, duration = plans["ingest"]
            data["ingest_bare"] = await run_ingest(ctx, "bare", rates, duration)
            data["ingest_aman"] = await run_ingest(ctx, "aman", rates, duration)
        if "echo" in only or "overload" in only:
            data["echo_aman_noread"] = await run_echo(ctx, "aman", plans["echo"], mark_read=False)
        if "echo" in only:
            data["echo_aman_read"] = await run_echo(ctx, "aman", plans["echo"], mark_read=True)
        if "pywa" in only:
            data["echo_pywa_noread"] = await run_echo(ctx, "pywa", plans["pywa"],
                                                      mark_read=False)
        if "overload" in only:
            best = data["echo_aman_noread"]["max_sustained_rate"] or plans["echo"].rates[0]
            duration, drain = plans["overload"]
            data["overload"] = await run_overload(ctx, 2 * best, duration, mark_read=False,
                                                  max_drain_s=drain, based_on=best)


_AUTOGROUP = Path("/proc/self/autogroup")


def _autogroup_nice(nice: int) -> int | None:
    """With autogroup scheduling, per-process nice only counts inside a session, so the
    session's group (this benchmark's processes) gets the niceness too.  Returns the
    group's previous niceness (to restore), None when autogroups are off."""
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if not (enabled.exists() and enabled.read_text().strip() == "1" and _AUTOGROUP.exists()):
        return None
    before = int(_AUTOGROUP.read_text().split()[-1])
    _AUTOGROUP.write_text(f"{nice}\n")
    return before


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short steps (about 3 minutes)")
    parser.add_argument("--only", default="", help=f"comma list of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", default=str(BENCH_DIR / "out"), help="raw JSON and logs")
    parser.add_argument("--results", default=str(BENCH_DIR / "RESULTS.md"),
                        help="markdown summary to (over)write")
    parser.add_argument("--server-cpu", type=int, default=0, help="core of the server under test")
    parser.add_argument("--tool-cpu", type=int, default=1, help="core of generator + simulator")
    parser.add_argument("--max-connections", type=int, default=256,
                        help="generator keep-alive pool size (like Meta's concurrent deliveries)")
    parser.add_argument("--keep-db", action="store_true",
                        help="keep the SQLite files of the run in <out>/db (hundreds of MB)")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness for every benchmark process (negative needs root): "
                        "shields the measurement from other work on a shared machine")
    args = parser.parse_args(argv)
    unknown = set(filter(None, args.only.split(","))) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    cores = os.cpu_count() or 1
    if cores < 2 or max(args.server_cpu, args.tool_cpu) >= cores:
        parser.error(f"needs two cores to pin server and generator apart; this machine has {cores}")
    os.sched_setaffinity(0, {args.tool_cpu})
    group_nice_before = None
    if args.nice:
        try:
            os.nice(args.nice)
            group_nice_before = _autogroup_nice(args.nice)
        except PermissionError:
            parser.error("a negative --nice needs root")
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    src_before = _src_files()
    data: dict[str, Any] = {
        "command": "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else argv),
        "mode": "quick" if args.quick else "full",
        "machine": machine_facts(),
        "code": _code_version(),
        "src_digest": _digest(src_before),
        "server_cpu": args.server_cpu,
        "tool_cpu": args.tool_cpu,
        "nice": args.nice,
        "errors": [],
    }
    code = 0
    try:
        uvloop.run(_run(args, data))
    except KeyboardInterrupt:
        data["errors"].append("interrupted")
        code = 130
    except Exception as exc:
        log.exception("benchmark failed")
        data["errors"].append(f"{type(exc).__name__}: {exc}")
        code = 1
    finally:
        if group_nice_before is not None:
            _AUTOGROUP.write_text(f"{group_nice_before}\n")
    data["elapsed_s"] = time.monotonic() - started
    src_after = _src_files()
    changed = sorted(k for k in src_before.keys() | src_after.keys()
                     if src_before.get(k) != src_after.get(k))
    if changed:
        more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        shown = ", ".join(changed[:8]) + more
        data["errors"].append(f"src/ changed while the benchmark ran ({shown}): later steps may "
                              "run newer code")
    data["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.keep_db:
        shutil.rmtree(out_dir / "db", ignore_errors=True)
    import orjson

    (out_dir / "run.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    if code == 0:
        Path(args.results).write_text(render(data))
        log.info("wrote %s (%.0f s)", args.results, data["elapsed_s"])
    return code


if __name__ == "__main__":
    raise SystemExit(main())
