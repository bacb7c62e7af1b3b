"""Broadcast benchmark: 100,000 recipients through ``aman serve`` to the Cloud API simulator.

What it shows (in the ``broadcast`` section of bench/RESULTS.md; the other sections are kept):

- pacing: no one-second window of the simulator's receive times holds more than
  AMAN_SEND_RATE messages, and the average rate is within 2 % of it;
- flat memory: peak and sampled RSS of ``aman serve`` and of the campaign scheduler;
- crash safety: ``aman serve`` and the scheduler are SIGKILLed in the middle and
  restarted on the same database; afterwards every recipient got the message
  exactly once (no duplicate, none skipped), checked by outbox ref.

Processes: ``python -m aman.simulator`` (statuses on: they carry the outbox ref
and settle sends that were in flight at the kill), ``aman serve`` (sender) and
``aman campaigns scheduler`` (materialises the broadcast a bounded lead ahead).
Set-up (contacts import, template, segment, campaign) runs in this process.

    python -m bench.broadcast_bench                      # 100,000 at 500/s, SQLite
    python -m bench.broadcast_bench --recipients 5000 --rate 250   # a quick look

Niceness: only the ``nice -n`` prefix of each child (this process is not reniced),
so every process gets ``--nice`` once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from bisect import bisect_left
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as ``python bench/broadcast_bench.py``
    sys.path.insert(0, str(ROOT))

from bench.results import RESULTS, RunInfo, write_section  # noqa: E402

PNID = "106540352242922"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str, timeout: float = 60.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a live process in KiB."""
    out = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in out:
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out["VmRSS"], out["VmHWM"]


def setup(db_url: str, master: str, n: int, work: Path) -> tuple[int, float]:
    """Contacts, template, segment and a started campaign; returns (campaign id, import s)."""
    from aman.audit.service import AuditService
    from aman.campaigns import (
        CampaignContext,
        CampaignService,
        ContactImporter,
        SegmentService,
        SettingsService,
        TemplateRegistry,
    )
    from aman.security.crypto import load_master_key
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade
    from aman.storage.vault import Vault

    key = load_master_key(master)
    engine = make_engine(db_url)
    upgrade(engine)
    ctx = CampaignContext(engine, Vault.open_or_create(engine, "default", key), AuditService(key))
    csv_path = work / "contacts.csv"
    with csv_path.open("w") as fh:
        fh.write("phone,name,tags,consent\n")
        for i in range(n):
            fh.write(f"+62 81{i:09d},Pelanggan {i},bench,ya\n")
    t0 = time.monotonic()
    report = ContactImporter(ctx, batch=2000).import_file("bench", csv_path)
    import_s = time.monotonic() - t0
    if report.created != n or report.rejected:
        raise RuntimeError(f"import: {report.created} created, {len(report.rejected)} rejected")
    SettingsService(ctx).update("bench", quiet_hours="off", tier_limit=None, frequency_cap_hours=0)
    TemplateRegistry(ctx).register(
        "bench",
        name="promo_bulanan",
        language="id",
        category="marketing",
        status="APPROVED",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Promo {{1}}"},
            {"type": "BODY", "text": "Halo {{1}}, ada promo untuk Anda."},
        ],
    )
    seg = SegmentService(ctx).create("bench", "bench", {"tag": "bench"})
    svc = CampaignService(ctx)
    cid = svc.create(
        "bench",
        name="bench",
        segment_id=seg.id,
        phone_number_id=PNID,
        template=("promo_bulanan", "id"),
        variables={"header": ["Januari"], "body": ["{first_name|Kak}"]},
    )
    svc.start("bench", cid)
    engine.dispose()
    return cid, import_s


def outbox_states(db_path: Path) -> dict[str, int]:
    """Outbox rows by state, through a read-only WAL reader (aman's engine would take the
    write lock for it, and wait behind the processes measured)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("select state, count(*) from outbox group by state").fetchall()
        return {r[0]: int(r[1]) for r in rows}
    finally:
        conn.close()


def backlog(db_path: Path) -> int:
    """Outbox rows waiting for the sender (a read-only WAL reader: takes no write lock)."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            return int(
                conn.execute("select count(*) from outbox where state = 'todo'").fetchone()[0]
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def prefix(core: int, nice: int) -> list[str]:
    """Pin to a core (when there are two or more) and raise priority, as the other benches do."""
    out: list[str] = []
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        out += ["taskset", "-c", str(core)]
    if nice:
        out += ["nice", "-n", str(nice)]
    return out


def max_in_window(times: list[float], width: float = 1.0) -> tuple[int, float]:
    """The most events in any half-open window [t, t + width), and where that window starts."""
    best, where, j = 0, 0.0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + width:
            j += 1
        if j - i > best:
            best, where = j - i, t
    return best, where


class Procs:
    """The aman processes: ``serve`` (one, or a web and a sender with ``split``) and the
    campaign scheduler."""

    def __init__(
        self,
        env: dict[str, str],
        logs: Path,
        aman_port: int,
        rate: float,
        nice: int,
        split: bool = False,
    ) -> None:
        self.env, self.logs, self.port, self.rate, self.nice = env, logs, aman_port, rate, nice
        self.split = split
        self.servers: list[subprocess.Popen[bytes]] = []
        self.sched: subprocess.Popen[bytes] | None = None
        self.peaks: list[dict[str, int]] = []

    @property
    def all(self) -> list[subprocess.Popen[bytes]]:
        return [*self.servers, *([self.sched] if self.sched else [])]

    def serve_rss(self) -> int:
        """RSS of the serve processes together (KiB)."""
        return sum(rss_kib(p.pid)[0] for p in self.servers if p.poll() is None)

    def _spawn(self, name: str, args: list[str], core: int) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                [*prefix(core, self.nice), sys.executable, "-m", "aman.cli", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def start(self) -> None:
        self.servers, self.sched = [], None
        roles = [("all", self.port)]
        if self.split:
            roles = [("web", self.port), ("sender", free_port())]
        for role, port in roles:
            args = ["serve", "--port", str(port), "--role", role]
            self.servers.append(self._spawn("serve" if role == "all" else role, args, 0))
            wait_http(f"http://127.0.0.1:{port}/healthz")
        self.sched = self._spawn(
            "scheduler",
            ["campaigns", "scheduler", "--interval", "0.5", "--send-rate", str(self.rate)],
            1,
        )

    def kill(self) -> None:
        for p in self.all:
            if p.poll() is None:
                self.peaks.append({"pid": p.pid, "hwm_kib": rss_kib(p.pid)[1]})
                p.send_signal(signal.SIGKILL)
                p.wait()

    def stop(self) -> None:
        for p in self.all:
            if p.poll() is None:
                self.peaks.append({"pid": p.pid, "hwm_kib": rss_kib(p.pid)[1]})
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from aman.security.crypto import generate_master_key

    work = Path(tempfile.mkdtemp(prefix="aman-broadcast-"))
    logs = work / "logs"
    logs.mkdir()
    db_url = f"sqlite:///{work / 'aman.db'}"
    master = generate_master_key()
    app_secret, token = secrets.token_hex(32), "bench-" + secrets.token_urlsafe(24)
    n, rate = args.recipients, args.rate
    print(f"setting up {n:,} contacts in {work} …", flush=True)
    cid, import_s = setup(db_url, master, n, work)
    sim_port, aman_port = free_port(), free_port()
    sim_env = dict(os.environ, AMAN_SIM_APP_SECRET=app_secret, AMAN_SIM_ACCESS_TOKEN=token)
    with (logs / "simulator.log").open("ab") as out:
        sim = subprocess.Popen(
            [
                *prefix(1, args.nice),
                sys.executable,
                "-m",
                "aman.simulator",
                "--port",
                str(sim_port),
                "--no-window",
                # Meta re-delivers webhooks for days; the default 8.5 s of retries would
                # drop the statuses of sends in flight at the kill while aman restarts.
                "--retry-delays",
                "0.5,1,2,5,10,20,30",
                # The analysis reads every send at the end: keep them all (n plus resends).
                "--max-messages",
                str(max(2 * n, 100_000)),
                "--webhook-url",
                f"http://127.0.0.1:{aman_port}/webhook",
            ],
            env=sim_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        return _drive(
            args,
            n,
            rate,
            cid,
            import_s,
            sim_port,
            aman_port,
            app_secret,
            token,
            master,
            db_url,
            work,
            logs,
        )
    finally:
        if sim.poll() is None:
            sim.terminate()
            sim.wait(30)


def _drive(
    args: argparse.Namespace,
    n: int,
    rate: float,
    cid: int,
    import_s: float,
    sim_port: int,
    aman_port: int,
    app_secret: str,
    token: str,
    master: str,
    db_url: str,
    work: Path,
    logs: Path,
) -> dict[str, Any]:
    sim_url = f"http://127.0.0.1:{sim_port}"
    wait_http(f"{sim_url}/_sim/health")
    env = dict(
        os.environ,
        AMAN_DATABASE_URL=db_url,
        AMAN_APP_SECRET=app_secret,
        AMAN_VERIFY_TOKEN=secrets.token_urlsafe(16),
        AMAN_ACCESS_TOKEN=token,
        AMAN_PHONE_NUMBER_ID=PNID,
        AMAN_MASTER_KEY=master,
        AMAN_SEND_RATE=str(rate),
        AMAN_GRAPH_API_URL=f"{sim_url}/v23.0",
        AMAN_BOT="echo",
        AMAN_WORKER_STALE_SECONDS="5",
        # Status webhooks settle sends whose outcome is unknown (kill -9, timeouts); on a
        # loaded machine they can take longer than the default 30 s to come back.
        AMAN_RECONCILE_SECONDS=str(args.reconcile),
    )
    procs = Procs(env, logs, aman_port, rate, args.nice, split=args.split)
    samples: list[tuple[float, int, int, int]] = []  # (t, accepted, serve rss, sched rss)
    t_start = time.monotonic()
    kill_at, killed, restart = int(n * args.kill_at), None, None
    try:
        procs.start()
        while True:
            time.sleep(0.5)
            accepted = int(http_json(f"{sim_url}/_sim/stats")["accepted"])
            now = time.monotonic() - t_start
            serve_rss = procs.serve_rss()
            sched_rss = rss_kib(procs.sched.pid)[0] if procs.sched else 0
            samples.append((now, accepted, serve_rss, sched_rss))
            if len(samples) % args.every == 0:
                print(
                    f"  {now:6.1f} s  {accepted:7,} sent  backlog {backlog(work / 'aman.db'):6}  "
                    f"serve {serve_rss // 1024} MiB  scheduler {sched_rss // 1024} MiB",
                    flush=True,
                )
            if killed is None and accepted >= kill_at:
                procs.kill()
                killed = (now, accepted)
                print(f"  kill -9 at {accepted:,} sent; restarting …", flush=True)
                time.sleep(args.downtime)
                procs.start()
                restart = time.monotonic() - t_start
            if accepted >= n:
                states = outbox_states(work / "aman.db")
                if not any(states.get(s) for s in ("todo", "sending", "uncertain")):
                    break
            if now > args.timeout:
                raise RuntimeError(f"timed out with {accepted:,} of {n:,} sent")
        # Anything resent after reconciliation would arrive now: wait past its deadline.
        time.sleep(args.settle or args.reconcile + 5.0)
        final_states = outbox_states(work / "aman.db")
    finally:
        procs.stop()
    stats = http_json(f"{sim_url}/_sim/stats")
    messages = http_json(f"{sim_url}/_sim/messages", timeout=300)
    if stats.get("first_index"):
        raise RuntimeError(f"the simulator dropped its first {stats['first_index']:,} sends")
    return analyse(
        args, cid, import_s, messages, stats, samples, killed, restart, procs, final_states, work
    )


def analyse(
    args: argparse.Namespace,
    cid: int,
    import_s: float,
    messages: list[dict[str, Any]],
    stats: dict[str, Any],
    samples: list[tuple[float, int, int, int]],
    killed: tuple[float, int] | None,
    restart: float | None,
    procs: Procs,
    final_states: dict[str, int],
    work: Path,
) -> dict[str, Any]:
    n, rate = args.recipients, args.rate
    refs = Counter(str(m.get("biz_opaque_callback_data") or "") for m in messages)
    got = {r.rsplit(".", 1)[1] for r in refs if r.startswith("aman:b")}
    dupes = {r: c for r, c in refs.items() if c > 1}
    first_send = min((float(m["received_at"]) for m in messages), default=0.0)
    dupe_times = sorted(
        round(float(m["received_at"]) - first_send, 2)
        for m in messages
        if str(m.get("biz_opaque_callback_data") or "") in dupes
    )
    times = sorted(float(m["received_at"]) for m in messages)
    peak, peak_at = max_in_window(times)
    # Split the sends at the outage: pacing is measured on each continuous stretch.
    gaps = [i for i in range(1, len(times)) if times[i] - times[i - 1] > 1.0]
    segments, prev = [], 0
    for cut in [*gaps, len(times)]:
        segments.append(times[prev:cut])
        prev = cut
    averages = [(len(s) - 1) / (s[-1] - s[0]) for s in segments if len(s) > 1 and s[-1] > s[0]]
    busy = sum(s[-1] - s[0] for s in segments if len(s) > 1)
    overall = (len(times) - len(segments)) / busy if busy else 0.0
    # Steady state: the middle 90 % of each stretch (the sender's start-up excluded).
    steady = []
    for s in segments:
        if len(s) > 100:
            lo, hi = s[0] + 0.05 * (s[-1] - s[0]), s[-1] - 0.05 * (s[-1] - s[0])
            a, b = bisect_left(s, lo), bisect_left(s, hi)
            steady.append((b - a - 1) / (s[b - 1] - s[a]))
    warm = [x for x in samples if x[1] >= 0.1 * n]
    serve_rss = [x[2] for x in warm if x[2]]
    sched_rss = [x[3] for x in warm if x[3]]
    lives = _lifetimes(samples, restart)
    result = {
        "recipients": n,
        "rate": rate,
        "split": args.split,
        "reconcile_seconds": args.reconcile,
        "campaign": cid,
        "import_seconds": round(import_s, 1),
        "sent": len(messages),
        "unique_recipients": len(got),
        "duplicates": len(dupes),
        "skipped": n - len(got),
        "simulator_duplicates": stats.get("duplicates"),
        "duplicate_send_times_s": dupe_times[:40],
        "kill_after_first_send_s": None,
        "rejected": stats.get("rejected"),
        "max_in_any_1s_window": peak,
        "max_window_starts_after_first_send_s": round(peak_at - times[0], 2) if times else None,
        "average_rate_per_stretch": [round(a, 2) for a in averages],
        # Where the sends stopped for over a second: (seconds after the first send, length).
        "pauses_s": [
            (round(times[i - 1] - times[0], 1), round(times[i] - times[i - 1], 1)) for i in gaps
        ],
        "average_rate_overall": round(overall, 2),
        "steady_rate_per_stretch": [round(a, 2) for a in steady],
        "average_within_2pct": all(abs(a - rate) / rate <= 0.02 for a in averages),
        "killed_at_sent": killed[1] if killed else None,
        "outage_seconds": round((restart or 0) - (killed[0] if killed else 0), 1),
        "serve_rss_mib": {
            "min": min(serve_rss, default=0) // 1024,
            "max": max(serve_rss, default=0) // 1024,
        },
        "scheduler_rss_mib": {
            "min": min(sched_rss, default=0) // 1024,
            "max": max(sched_rss, default=0) // 1024,
        },
        "peak_rss_mib": [p["hwm_kib"] // 1024 for p in procs.peaks],
        "memory_after_warmup": {
            "serve": [_growth(life, 2) for life in lives],
            "scheduler": [_growth(life, 3) for life in lives],
        },
        "outbox_states": final_states,
        "wall_seconds": round(samples[-1][0], 1) if samples else 0,
        "work_dir": str(work),
    }
    return result


# A process has unwrapped its full contact-key cache (storage.vault._CACHE_SIZE, 20,000)
# after about that many recipients; memory is judged flat on what it sends after that.
WARMUP_RECIPIENTS = 25_000
FLAT_MIB_PER_100K = 10.0


def _lifetimes(
    samples: list[tuple[float, int, int, int]], restart: float | None
) -> list[list[tuple[float, int, int, int]]]:
    """The samples of each process lifetime (split at the restart after the kill)."""
    if restart is None:
        return [samples]
    return [[x for x in samples if x[0] < restart], [x for x in samples if x[0] >= restart]]


def _growth(life: list[tuple[float, int, int, int]], col: int) -> dict[str, Any]:
    """RSS of one process over the recipients it sent after its warm-up, and its slope."""
    if not life:
        return {"warm_samples": 0}
    base = life[0][1]
    warm = [(x[1] - base, x[col]) for x in life if x[1] - base >= WARMUP_RECIPIENTS and x[col]]
    if len(warm) < 10 or warm[-1][0] == warm[0][0]:
        return {"warm_samples": len(warm)}
    xs, ys = [w[0] for w in warm], [w[1] for w in warm]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )  # KiB per recipient, least squares
    return {
        "warm_samples": len(warm),
        "from_sent": base + xs[0],
        "to_sent": base + xs[-1],
        "rss_mib_first_last": [ys[0] // 1024, ys[-1] // 1024],
        "rss_mib_min_max": [min(ys) // 1024, max(ys) // 1024],
        "mib_per_100k": round(slope * 100_000 / 1024, 1),
    }


def _memory_cell(lives: list[dict[str, Any]]) -> tuple[str, bool]:
    parts, flat = [], True
    for life in lives:
        if "mib_per_100k" not in life:
            parts.append(f"too few warm samples ({life['warm_samples']})")
            flat = False
            continue
        first, last = life["rss_mib_first_last"]
        parts.append(
            f"{life['from_sent']:,}–{life['to_sent']:,} sent: {first}→{last} MiB "
            f"({life['mib_per_100k']:+.1f} MiB per 100k)"
        )
        flat = flat and life["mib_per_100k"] <= FLAT_MIB_PER_100K
    return "; ".join(parts), flat


def _rates(values: list[float]) -> str:
    if len(values) <= 6:
        return ", ".join(f"{a:.1f}" for a in values) + "/s"
    ordered = sorted(values)
    return (
        f"{len(values)} stretches (stalls > 1 s): min {ordered[0]:.1f}, median "
        f"{ordered[len(ordered) // 2]:.1f}, max {ordered[-1]:.1f}/s"
    )


def render_section(result: dict[str, Any], info: RunInfo, notes: str = "") -> str:
    """The ``broadcast`` section of bench/RESULTS.md."""
    r = result
    ok_rate = r["max_in_any_1s_window"] <= r["rate"]
    killed = (
        f"- Both aman processes were SIGKILLed at {r['killed_at_sent']:,} messages sent and "
        f"restarted after {r['outage_seconds']} s."
        if r["killed_at_sent"] is not None
        else "- **No kill happened** (the run ended before the kill point)."
    )
    serve_mem, serve_flat = _memory_cell(r["memory_after_warmup"]["serve"])
    sched_mem, sched_flat = _memory_cell(r["memory_after_warmup"]["scheduler"])
    lines = [
        f"## Broadcast: {r['recipients']:,} recipients, paced, crash-safe: "
        "`bench/broadcast_bench.py`",
        "",
        *info.lines(),
        f"- Machine: {os.cpu_count()} cores, Python {platform.python_version()}; niceness "
        f"{r.get('nice', 0)} for every process (`nice -n` once per child).",
        (
            "- Two aman serve processes, `--role web` (status webhooks) and `--role sender` "
            "(AMAN_SEND_RATE as below; RSS below is the two together)"
            if r.get("split")
            else "- aman serve (sender, AMAN_SEND_RATE as below)"
        )
        + " + `aman campaigns scheduler` "
        "(materialises the broadcast ≤ 10 s of sending ahead) on SQLite, "
        f"AMAN_RECONCILE_SECONDS={r['reconcile_seconds']:g}; "
        "`python -m aman.simulator` with status webhooks on (they settle in-flight sends "
        "after the crash), `--no-window`.",
        f"- Contacts: {r['recipients']:,} imported from CSV in {r['import_seconds']} s "
        "(validated, normalised, sealed, consent recorded).",
        killed,
        "",
        "| check | measured | |",
        "|---|---|---|",
        f"| max messages in any 1-second window ≤ rate ({r['rate']:g}/s) | "
        f"{r['max_in_any_1s_window']} | {'met' if ok_rate else '**missed**'} |",
        f"| average rate within 2 % of {r['rate']:g}/s (per stretch between restarts) | "
        f"{_rates(r['average_rate_per_stretch'])} | "
        f"{'met' if r['average_within_2pct'] else '**missed**'} |",
        f"| every recipient exactly once after kill -9 | {r['unique_recipients']:,} unique, "
        f"{r['duplicates']} duplicates, {r['skipped']} skipped | "
        f"{'met' if not r['duplicates'] and not r['skipped'] else '**missed**'} |",
        f"| flat memory, aman serve: RSS per process after its first {WARMUP_RECIPIENTS:,} "
        f"recipients (key cache full), slope ≤ {FLAT_MIB_PER_100K:g} MiB per 100k | "
        f"{serve_mem} | {'met' if serve_flat else '**missed**'} |",
        f"| flat memory, scheduler: the same | {sched_mem} | "
        f"{'met' if sched_flat else '**missed**'} |",
        f"| RSS over the whole run (both lifetimes, warm-up included) | serve "
        f"{r['serve_rss_mib']['min']}–{r['serve_rss_mib']['max']} MiB, scheduler "
        f"{r['scheduler_rss_mib']['min']}–{r['scheduler_rss_mib']['max']} MiB; peak RSS per "
        f"process (VmHWM) {', '.join(str(p) for p in r['peak_rss_mib'])} MiB | |",
        "",
        f"Steady-state rate (middle 90 % of each stretch): "
        f"{_rates(r['steady_rate_per_stretch'])}; overall without the "
        f"outage {r['average_rate_overall']}/s; wall time {r['wall_seconds']} s; simulator "
        f"rejections {r['rejected']}; final outbox states {r['outbox_states']}.",
        *(["", notes] if notes else []),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.broadcast_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0, help="AMAN_SEND_RATE")
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction sent at the kill")
    parser.add_argument("--downtime", type=float, default=1.5, help="seconds before restart")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds to wait after the end for late resends (default: reconcile + 5)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--results",
        default=str(RESULTS),
        help="markdown file whose broadcast section is rewritten (others are kept)",
    )
    parser.add_argument("--json", default=str(ROOT / "bench" / "out" / "broadcast.json"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--nice", type=int, default=-10, help="nice value of the processes")
    parser.add_argument(
        "--reconcile", type=float, default=120.0, help="AMAN_RECONCILE_SECONDS for aman serve"
    )
    parser.add_argument("--every", type=int, default=20, help="progress line every N samples")
    parser.add_argument(
        "--split",
        action="store_true",
        help="run the web and the sender as two processes (the production layout)",
    )
    args = parser.parse_args(argv)
    info = RunInfo.start(parser.prog, argv)
    result = run(args)
    info.finish()
    result |= {
        "command": info.command,
        "code": info.code,
        "nice": args.nice,
        "load_start": info.load_start,
        "load_end": info.load_end,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    write_section(Path(args.results), "broadcast", render_section(result, info))
    if not args.keep:
        shutil.rmtree(result["work_dir"], ignore_errors=True)
    ok = (
        result["max_in_any_1s_window"] <= args.rate
        and result["average_within_2pct"]
        and not result["duplicates"]
        and not result["skipped"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
