"""Chaos on PostgreSQL: role processes killed at random, the database restarted, a faulty
Graph API, duplicate and reordered webhooks.  Invariants checked at the end:

- every acknowledged inbound message got exactly one reply, no message was sent twice;
- delivery statuses never regressed;
- the send rate never exceeded AMAN_SEND_RATE in any second;
- the audit ledger verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, make_url, text

from aman.cli import main as aman_cli
from aman.security.crypto import generate_master_key
from helpers import collect_replies, free_port, start_aman, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.postgres, pytest.mark.anyio]

APP_SECRET = "chaos-app-secret"
TOKEN = "chaos-token"
RATE = 40
ROLES = ["web", "worker", "worker", "sender", "sender", "scheduler"]


def restart_postgres(port: int) -> None:
    """Restart the local cluster listening on ``port`` (the test's, not just any)."""
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    found = [f[:2] for f in map(str.split, listing.splitlines()) if f[2] == str(port)]
    assert found, f"no local PostgreSQL cluster listens on port {port}"
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *found[0], "restart"],
        check=True,
        timeout=120,
        capture_output=True,
    )


def query(db_url: str, *statements: str, **params: Any) -> list[list[Any]]:
    """The rows of each statement, read on a fresh connection to the test's database."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [list(conn.execute(text(sql), params).all()) for sql in statements]
    finally:
        engine.dispose()


def explain_duplicates(
    db_url: str, twice: dict[str, int], messages: list[dict[str, Any]], log: Path
) -> str:
    """What the database and the logs knew about each reply that went out twice."""
    copies = [m for m in messages if m["type"] == "text" and m["body"]["text"]["body"] in twice]
    refs = sorted({str(m["biz_opaque_callback_data"]).split(":", 1)[-1] for m in copies})
    rows, attempts, statuses = query(
        db_url,
        "SELECT id, ref, state, attempts, settled_by, reconcile_by, wamid, created_at, "
        "sent_at FROM outbox WHERE ref = ANY(:refs)",
        "SELECT outbox_id, attempt, at, outcome, http_status, latency_ms FROM send_attempts "
        "WHERE outbox_id IN (SELECT id FROM outbox WHERE ref = ANY(:refs)) ORDER BY at",
        "SELECT outbox_ref, status, received_at FROM status_events "
        "WHERE outbox_ref = ANY(:refs) ORDER BY received_at",
        refs=refs,
    )
    sent = [(m["received_at"], m["wamid"], m["biz_opaque_callback_data"]) for m in copies]
    events = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if "housekeeping:" in line or "re-registered" in line or "untracked" in line
    ]
    return (
        f"replies sent twice: {twice}; accepted copies: {sent}; outbox: {rows}; "
        f"attempts: {attempts}; statuses: {statuses}; log: {events[-30:]}"
    )


async def test_chaos_keeps_every_promise(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the chaos run needs PostgreSQL")
    rng = random.Random(7)
    web_port = free_port()
    sim_log = (tmp_path / "sim.log").open("wb")
    faults = {
        "latency_ms": 5,
        "latency_jitter_ms": 5,
        "rate_5xx": 0.05,
        "rate_429": 0.05,
        "retry_after_s": 1,
        "rate_timeout": 0.02,
        "timeout_hang_s": 1.0,
        "timeout_accepts": True,
        "duplicate_webhooks": 0.1,
        "reorder_statuses": 0.3,
    }
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aman.simulator",
            "--port",
            "0",
            "--webhook-url",
            f"http://127.0.0.1:{web_port}/webhook",
            "--app-secret",
            APP_SECRET,
            "--access-token",
            TOKEN,
            "--status-delays",
            "0.05,0.1,0.1",
            "--retry-delays",
            "0.3,0.5,1,1,2,2,3,5,5",
            "--faults",
            json.dumps(faults),
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=sim_log,
    )
    procs: dict[int, subprocess.Popen[bytes]] = {}
    witness = tmp_path / "witness.json"
    try:
        assert sim.stdout is not None
        graph_url = sim.stdout.readline().decode().strip().split()[-1]
        sim_base = graph_url.rsplit("/", 1)[0]
        env = {
            **os.environ,
            "AMAN_DATABASE_URL": db_url,
            "AMAN_APP_SECRET": APP_SECRET,
            "AMAN_VERIFY_TOKEN": "v",
            "AMAN_ACCESS_TOKEN": TOKEN,
            "AMAN_PHONE_NUMBER_ID": "106540352242922",
            "AMAN_MASTER_KEY": generate_master_key(),
            "AMAN_GRAPH_API_URL": graph_url,
            "AMAN_BOT": "echo",
            "AMAN_SEND_RATE": str(RATE),
            "AMAN_WORKER_STALE_SECONDS": "3",
            "AMAN_RECONCILE_SECONDS": "4",
            "AMAN_GRAPH_TIMEOUT": "0.7",
            "AMAN_POLL_SECONDS": "0.5",
            "AMAN_AUDIT_WITNESS": str(witness),
        }
        ports = [web_port] + [free_port() for _ in ROLES[1:]]
        log = tmp_path / "aman.log"

        def start(i: int) -> None:
            procs[i] = start_aman(env, ports[i], log, role=ROLES[i])

        for i in range(len(ROLES)):
            start(i)
        for i, port in enumerate(ports):
            await wait_healthy(f"http://127.0.0.1:{port}", 60, procs[i])

        users = [f"62814{i:08d}" for i in range(60)]
        total = 300
        results: dict[str, int] = {}

        async def one(session: aiohttp.ClientSession, i: int) -> None:
            text_ = f"chaos-{i:04d}"
            async with session.post(
                f"{sim_base}/_sim/inbound", json={"from": users[i % len(users)], "text": text_}
            ) as r:
                results[text_] = int((await r.json()).get("status", 0))

        async def load() -> None:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as s:
                begin, tasks = time.monotonic(), []
                for i in range(total):
                    await asyncio.sleep(max(0.0, begin + i / 50 - time.monotonic()))
                    tasks.append(asyncio.create_task(one(s, i)))
                await asyncio.gather(*tasks)

        loader = asyncio.create_task(load())
        await asyncio.sleep(1.5)
        victims = [rng.choice([1, 2]), rng.choice([3, 4])]  # a worker and a sender
        for i in victims:
            procs[i].send_signal(signal.SIGKILL)
            procs[i].wait(10)
        await asyncio.sleep(0.5)
        for i in victims:
            start(i)
        await asyncio.sleep(1.0)
        pg_port = make_url(db_url).port or 5432
        await asyncio.get_running_loop().run_in_executor(None, restart_postgres, pg_port)
        await asyncio.sleep(1.0)
        victim = rng.choice([3, 4])  # kill a sender again after the restart
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        start(victim)
        await asyncio.wait_for(loader, 180)

        acked = sorted(t for t, c in results.items() if c == 200)
        assert len(acked) >= total * 0.95, Counter(results.values())

        got, messages = await collect_replies(sim_base, acked, 90)
        missing = [t for t in acked if got[t] == 0]
        if missing:
            stuck_in, stuck_out, workers_, leases_ = query(
                db_url,
                "SELECT id, status, attempts, worker_id, not_before, last_error FROM inbox "
                "WHERE status <> 'done'",
                "SELECT id, kind, state, attempts, worker_id, next_attempt_at, reconcile_by, "
                "error_code FROM outbox WHERE state NOT IN ('sent', 'failed')",
                "SELECT id, role, pid FROM workers",
                "SELECT * FROM leases",
            )
            raise AssertionError(
                f"{len(missing)} acknowledged messages without reply: {missing[:5]}; "
                f"inbox not done: {stuck_in[:10]}; outbox pending: {stuck_out[:10]}; "
                f"workers: {workers_}; leases: {leases_}; now={time.time()}"
            )
        twice = {t: n for t, n in got.items() if n > 1}
        assert not twice, explain_duplicates(db_url, twice, messages, log)
        async with aiohttp.ClientSession() as s, s.get(f"{sim_base}/_sim/stats") as r:
            stats = await r.json()
        assert stats["duplicates"] == 0, stats["duplicate_keys"][:5]

        per_second = Counter(int(m["received_at"]) for m in messages if m["type"] == "text")
        assert max(per_second.values()) <= RATE, per_second.most_common(3)

        await asyncio.sleep(1.0)  # let the last statuses land
        [(regressed,)], settled_rows = query(
            db_url,
            "SELECT count(*) FROM outbox o WHERE o.kind = 'message' "
            "AND o.wamid IS NOT NULL AND EXISTS (SELECT 1 FROM status_events e "
            "WHERE e.wamid = o.wamid AND e.status = 'read') "
            "AND o.delivery_status NOT IN ('read', 'played', 'deleted')",
            "SELECT coalesce(settled_by, 'direct'), count(*) FROM outbox "
            "WHERE kind = 'message' GROUP BY 1",
        )
        settled: dict[str, int] = dict(settled_rows)
        assert regressed == 0
        # ``aman audit verify`` in this process: the same command, without a second
        # interpreter start-up (its CLI wrapper is covered by test_audit_cli.py).
        for name, value in env.items():
            if name.startswith("AMAN_"):
                monkeypatch.setenv(name, value)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            verified = aman_cli(["audit", "verify"])
        assert verified == 0, out.getvalue() + err.getvalue()
        print(
            "\nchaos report:",
            json.dumps(
                {
                    "acked": len(acked),
                    "replies": sum(got.values()),
                    "max_per_second": max(per_second.values()),
                    "settled": settled,
                    "sim": stats["rejected"],
                }
            ),
        )
    finally:
        # Everything is checked: no graceful drain needed (test_graceful_shutdown has that).
        for proc in [*procs.values(), sim]:
            if proc.poll() is None:
                proc.kill()
        for proc in [*procs.values(), sim]:
            proc.wait(20)
        if sim.stdout is not None:
            sim.stdout.close()
        sim_log.close()
