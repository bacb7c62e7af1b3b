"""Exactly once around outages: an uncertain send is not resent while its status webhook
is still on its way back, and a sender judged dead does not send what it had claimed.

Both failures are a customer getting the same reply twice; the chaos run hit them
after a PostgreSQL restart.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from aman.demo import DemoStack
from aman.outbox.repository import OutboxRepository, SendOutcome
from aman.storage import workers
from aman.storage.db import make_engine
from aman.storage.groupcommit import StorageUnavailable
from aman.storage.migrate import upgrade
from aman.storage.models import Worker
from helpers import rows, scalar, until

pytestmark = pytest.mark.anyio


def database_away(monkeypatch: pytest.MonkeyPatch, seconds: float) -> float:
    """Housekeeping cannot reach the database for ``seconds``; returns when it can again."""
    real_heartbeat, back_at = workers.heartbeat, time.time() + seconds

    def heartbeat(*args: Any, **kwargs: Any) -> bool:
        if time.time() < back_at:
            raise OperationalError("UPDATE workers", {}, ConnectionError("test: away"))
        return real_heartbeat(*args, **kwargs)

    monkeypatch.setattr(workers, "heartbeat", heartbeat)
    return back_at


def short_window(tmp_path: Path, db_url: str, *, statuses: bool, **simulator: Any) -> DemoStack:
    """An echo stack whose uncertain sends are resent after 1 s (0.3 s Graph timeout)."""
    return DemoStack(
        tmp_path,
        bot="echo",
        statuses=statuses,
        settings_overrides={
            "database_url": db_url,
            "mark_read": False,
            "graph_timeout": 0.3,
            "reconcile_seconds": 1.0,
            "worker_stale_seconds": 1.0,
        },
        simulator_options=simulator or None,
    )


def paced_stack(tmp_path: Path, db_url: str) -> DemoStack:
    """An echo stack that sends one reply per 2 s (claims wait for the pace), with 1 s
    stale and reconcile periods."""
    return DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={
            "database_url": db_url,
            "mark_read": False,
            "send_rate": 0.5,
            "reconcile_seconds": 1.0,
            "worker_stale_seconds": 1.0,
        },
    )


async def one_sent_two_claimed(st: DemoStack) -> None:
    """Wait until the first reply's result is recorded and the other two rows are claimed.

    Counting 'sending' alone could include the first reply before its result commits,
    with the third row not claimed yet: that row would then be claimed after a
    re-registration and rightly be sent without reconciliation.
    """
    await until(
        lambda: (
            rows(st, "select state, count(*) from outbox group by state order by state")
            == [("sending", 2), ("sent", 1)]
        ),
        what="one sent, two claims waiting",
    )


async def uncertain_send(st: DemoStack, user: str, *, meta_takes_it: bool) -> None:
    """A customer message whose reply times out at the Graph API: the send is uncertain."""
    st.simulator.set_faults(rate_timeout=1.0, timeout_accepts=meta_takes_it, timeout_hang_s=1.0)
    assert (await st.phone.send_text(user, "halo")).status == 200
    await until(lambda: scalar(st, "select state from outbox") == "uncertain", what="uncertain")
    st.simulator.set_faults(rate_timeout=0.0)


async def test_a_status_refused_during_an_outage_still_settles_the_send(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    retries = (0.5,) * 10
    async with short_window(tmp_path, db_url, statuses=True, webhook_retry_delays=retries) as st:
        ingestor = st.runtime.ingestor
        assert ingestor is not None
        real_submit = ingestor.committer.submit
        refused: list[float] = []

        async def submit(batch: Any) -> None:
            # Status webhooks are refused while the database is away (2.5 s).
            if batch.statuses and (not refused or time.time() - refused[0] < 2.5):
                if not refused:
                    database_away(monkeypatch, 2.5)
                refused.append(time.time())
                raise StorageUnavailable("test: the database is away")
            await real_submit(batch)

        monkeypatch.setattr(ingestor.committer, "submit", submit)
        await uncertain_send(st, "6281234500041", meta_takes_it=True)
        await until(
            lambda: scalar(st, "select settled_by from outbox") is not None,
            timeout=15,
            what="the send settled",
        )
        # The status came back on a retry, more than the 1 s window after it was refused.
        assert refused[-1] - refused[0] >= 2.0
        assert scalar(st, "select settled_by from outbox") == "status"
        assert len(st.simulator.sent) == 1 and st.simulator.stats()["duplicates"] == 0


async def test_a_sender_judged_dead_gives_up_the_rows_it_had_claimed(
    tmp_path: Path, db_url: str
) -> None:
    users = [f"62812345000{i}" for i in range(5, 8)]
    async with paced_stack(tmp_path, db_url) as st:
        for user in users:
            assert (await st.phone.send_text(user, f"halo {user}")).status == 200
        # One goes out at once; the sender holds the other two back for the pace (1 per 2 s).
        await st.simulator.wait_for_sent(1, 10)
        first = st.runtime.worker_id
        incarnation = st.runtime.incarnation
        await one_sent_two_claimed(st)
        # A peer judged us dead (we stalled): our row goes, the claims are reconciled.
        with st.runtime.engine.begin() as conn:
            conn.execute(text("DELETE FROM workers WHERE id = :id"), {"id": first})
        await until(lambda: st.runtime.incarnation > incarnation, what="re-registered")
        await st.simulator.wait_for_sent(3, 20)
        await until(
            lambda: scalar(st, "select count(*) from outbox where state = 'sent'") == 3,
            timeout=15,
            what="all sent",
        )
        settled = rows(st, "select settled_by from outbox order by id")
        assert [s for (s,) in settled].count("resent") == 2
    assert sorted(m.to for m in st.simulator.sent) == users  # each exactly once


async def test_a_sender_that_stalled_past_its_heartbeat_does_not_send_what_it_had_claimed(
    tmp_path: Path, db_url: str
) -> None:
    users = [f"62812345001{i}" for i in range(5, 8)]
    async with paced_stack(tmp_path, db_url) as st:
        sender = st.runtime.sender
        assert sender is not None
        # Which registration of ours each Graph API request left under.
        sent_as: list[int] = []
        real_send = sender._graph.send

        async def send(*args: Any) -> Any:
            sent_as.append(st.runtime.incarnation)
            return await real_send(*args)

        sender._graph.send = send  # type: ignore[method-assign,assignment]
        for user in users:
            assert (await st.phone.send_text(user, f"halo {user}")).status == 200
        await st.simulator.wait_for_sent(1, 10)
        await one_sent_two_claimed(st)
        judged_dead = st.runtime.incarnation
        # The event loop stalls (a blocking call, a long pause).  Meanwhile a peer judges
        # us dead, reconciles our two claims and, no status coming, releases them to be
        # sent again; the pace we were waiting for has passed when we wake up.
        with st.runtime.engine.begin() as conn:
            conn.execute(text("DELETE FROM workers WHERE id = :id"), {"id": st.runtime.worker_id})
            peer, now = OutboxRepository(st.runtime.dialect), time.time()
            assert peer.reap(conn, now, 1.0)[0] == 2  # uncertain
            assert peer.reap(conn, now + 1.5, 1.0)[2] == 2  # to be sent again
        time.sleep(2.5)  # blocks the event loop: the stall is the point
        await until(
            lambda: scalar(st, "select count(*) from outbox where state = 'sent'") == 3,
            timeout=20,
            what="all sent",
        )
        await asyncio.sleep(1.5)  # a second copy would come within a reconcile window
    # Nothing left under the registration that had been judged dead: in production the
    # peer would have sent those rows again by then.
    assert sent_as == [judged_dead, judged_dead + 1, judged_dead + 1]
    assert sorted(m.to for m in st.simulator.sent) == users  # each exactly once


async def test_an_uncertain_outcome_written_late_gets_a_whole_window(
    tmp_path: Path, db_url: str
) -> None:
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"database_url": db_url, "mark_read": False, "send_rate": 0.5},
    ) as st:
        sender = st.runtime.sender
        assert sender is not None
        for user in ("6281234500051", "6281234500052"):
            assert (await st.phone.send_text(user, "halo")).status == 200
        await st.simulator.wait_for_sent(1, 10)
        # The second reply waits 2 s for the pace, in state 'sending'.
        row_id = await until(
            lambda: scalar(st, "select id from outbox where state = 'sending'"), what="row"
        )
        # The attempt timed out 60 s ago, during an outage; only now can it be written.
        long_ago = time.time() - 60.0
        late = SendOutcome(row_id, 1, "uncertain", long_ago, 700.0, next_attempt_at=long_ago + 30)
        with st.runtime.engine.begin() as conn:
            sender._record(conn, [late])
        reconcile_by = scalar(st, "select reconcile_by from outbox where id = :id", id=row_id)
        assert reconcile_by >= time.time() + 29.0


def test_stale_heartbeats_are_judged_only_when_asked(tmp_path: Path, db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    now = time.time()
    with engine.begin() as conn:
        stale = conn.execute(
            insert(Worker)
            .values(role="sender", host="elsewhere", pid=1, started_at=now, heartbeat_at=now - 60)
            .returning(Worker.id)
        ).scalar_one()
        # Just after an outage nobody has beaten: a stale row elsewhere is not a death.
        assert workers.dead_workers(conn, 5.0, now, judge_heartbeats=False) == []
        assert workers.dead_workers(conn, 5.0, now) == [stale]
    engine.dispose()


async def test_a_failed_housekeeping_defers_the_resend_of_uncertain_sends(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with short_window(tmp_path, db_url, statuses=False) as st:
        # The request never reaches "Meta": uncertain, to be resent after a 1 s window.
        await uncertain_send(st, "6281234500061", meta_takes_it=False)
        # Housekeeping cannot reach the database for 2.5 s, as while it restarts.
        back_at = database_away(monkeypatch, 2.5)
        await until(lambda: time.time() > back_at + 1.0, timeout=10, what="the outage over")
        # The window ran out during the outage, but the resend waits as long again.
        assert scalar(st, "select state from outbox") == "uncertain"
        await until(
            lambda: scalar(st, "select settled_by from outbox") == "resent",
            timeout=15,
            what="resent",
        )
        await st.simulator.wait_for_sent(1, 10)
        assert len(st.simulator.sent) == 1


async def test_only_an_unreachable_database_is_an_outage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with DemoStack(tmp_path, bot="echo", statuses=False) as st:
        runtime = st.runtime

        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("test: a bug in the scheduler's work")

        monkeypatch.setattr("aman.runtime.run_due", broken)
        with pytest.raises(RuntimeError):
            runtime._housekeeping()
        assert runtime._outage_since is None
        # Nor is an error in the transaction that is not the database going away.
        monkeypatch.setattr(workers, "heartbeat", broken)
        with pytest.raises(RuntimeError):
            runtime._housekeeping()
        assert runtime._outage_since is None
