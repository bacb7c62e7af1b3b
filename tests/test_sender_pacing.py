"""The send-rate cap measured where it counts: at the simulator, with jitter and 429 retries."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from aman.demo import DemoStack
from aman.outbox.ratelimit import RecipientBuckets
from aman.simulator.errors import GraphError
from aman.simulator.faults import Faults
from helpers import rows, until
from test_sending_rules import max_in_any_window

pytestmark = pytest.mark.anyio

RATE = 10


async def test_simulator_never_sees_more_than_the_rate_in_one_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [f"62813000{i:05d}" for i in range(30)]
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"send_rate": float(RATE), "mark_read": False},
    ) as st:
        # Requests reach the handler's stamp 0-400 ms after they leave (bunching), and
        # about a third are answered 429: those attempts count against the rate too.
        rejected_at: list[float] = []
        record_rejected = st.simulator.state.record_rejected

        def record(code: int) -> None:
            rejected_at.append(time.time())
            record_rejected(code)

        monkeypatch.setattr(st.simulator.state, "record_rejected", record)
        st.simulator.set_faults(latency_jitter_ms=400, rate_429=0.3, retry_after_s=0)
        for user in users:
            assert (await st.phone.send_text(user, f"halo {user}")).status == 200
        await until(lambda: len(st.simulator.sent) >= len(users), timeout=60, what="replies")
        sent = list(st.simulator.sent)
    assert rejected_at, "no 429 was injected: the retries were not exercised"
    assert Counter(m.to for m in sent) == Counter(users)  # each exactly once
    stamps = [m.received_at for m in sent] + rejected_at
    assert max_in_any_window(stamps) <= RATE


async def test_a_throughput_429_holds_the_whole_number_for_its_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Meta's Retry-After on a throughput 429 is about the number, not just one message:
    the sends to other recipients wait too instead of hammering Meta meanwhile."""
    users = [f"62813100{i:05d}" for i in range(8)]
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"send_rate": float(RATE), "mark_read": False},
    ) as st:
        graph = st.simulator._graph
        roll = graph._roll_errors
        rejected_at: list[float] = []

        def first_is_429(faults: Faults) -> None:
            if not rejected_at:
                rejected_at.append(time.time())
                raise GraphError(130429, "throughput", http_status=429, retry_after_s=2)
            roll(faults)

        monkeypatch.setattr(graph, "_roll_errors", first_is_429)
        for user in users:
            assert (await st.phone.send_text(user, f"halo {user}")).status == 200
        await until(lambda: len(st.simulator.sent) >= len(users), timeout=30, what="replies")
        sent = list(st.simulator.sent)
    assert Counter(m.to for m in sent) == Counter(users)
    # Requests already on their way when the 429 was answered may land just after it.
    early = [m for m in sent if rejected_at[0] + 0.3 < m.received_at < rejected_at[0] + 2.0]
    assert not early, f"{len(early)} send(s) inside the Retry-After of the number"


async def test_pacing_one_recipient_here_spends_no_retry_attempt(tmp_path: Path) -> None:
    """A reply held back by the local pair-rate bucket was never sent: once it goes out,
    it is on its first attempt (pacing used to eat into the budget of real failures)."""
    user = "6281330000001"
    async with DemoStack(
        tmp_path, bot="echo", statuses=False, settings_overrides={"mark_read": False}
    ) as st:
        sender = st.runtime.sender
        assert sender is not None
        sender._pairs = RecipientBuckets(capacity=1, refill_per_second=2.0)
        for i in range(4):
            assert (await st.phone.send_text(user, f"pesan {i}")).status == 200
        await until(lambda: len(st.simulator.sent) >= 4, timeout=30, what="replies")
        await until(
            lambda: rows(st, "select count(*) from outbox where state = 'sent'")[0][0] == 4,
            what="rows recorded as sent",
        )
        assert rows(st, "select attempts from outbox order by id") == [(1,)] * 4
        deferred = rows(st, "select count(*) from send_attempts where outcome = 'deferred'")
    assert deferred[0][0] >= 1, "nothing was paced: the test did not exercise the bucket"
    assert [m.body["text"]["body"] for m in st.simulator.sent] == [f"pesan {i}" for i in range(4)]
