"""End to end through the simulator: ordering, retries, permanent errors, reconciliation."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from aman.demo import DemoStack
from aman.engine.bot import BotResult, Incoming, Reply, text_reply
from helpers import envelope, post, rows, scalar, status, text_body, until

pytestmark = pytest.mark.anyio


def texts(stack: DemoStack, to: str | None = None) -> list[str]:
    return [
        m.body["text"]["body"]
        for m in stack.simulator.sent
        if m.type == "text" and (to is None or m.to == to)
    ]


async def test_one_conversation_is_answered_strictly_in_order(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(
        tmp_path, bot="echo", statuses=False, settings_overrides={"database_url": db_url}
    ) as st:
        for i in range(12):
            assert (await st.phone.send_text("6281234500001", f"pesan {i}")).status == 200
        await st.simulator.wait_for_sent(12, 15)
        assert texts(st) == [f"pesan {i}" for i in range(12)]
        assert len(st.simulator.state.read_receipts) == 12


async def test_many_conversations_in_parallel_each_in_order(tmp_path: Path, db_url: str) -> None:
    users = [f"62812000{i:05d}" for i in range(40)]

    async def talk(user: str) -> None:
        for i in range(3):
            assert (await st.phone.send_text(user, f"{user}-{i}")).status == 200

    async with DemoStack(
        tmp_path, bot="echo", statuses=True, settings_overrides={"database_url": db_url}
    ) as st:
        await asyncio.gather(*(talk(u) for u in users))
        await st.simulator.wait_for_sent(120, 20)
        for u in users:
            assert texts(st, u) == [f"{u}-{i}" for i in range(3)]
        assert st.simulator.stats()["duplicates"] == 0
        await st.simulator.drain_statuses(5)
        await until(
            lambda: (
                scalar(
                    st,
                    "select count(*) from outbox where kind = 'message' "
                    "and delivery_status = 'read'",
                )
                == 120
            ),
            what="read statuses",
        )


async def test_window_closed_is_recorded_not_retried(tmp_path: Path, db_url: str) -> None:
    # The webhook comes straight in (the simulator never saw the customer write), so
    # the simulator's 24-hour window is closed and a free-form reply fails with 131047.
    async with _echo_stack(tmp_path, db_url) as st:
        assert (await post(st, text_body("wamid.WIN1", body="halo")))[0] == 200
        await until(lambda: scalar(st, "select state from outbox") == "failed", what="failure")
        assert rows(st, "select error_code, attempts from outbox") == [(131047, 1)]
        await asyncio.sleep(0.5)
        assert st.simulator.stats()["rejected"] == {131047: 1} or st.simulator.stats()[
            "rejected"
        ] == {"131047": 1}


def _echo_stack(tmp_path: Path, db_url: str) -> DemoStack:
    """The echo bot on ``db_url``, no statuses from the simulator, no read receipts."""
    return DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"database_url": db_url, "mark_read": False},
    )


class TemplateFallbackBot:
    name = "fallback-test"

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        return BotResult(
            (
                Reply(
                    {"type": "text", "text": {"body": "free form"}},
                    fallback={
                        "type": "template",
                        "template": {"name": "hello_world", "language": {"code": "en_US"}},
                    },
                ),
            ),
            state,
        )


async def test_window_closed_falls_back_to_template(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(
        tmp_path,
        bot=TemplateFallbackBot(),
        statuses=False,
        settings_overrides={"database_url": db_url, "mark_read": False},
    ) as st:
        assert (await post(st, text_body("wamid.WIN2", body="halo")))[0] == 200
        sent = await st.simulator.wait_for_sent(1, 10)
        assert sent[0].type == "template"
        await until(lambda: scalar(st, "select state from outbox") == "sent", what="sent")
        assert rows(st, "select outcome, error_code from send_attempts order by id") == [
            ("fallback", 131047),
            ("sent", None),
        ]


def _window_reported_later(tmp_path: Path, db_url: str, *, statuses: bool) -> DemoStack:
    """The fallback bot behind a simulator that accepts a send outside the window and
    reports 131047 in a failed status instead."""
    return DemoStack(
        tmp_path,
        bot=TemplateFallbackBot(),
        statuses=statuses,
        settings_overrides={"database_url": db_url, "mark_read": False},
        simulator_options={"window_closed_as_status": True},
    )


async def test_a_window_closed_reported_by_status_falls_back_to_template(
    tmp_path: Path, db_url: str
) -> None:
    """Meta often accepts the free-form send and reports 131047 later, in a failed status
    (here with the callback ref): the reply still goes out as its template, once."""
    async with _window_reported_later(tmp_path, db_url, statuses=True) as st:
        assert (await post(st, text_body("wamid.WIN3", body="halo")))[0] == 200
        sent = await st.simulator.wait_for_sent(2, 15)
        assert [m.type for m in sent] == ["text", "template"]
        await st.simulator.drain_statuses(5)
        await until(
            lambda: scalar(st, "select delivery_status from outbox") in ("delivered", "read"),
            what="the template's statuses",
        )
        assert rows(st, "select state, wamid, error_code from outbox") == [
            ("sent", sent[1].wamid, 131047)
        ]
        assert len(st.simulator.sent) == 2


async def test_a_window_closed_status_by_message_id_alone_falls_back_too(
    tmp_path: Path, db_url: str
) -> None:
    """A failed status need not carry the callback ref: found by its message id."""
    async with _window_reported_later(tmp_path, db_url, statuses=False) as st:
        assert (await post(st, text_body("wamid.WIN4", body="halo")))[0] == 200
        [first] = await st.simulator.wait_for_sent(1, 10)
        await until(lambda: scalar(st, "select wamid from outbox") == first.wamid, what="wamid")
        failed = status(first.wamid, "failed", code=131047)
        assert (await post(st, envelope(statuses=[failed])))[0] == 200
        sent = await st.simulator.wait_for_sent(2, 10)
        assert sent[1].type == "template"
        await until(lambda: scalar(st, "select wamid from outbox") == sent[1].wamid, what="sent")
        # The same failed status delivered again finds nothing to fall back from.
        assert (await post(st, envelope(statuses=[failed])))[0] == 200
        await asyncio.sleep(1.5)
        assert len(st.simulator.sent) == 2
        assert scalar(st, "select state from outbox") == "sent"


async def test_429_is_retried_after_retry_after(tmp_path: Path, db_url: str) -> None:
    async with _echo_stack(tmp_path, db_url) as st:
        st.simulator.set_faults(rate_429=1.0, retry_after_s=1)
        assert (await st.phone.send_text("6281234500002", "coba lagi")).status == 200
        await until(lambda: scalar(st, "select count(*) from send_attempts") >= 1, what="attempt")
        st.simulator.set_faults(rate_429=0.0)
        sent = await st.simulator.wait_for_sent(1, 10)
        assert sent[0].body["text"]["body"] == "coba lagi"
        attempts = rows(
            st, "select outcome, http_status, error_code, at from send_attempts order by id"
        )
        await until(lambda: len(rows(st, "select id from send_attempts")) >= 2, what="2 attempts")
        attempts = rows(
            st, "select outcome, http_status, error_code, at from send_attempts order by id"
        )
        assert attempts[0][:3] == ("retry", 429, 130429)
        assert attempts[-1][0] == "sent"
        assert attempts[-1][3] - attempts[0][3] >= 1.0  # honoured Retry-After: 1


async def test_pair_rate_limit_is_retried_after_4_to_the_n_seconds(
    tmp_path: Path, db_url: str
) -> None:
    """Meta: after 131056 wait 4^X seconds (X = failed tries so far), not a 2^X back-off."""
    async with _echo_stack(tmp_path, db_url) as st:
        st.simulator.set_faults(rate_131056=1.0)
        assert (await st.phone.send_text("6281234500004", "cepat")).status == 200
        await until(lambda: scalar(st, "select count(*) from send_attempts") >= 2, what="2 tries")
        st.simulator.set_faults(rate_131056=0.0)
        await st.simulator.wait_for_sent(1, 15)
        await until(lambda: scalar(st, "select state from outbox") == "sent", what="sent")
        attempts = rows(st, "select outcome, error_code, at from send_attempts order by id")
        assert [a[:2] for a in attempts[:2]] == [("retry", 131056), ("retry", 131056)]
        assert attempts[1][2] - attempts[0][2] >= 1.0
        assert attempts[2][2] - attempts[1][2] >= 4.0


async def test_5xx_is_retried_with_backoff(tmp_path: Path, db_url: str) -> None:
    async with _echo_stack(tmp_path, db_url) as st:
        st.simulator.set_faults(rate_5xx=1.0)
        assert (await st.phone.send_text("6281234500003", "server error")).status == 200
        await until(lambda: scalar(st, "select count(*) from send_attempts") >= 1, what="attempt")
        st.simulator.set_faults(rate_5xx=0.0)
        await st.simulator.wait_for_sent(1, 10)
        await until(lambda: scalar(st, "select state from outbox") == "sent", what="sent")
        outcomes = [r[0] for r in rows(st, "select outcome from send_attempts order by id")]
        assert outcomes[0] == "retry" and outcomes[-1] == "sent"


async def test_timeout_after_accept_is_reconciled_by_status_not_resent(
    tmp_path: Path, db_url: str
) -> None:
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=True,
        settings_overrides={
            "database_url": db_url,
            "mark_read": False,
            "graph_timeout": 0.5,
            "reconcile_seconds": 30.0,
        },
        # The "sent" status comes after our request timed out (1.0 s > 0.5 s).
        simulator_options={"status_delays": (1.0, 0.05, 0.05)},
    ) as st:
        st.simulator.set_faults(rate_timeout=1.0, timeout_accepts=True, timeout_hang_s=2.0)
        assert (await st.phone.send_text("6281234500004", "hilang di jalan")).status == 200
        await until(
            lambda: scalar(st, "select settled_by from outbox") == "status",
            timeout=15,
            what="settled by the status webhook",
        )
        st.simulator.set_faults(rate_timeout=0.0)
        assert scalar(st, "select state from outbox") == "sent"
        assert rows(st, "select outcome from send_attempts") == [("uncertain",)]
        assert len(st.simulator.sent) == 1 and st.simulator.stats()["duplicates"] == 0


async def test_uncertain_without_status_is_resent_after_deadline(
    tmp_path: Path, db_url: str
) -> None:
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={
            "database_url": db_url,
            "mark_read": False,
            "graph_timeout": 0.5,
            "reconcile_seconds": 1.0,
            "worker_stale_seconds": 1.0,
        },
    ) as st:
        # The request never reaches "Meta" (timeout without accepting), and no status
        # comes back: after the reconciliation window it is sent again, once.
        st.simulator.set_faults(rate_timeout=1.0, timeout_accepts=False, timeout_hang_s=2.0)
        assert (await st.phone.send_text("6281234500005", "kirim ulang")).status == 200
        await until(lambda: scalar(st, "select state from outbox") == "uncertain", what="uncertain")
        st.simulator.set_faults(rate_timeout=0.0)
        await st.simulator.wait_for_sent(1, 15)
        await until(lambda: scalar(st, "select state from outbox") == "sent", what="sent")
        assert scalar(st, "select settled_by from outbox") == "resent"
        assert len(st.simulator.sent) == 1


class BrokenBot:
    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        self.calls += 1
        if msg.text == "boom" and self.calls < 2:
            raise RuntimeError("adapter down")
        return BotResult((text_reply(f"ok {msg.text}"),), state)


async def test_a_failing_bot_does_not_block_other_messages(tmp_path: Path, db_url: str) -> None:
    bot = BrokenBot()
    async with DemoStack(
        tmp_path,
        bot=bot,
        statuses=False,
        settings_overrides={"database_url": db_url, "mark_read": False},
    ) as st:
        await st.phone.send_text("6281234500006", "boom")
        await st.phone.send_text("6281234500007", "fine")
        sent = await st.simulator.wait_for_sent(2, 10)
        assert sorted(m.body["text"]["body"] for m in sent) == ["ok boom", "ok fine"]
        assert scalar(st, "select count(*) from inbox where status = 'done'") == 2


async def test_status_for_unknown_message_is_stored(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(
        tmp_path, bot="echo", statuses=False, settings_overrides={"database_url": db_url}
    ) as st:
        code, _ = await post(st, envelope(statuses=[status("wamid.UNKNOWN", "delivered")]))
        assert code == 200
        assert scalar(st, "select count(*) from status_events") == 1


async def test_each_business_number_gets_its_own_bot(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="shop", statuses=False,
                         extra_bots={"106540352242933": ("6281100000002", "bank")}) as st:
        await st.phone.send_text("6281234500008", "halo")
        await st.phone.for_number("106540352242933").send_text("6281234500008", "halo")
        sent = await st.simulator.wait_for_sent(2, 10)
        by_number = {m.to: m.body["interactive"]["body"]["text"] for m in sent}
        assert len(by_number) == 1  # same customer...
        greetings = [m.body["interactive"]["body"]["text"] for m in sent]
        assert sum("Bank Aman" in g for g in greetings) == 1, greetings  # ...two bots
        assert sum("Aman Shop" in g for g in greetings) == 1, greetings


async def test_secrets_typed_by_a_customer_get_a_warning(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="bank", statuses=False) as st:
        await st.phone.send_text("6281234500009", "PIN saya 123456 tolong cek saldo")
        sent = await st.simulator.wait_for_sent(2, 10)
        warning = sent[0].body["text"]["body"]
        assert "PIN" in warning and "123456" not in warning
