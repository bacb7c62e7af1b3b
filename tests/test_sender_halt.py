"""An expired token (190), a policy block (368) or a locked account (131031) halts a
number's sends: its messages wait and go out once the cause is fixed, none is failed,
and the monitor raises one critical alert."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aman.demo import DemoStack
from aman.outbox import sender as sender_module
from helpers import rows, until

pytestmark = pytest.mark.anyio


async def test_an_expired_token_keeps_the_replies_until_it_is_renewed(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_module, "HALT_WAIT", 0.5)
    monkeypatch.setattr(sender_module, "THROUGHPUT_HOLD_MAX", 0.2)
    users = [f"62813200{i:05d}" for i in range(6)]
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"database_url": db_url, "mark_read": False},
    ) as st:
        graph = st.simulator._graph
        good = graph._auth
        graph._auth = b"Bearer a-token-meta-no-longer-accepts"  # the token expired at Meta
        for user in users:
            assert (await st.phone.send_text(user, f"halo {user}")).status == 200
        await until(
            lambda: st.simulator.stats()["rejected"].get("190", 0) >= len(users),
            timeout=20,
            what="every reply refused with 190",
        )
        # Refused, but neither failed nor counted against the retry budget.
        states = rows(st, "select state, attempts, error_code from outbox")
        assert len(states) == len(users)
        assert {s for s, _, _ in states} <= {"todo", "sending"}, states
        assert all(a <= 1 for _, a, _ in states), states
        assert not st.simulator.sent
        monitor = st.runtime.monitor

        def alerted() -> list[tuple[str, str]]:
            monitor.flush()
            return rows(st, "select severity from alerts where kind = 'sending_halted'")

        assert await until(alerted, what="the sending_halted alert") == [("critical",)]
        graph._auth = good  # an admin renewed the token
        await until(lambda: len(st.simulator.sent) >= len(users), timeout=20, what="replies")
        await until(
            lambda: rows(st, "select count(*) from outbox where state = 'sent'")[0][0]
            == len(users),
            what="rows recorded as sent",
        )
        sent = Counter(m.to for m in st.simulator.sent)
    assert sent == Counter(users)  # each reply exactly once
    assert rows(st, "select outcome from send_attempts where outcome = 'halted'")
