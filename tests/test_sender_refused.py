"""A send outcome the database refuses is written without the Graph API's values.

The reply went out; its row must end 'sent' (not be reconciled into a resend).
Here the Graph API's answer carries a wamid another row already has, which the
unique index on outbox.wamid refuses, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from aman.demo import DemoStack
from aman.outbox.repository import SendOutcome
from helpers import rows, until

pytestmark = pytest.mark.anyio


async def test_a_refused_sent_outcome_still_settles_the_row_as_sent(
    tmp_path: Path, db_url: str
) -> None:
    overrides = {"database_url": db_url, "reconcile_seconds": 0.5}
    async with DemoStack(tmp_path, bot="echo", statuses=False, settings_overrides=overrides) as st:
        sender = st.runtime.sender
        assert sender is not None
        assert (await st.phone.send_text("6281234500093", "satu")).status == 200
        await st.simulator.wait_for_sent(1, 15)
        await until(
            lambda: rows(st, "select wamid from outbox where kind = 'message' and state = 'sent'"),
            what="first reply recorded",
        )
        taken = rows(st, "select wamid from outbox where kind = 'message'")[0][0]
        real = sender._results.submit
        changed: list[int] = []

        async def clashing(outcome: SendOutcome) -> None:
            if (
                outcome.outcome == "sent"
                and outcome.wamid
                and outcome.wamid != taken
                and not changed
            ):
                changed.append(outcome.outbox_id)
                outcome = replace(outcome, wamid=taken)
            await real(outcome)

        sender._results.submit = clashing  # type: ignore[method-assign]
        assert (await st.phone.send_text("6281234500094", "dua")).status == 200
        await until(lambda: changed, what="an outcome refused")
        row_id = changed[0]
        await until(
            lambda: rows(st, "select state from outbox where id = :i", i=row_id) == [("sent",)],
            what="the refused row settled as sent",
        )
        await asyncio.sleep(1.5)  # three reconcile windows: a resend would have happened
        assert rows(st, "select state, wamid from outbox where id = :i", i=row_id) == [
            ("sent", None)
        ]
    texts = sorted(m.body["text"]["body"] for m in st.simulator.sent if m.type == "text")
    assert texts == ["dua", "satu"]
