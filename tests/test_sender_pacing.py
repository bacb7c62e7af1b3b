"""The send-rate cap measured where it counts: at the simulator, with jitter and 429 retries."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from aman.demo import DemoStack
from helpers import until
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
