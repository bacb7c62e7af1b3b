"""The hot path's database work: one thread per SQLite file, a thread each on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from aman.demo import DemoStack
from aman.storage.db import make_engine
from aman.storage.threads import db_thread

pytestmark = pytest.mark.anyio


def _ident() -> tuple[int, str]:
    me = threading.current_thread()
    return threading.get_ident(), me.name


async def test_components_on_one_sqlite_file_share_one_thread(tmp_path: Path) -> None:
    a = db_thread(make_engine(f"sqlite:///{tmp_path}/a.db"), "inbox")
    # The same file under another spelling, through another engine.
    b = db_thread(make_engine(f"sqlite:///{tmp_path}/x/../a.db"), "sender")
    other = db_thread(make_engine(f"sqlite:///{tmp_path}/b.db"), "sender")
    own = db_thread(make_engine(f"sqlite:///{tmp_path}/a.db"), "ingest", own=True)
    try:
        (tmp_path / "x").mkdir()
        ta, tb = await a.run(_ident), await b.run(_ident)
        assert ta == tb and ta[1].startswith("sqlite")
        assert ta[0] != threading.get_ident()
        assert (await other.run(_ident))[0] != ta[0]
        mine = await own.run(_ident)
        assert mine[0] != ta[0] and mine[1].startswith("ingest")
    finally:
        for handle in (a, b, other, own):
            handle.close()


async def test_the_shared_thread_stops_with_its_last_user(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    first, second = db_thread(engine, "inbox"), db_thread(engine, "sender")
    thread = await first.run(threading.current_thread)
    first.close()
    first.close()  # twice is once
    assert await second.run(threading.current_thread) is thread  # the other user keeps it
    second.close()
    assert not thread.is_alive()
    third = db_thread(engine, "inbox")
    try:
        assert (await third.run(lambda x: x + 1, 41)) == 42
        assert await third.run(threading.current_thread) is not thread  # a fresh one
    finally:
        third.close()


async def test_postgresql_components_each_get_their_own_thread() -> None:
    # No connection is made: only the dialect decides.
    engine = create_engine("postgresql+psycopg://aman@127.0.0.1:1/none")
    a, b = db_thread(engine, "inbox"), db_thread(engine, "sender")
    try:
        ta, tb = await a.run(_ident), await b.run(_ident)
        assert ta[0] != tb[0]
        assert ta[1].startswith("inbox") and tb[1].startswith("sender")
    finally:
        a.close()
        b.close()


async def test_an_error_on_the_thread_reaches_the_caller(tmp_path: Path) -> None:
    handle = db_thread(make_engine(f"sqlite:///{tmp_path}/a.db"), "inbox")

    def fail() -> None:
        raise LookupError("gone")

    try:
        with pytest.raises(LookupError, match="gone"):
            await handle.run(fail)
        assert (await handle.run(_ident))[1].startswith("sqlite")  # still serving
    finally:
        handle.close()


async def test_a_running_sqlite_server_runs_worker_sender_and_results_on_one_thread(
    tmp_path: Path,
) -> None:
    async with DemoStack(tmp_path, bot="echo", statuses=False) as st:
        assert (await st.phone.send_text("6281234500078", "halo")).status == 200
        await st.simulator.wait_for_sent(1, 15)
        names = {t.name.rsplit("_", 1)[0] for t in threading.enumerate()}
    assert {"sqlite", "ingest"} <= names
    assert not names & {"inbox", "sender", "send-results"}


async def test_calls_run_in_order_and_a_cancelled_call_that_had_not_started_is_skipped(
    tmp_path: Path,
) -> None:
    handle = db_thread(make_engine(f"sqlite:///{tmp_path}/a.db"), "inbox")
    gate, ran = threading.Event(), []
    try:
        first = asyncio.ensure_future(handle.run(gate.wait, 10))
        second = asyncio.ensure_future(handle.run(ran.append, "second"))
        third = asyncio.ensure_future(handle.run(ran.append, "third"))
        await asyncio.sleep(0.05)
        second.cancel()
        # The cancellation reaches the queued call through the event loop: let it.
        await asyncio.sleep(0.05)
        gate.set()
        assert await first is True
        await third
        assert ran == ["third"]
        assert second.cancelled()
    finally:
        handle.close()
