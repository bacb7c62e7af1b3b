"""SIGTERM: stop claiming, finish in-flight sends, release claims and the worker row, exit 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from aman.security.crypto import generate_master_key
from helpers import collect_replies, free_port, start_aman, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.anyio]

APP_SECRET = "shutdown-test-app-secret"
TOKEN = "shutdown-test-token"


async def test_sigterm_drains_and_releases_everything(tmp_path: Path) -> None:
    port = free_port()
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aman.simulator",
            "--port",
            "0",
            "--webhook-url",
            f"http://127.0.0.1:{port}/webhook",
            "--app-secret",
            APP_SECRET,
            "--access-token",
            TOKEN,
            "--no-statuses",
            "--faults",
            json.dumps({"latency_ms": 150}),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    aman = None
    try:
        assert sim.stdout is not None
        graph_url = sim.stdout.readline().decode().strip().split()[-1]
        sim_base = graph_url.rsplit("/", 1)[0]
        db = tmp_path / "aman.db"
        env = {
            **os.environ,
            "AMAN_DATABASE_URL": f"sqlite:///{db}",
            "AMAN_APP_SECRET": APP_SECRET,
            "AMAN_VERIFY_TOKEN": "v",
            "AMAN_ACCESS_TOKEN": TOKEN,
            "AMAN_PHONE_NUMBER_ID": "106540352242922",
            "AMAN_MASTER_KEY": generate_master_key(),
            "AMAN_GRAPH_API_URL": graph_url,
            "AMAN_BOT": "echo",
            "AMAN_MARK_READ": "false",
        }
        aman = start_aman(env, port, tmp_path / "aman.log")
        await wait_healthy(f"http://127.0.0.1:{port}", proc=aman)
        async with aiohttp.ClientSession() as s:

            async def one(i: int) -> int:
                async with s.post(
                    f"{sim_base}/_sim/inbound", json={"from": f"62815{i:08d}", "text": f"t{i}"}
                ) as r:
                    return int((await r.json())["status"])

            codes = await asyncio.gather(*(one(i) for i in range(40)))
            assert set(codes) == {200}
            await asyncio.sleep(0.2)  # replies are now in flight (150 ms Graph latency)
            aman.send_signal(signal.SIGTERM)
            code = await asyncio.get_running_loop().run_in_executor(None, aman.wait, 60)
            assert code == 0
            with sqlite3.connect(db) as conn:
                busy = conn.execute(
                    "select count(*) from outbox where state in ('sending', 'uncertain')"
                ).fetchone()[0]
                doing = conn.execute(
                    "select count(*) from inbox where status = 'doing'"
                ).fetchone()[0]
                workers = conn.execute("select count(*) from workers").fetchone()[0]
                leases = conn.execute("select count(*) from leases").fetchone()[0]
            assert (busy, doing, workers, leases) == (0, 0, 0, 0)
            # What was left is finished by the next start, exactly once.
            aman = start_aman(env, port, tmp_path / "aman.log")
            await wait_healthy(f"http://127.0.0.1:{port}", proc=aman)
            got, _ = await collect_replies(sim_base, [f"t{i}" for i in range(40)], 10)
            assert sorted(got) == sorted(f"t{i}" for i in range(40))
            assert set(got.values()) == {1}
    finally:
        for proc in (aman, sim):  # the drain under test is the first SIGTERM above
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(30)
        if sim.stdout is not None:
            sim.stdout.close()
