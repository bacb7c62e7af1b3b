"""A status that arrives by wamid alone before the sender has written that wamid.

Meta documents ``biz_opaque_callback_data`` only on sent/delivered/read statuses, so a
``failed`` status (131026 undeliverable, or 131047 reported after a 200) finds its
outbox row by wamid.  It can be stored before the send's outcome (with the wamid) is
committed; the row must still end up carrying the failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aman.demo import DemoStack
from aman.outbox.repository import SendOutcome
from helpers import envelope, post, rows, scalar, status, until

pytestmark = pytest.mark.anyio


async def test_a_failed_status_before_the_sent_outcome_is_linked_to_its_row(
    tmp_path: Path, db_url: str
) -> None:
    overrides = {"database_url": db_url, "mark_read": False}
    async with DemoStack(tmp_path, bot="echo", statuses=False, settings_overrides=overrides) as st:
        sender = st.runtime.sender
        assert sender is not None
        real = sender._results.submit
        early: list[str] = []

        async def status_first(outcome: SendOutcome) -> None:
            if outcome.outcome == "sent" and outcome.wamid and not early:
                early.append(outcome.wamid)
                body = envelope(statuses=[status(outcome.wamid, "failed", code=131026)])
                assert (await post(st, body))[0] == 200
                await until(
                    lambda: scalar(st, "select count(*) from status_events") == 1,
                    what="status stored",
                )
            await real(outcome)

        sender._results.submit = status_first  # type: ignore[method-assign]
        assert (await st.phone.send_text("6281234500095", "halo")).status == 200
        await until(lambda: early, what="a sent outcome")
        await until(
            lambda: rows(st, "select state from outbox where kind = 'message'") == [("sent",)],
            what="sent recorded",
        )
        assert rows(
            st, "select wamid, delivery_status, error_code from outbox where kind = 'message'"
        ) == [(early[0], "failed", 131026)]
