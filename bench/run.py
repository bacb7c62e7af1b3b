"""``python -m bench.run [--quick]``: the main benchmark in one run, in bench/RESULTS.md.

Order: ingest (bare, then aman web), echo (aman without and with read
receipts), the pywa peer at the same rates, and finally overload at twice
aman's measured sustained echo rate.  This process (the load generator) pins
itself to the tool core; every server it starts is pinned with ``taskset``.
Only the ``run`` section of bench/RESULTS.md is rewritten (``bench.results``);
the sections of scaleout, broadcast and soak are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import uvloop

from bench.report import render
from bench.results import RESULTS, RunInfo, write_section
from bench.scenarios import BenchContext, EchoPlan, run_echo, run_ingest, run_overload
from bench.servers import BenchSecrets, ProcessGroup, niceness
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
        "echo": EchoPlan(rates, 15.0, extend_step=500.0, max_extra_steps=3, refine=3,
                         stop_after_fails=2, stall_s=8.0, max_drain_s=30.0),
        "pywa": EchoPlan(rates, 15.0, refine=3, stop_after_fails=2, stall_s=8.0,
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


async def _run(args: argparse.Namespace, data: dict[str, Any]) -> None:
    plans = _plans(args.quick)
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with ProcessGroup(out_dir / "logs", server_cpu=args.server_cpu,
                      tool_cpu=args.tool_cpu) as group:
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


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short steps (about 3 minutes)")
    parser.add_argument("--only", default="", help=f"comma list of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", default=str(BENCH_DIR / "out"), help="raw JSON and logs")
    parser.add_argument("--results", default=str(RESULTS),
                        help="markdown file whose run section is rewritten (others are kept)")
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
    info = RunInfo.start("python -m bench.run", argv)
    signal.signal(signal.SIGTERM, _terminate)
    src_before = _src_files()
    data: dict[str, Any] = {
        "command": info.command,
        "mode": "quick" if args.quick else "full",
        "machine": machine_facts(),
        "code": info.code,
        "src_digest": _digest(src_before),
        "server_cpu": args.server_cpu,
        "tool_cpu": args.tool_cpu,
        "nice": args.nice,
        "errors": [],
    }
    code = 0
    with contextlib.ExitStack() as stack:
        try:
            # Only here: the servers inherit it (ProcessGroup adds no ``nice`` prefix).
            stack.enter_context(niceness(args.nice))
        except PermissionError:
            parser.error("a negative --nice needs root")
        try:
            uvloop.run(_run(args, data))
        except KeyboardInterrupt:
            data["errors"].append("interrupted")
            code = 130
        except Exception as exc:
            log.exception("benchmark failed")
            data["errors"].append(f"{type(exc).__name__}: {exc}")
            code = 1
    info.finish()
    data["elapsed_s"] = info.elapsed_s
    src_after = _src_files()
    changed = sorted(k for k in src_before.keys() | src_after.keys()
                     if src_before.get(k) != src_after.get(k))
    if changed:
        more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        shown = ", ".join(changed[:8]) + more
        data["errors"].append(f"src/ changed while the benchmark ran ({shown}): later steps may "
                              "run newer code")
    data["load_end"] = info.load_end
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.keep_db:
        shutil.rmtree(out_dir / "db", ignore_errors=True)
    import orjson

    (out_dir / "run.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    if code == 0:
        write_section(Path(args.results), "run", render(data))
        log.info("wrote the run section of %s (%.0f s)", args.results, data["elapsed_s"])
    return code


if __name__ == "__main__":
    raise SystemExit(main())
