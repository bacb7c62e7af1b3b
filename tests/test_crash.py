"""kill -9 under load: every acknowledged message gets exactly one reply, none twice.

aman (``aman serve``) and the simulator run as subprocesses.  The simulated
phone sends a steady stream of messages (retrying webhooks like Meta does);
aman is SIGKILLed mid-load and restarted on the same database.  Replies whose
Graph request was in flight at the kill are *uncertain*; they are reconciled
through the status webhooks that carry the outbox ref in
``biz_opaque_callback_data`` (or resent when no status comes), and the test
reports how many there were and how each was settled.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from aman.security.crypto import generate_master_key
from helpers import collect_replies, free_port, start_aman, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.anyio]

APP_SECRET = "crash-test-app-secret"
TOKEN = "crash-test-token"


async def wait_outbox_settled(db_path: Path, timeout: float) -> None:
    """Return once no outbox row is to do, sending or uncertain, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(db_path) as db:
            (open_rows,) = db.execute(
                "select count(*) from outbox where state in ('todo', 'sending', 'uncertain')"
            ).fetchone()
        if open_rows == 0:
            return
        await asyncio.sleep(0.2)


async def test_kill_9_mid_load_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    aman_port = free_port()
    aman_url = f"http://127.0.0.1:{aman_port}"
    sim_log = (tmp_path / "sim.log").open("wb")
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aman.simulator",
            "--port",
            "0",
            "--webhook-url",
            f"{aman_url}/webhook",
            "--app-secret",
            APP_SECRET,
            "--access-token",
            TOKEN,
            "--status-delays",
            "0.05,0.05,0.05",
            "--retry-delays",
            "0.3,0.5,1,1,2,2,3",
            "--faults",
            json.dumps({"latency_ms": 60, "latency_jitter_ms": 30}),
        ],
        stdout=subprocess.PIPE,
        stderr=sim_log,
    )
    aman: subprocess.Popen[bytes] | None = None
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline().decode()
        graph_url = line.strip().split()[-1]
        assert graph_url.startswith("http://127.0.0.1:"), line
        sim_base = graph_url.rsplit("/", 1)[0]
        env = {
            **os.environ,
            "AMAN_DATABASE_URL": f"sqlite:///{tmp_path / 'aman.db'}",
            "AMAN_APP_SECRET": APP_SECRET,
            "AMAN_VERIFY_TOKEN": "v",
            "AMAN_ACCESS_TOKEN": TOKEN,
            "AMAN_PHONE_NUMBER_ID": "106540352242922",
            "AMAN_MASTER_KEY": generate_master_key(),
            "AMAN_GRAPH_API_URL": graph_url,
            "AMAN_BOT": "echo",
            "AMAN_SEND_RATE": "400",
            "AMAN_WORKER_STALE_SECONDS": "3",
            "AMAN_RECONCILE_SECONDS": "4",
            "AMAN_GRAPH_TIMEOUT": "3",
            "AMAN_POLL_SECONDS": "0.2",
        }
        log = tmp_path / "aman.log"
        aman = start_aman(env, aman_port, log)
        await wait_healthy(aman_url, proc=aman)

        users = [f"62813{i:08d}" for i in range(50)]
        total = 500
        results: dict[str, int] = {}

        async def one(session: aiohttp.ClientSession, i: int) -> None:
            text = f"msg-{i:04d}"
            async with session.post(
                f"{sim_base}/_sim/inbound", json={"from": users[i % len(users)], "text": text}
            ) as r:
                data = await r.json()
                results[text] = int(data.get("status", 0))

        async def load() -> None:
            # Open loop at ~200 messages/s; each inbound waits for its own webhook retries.
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
                start = time.monotonic()
                tasks = []
                for i in range(total):
                    delay = start + i / 200 - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(s, i)))
                await asyncio.gather(*tasks)

        loader = asyncio.create_task(load())
        await asyncio.sleep(1.2)  # mid-load
        aman.send_signal(signal.SIGKILL)
        aman.wait(10)
        await asyncio.sleep(0.4)
        aman = start_aman(env, aman_port, log)  # same database
        await wait_healthy(aman_url, proc=aman)
        await asyncio.wait_for(loader, 120)

        acked = sorted(t for t, code in results.items() if code == 200)
        assert len(acked) >= total * 0.95, Counter(results.values())

        got, _ = await collect_replies(sim_base, acked, 40)
        missing = [t for t in acked if got[t] == 0]
        twice = {t: n for t, n in got.items() if n > 1}
        assert not missing, f"{len(missing)} acknowledged messages got no reply: {missing[:5]}"
        assert not twice, f"replies sent more than once: {twice}"
        async with aiohttp.ClientSession() as s, s.get(f"{sim_base}/_sim/stats") as r:
            stats = await r.json()
        assert stats["duplicates"] == 0, stats["duplicate_keys"]

        # The replies are all at the simulator, but read receipts (not collected above)
        # and the commits after the last answers may still be in flight: wait, bounded,
        # for every outbox row to reach a final state.  A row stuck in "sending" or
        # "uncertain" past the reconciliation window fails below.
        await wait_outbox_settled(tmp_path / "aman.db", timeout=20)

        # Report the uncertain sends and how each was settled.
        with sqlite3.connect(tmp_path / "aman.db") as db:
            settled = {
                f"{kind}:{how}": n
                for kind, how, n in db.execute(
                    "select kind, coalesce(settled_by, 'never uncertain'), count(*) from outbox "
                    "group by 1, 2"
                ).fetchall()
            }
            states = dict(db.execute("select state, count(*) from outbox group by 1").fetchall())
        report = {
            "messages": total,
            "acked": len(acked),
            "replies": sum(got.values()),
            "outbox_states": states,
            "settled_by": settled,
            "webhook_retries_by_phone": stats["webhooks"]["retries"],
        }
        (tmp_path / "crash_report.json").write_text(json.dumps(report, indent=2))
        print("\ncrash test report:", json.dumps(report))
        left_open = {k: n for k, n in states.items() if k in ("todo", "sending", "uncertain")}
        assert not left_open, states
    finally:
        # Everything is checked: no graceful drain needed (test_graceful_shutdown has that).
        for proc in (aman, sim):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(15)
        if sim.stdout is not None:
            sim.stdout.close()
        sim_log.close()
