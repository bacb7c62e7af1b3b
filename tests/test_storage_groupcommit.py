"""GroupCommitter's linger: writes nobody waits for share transactions, unless hurried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from aman.storage.db import make_engine
from aman.storage.groupcommit import GroupCommitter

pytestmark = pytest.mark.anyio


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)"))
    return eng


def _write(conn: Connection, items: Sequence[int]) -> None:
    conn.execute(text("INSERT INTO items (n) VALUES (:n)"), [{"n": n} for n in items])


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM items")).scalar_one())


async def test_writes_arriving_within_the_linger_share_one_transaction(engine: Engine) -> None:
    gc: GroupCommitter[int] = GroupCommitter(engine, _write, name="t-linger", linger=0.5)
    gc.start()
    try:
        waits = []
        for n in range(4):  # staggered, as send outcomes arrive
            waits.append(asyncio.create_task(gc.submit(n)))
            await asyncio.sleep(0.02)
        await asyncio.gather(*waits)
        assert (gc.batches, gc.items, _count(engine)) == (1, 4, 4)
    finally:
        await gc.close()
        engine.dispose()


async def test_no_linger_when_hurried_flushed_or_closed(engine: Engine) -> None:
    waiting = [True]
    gc: GroupCommitter[int] = GroupCommitter(
        engine, _write, name="t-hurry", linger=5.0, hurry=lambda: waiting[0]
    )
    gc.start()
    try:
        began = time.monotonic()
        for n in range(3):  # someone waits for each: written at once, one by one
            await gc.submit(n)
        assert time.monotonic() - began < 2.5 and gc.batches == 3
        waiting[0] = False
        late = asyncio.create_task(gc.submit(99))  # lingers now...
        await asyncio.sleep(0.1)
        assert not late.done() and _count(engine) == 3
        gc.flush()  # ...until someone waits for it
        await asyncio.wait_for(late, 2.5)
        assert _count(engine) == 4
        late = asyncio.create_task(gc.submit(100))  # lingers again...
        await asyncio.sleep(0.1)
        assert not late.done()
        began = time.monotonic()
    finally:
        await gc.close()  # ...but closing cuts the linger short and still writes it
    assert time.monotonic() - began < 2.5
    await late
    assert _count(engine) == 5
    engine.dispose()
