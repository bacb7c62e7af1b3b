"""On SQLite the inbox worker's completion claims its new replies for the in-process sender.

The rows are committed as 'sending' in the transaction that writes them, and the
sender delivers them without a claim transaction of its own.  A completion that
rolls back after that claim hands nothing over: the batch is handled again and
every message still gets exactly one reply.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from aman.demo import DemoStack
from aman.outbox.sender import Sender
from helpers import scalar, until

pytestmark = pytest.mark.anyio


def _replies(st: DemoStack) -> list[str]:
    return sorted(m.body["text"]["body"] for m in st.simulator.sent if m.type == "text")


async def test_replies_reach_the_sender_without_a_claim_of_its_own(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="echo", statuses=False) as st:
        sender, worker = st.runtime.sender, st.runtime.inbox_worker
        assert sender is not None and worker is not None
        assert worker.handoff is sender
        claims: list[int] = []
        own_claim = sender._claim_in

        def counting(conn: Connection, limit: int, now: float) -> Any:
            rows = own_claim(conn, limit, now)
            claims.append(len(rows))
            return rows

        sender._claim_in = counting  # type: ignore[method-assign]
        for i in range(5):
            assert (await st.phone.send_text("6281234500091", f"satu {i}")).status == 200
            await st.simulator.wait_for_sent(i + 1, 15)
            # The simulator has the reply before its outcome is committed; until then the
            # next reply to this customer waits behind it (order per recipient) and would
            # go out through a claim of the sender's own.
            await until(
                lambda: scalar(st, "select count(*) from outbox where state <> 'sent'") == 0,
                what="outcomes committed",
            )
        await until(lambda: sender._in_flight == 0, what="sends finished")
        # Each reply and read receipt was handed over; every claim ran in a completion.
        assert sender.handed == 10
        assert sum(claims) == 10
    assert _replies(st) == [f"satu {i}" for i in range(5)]


async def test_a_completion_that_rolls_back_hands_nothing_over(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="echo", statuses=False) as st:
        sender = st.runtime.sender
        assert isinstance(sender, Sender)
        real = sender.handoff_claim
        failures: list[int] = []

        def claim_then_fail(conn: Connection, now: float) -> Any:
            handed = real(conn, now)
            if not failures:
                failures.append(len(handed.rows) if handed is not None else 0)
                raise RuntimeError("the completion fails after the claim")
            return handed

        sender.handoff_claim = claim_then_fail  # type: ignore[method-assign]
        assert (await st.phone.send_text("6281234500092", "dua")).status == 200
        await st.simulator.wait_for_sent(1, 15)
        await until(lambda: sender._in_flight == 0, what="sends finished")
        await asyncio.sleep(0.3)  # a second copy would have been sent by now
        assert failures == [2]  # the reply and the read receipt had been claimed
        assert sender.handed == 2  # only the second completion's rows
        assert scalar(st, "select count(*) from outbox where state <> 'sent'") == 0
        assert scalar(st, "select count(*) from outbox") == 2
    assert _replies(st) == ["dua"]
