"""bench.scaleout helpers: the throw-away database, the exactly-once check, the table."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from bench.scaleout import database_check, fresh_database, render_table

from aman.storage.db import make_engine
from aman.storage.migrate import upgrade

PG_URL = os.environ.get("AMAN_TEST_POSTGRES_URL", "")


def _step(**over: object) -> dict[str, object]:
    step: dict[str, object] = {
        "kind": "step",
        "offered_rate": 100.0,
        "requests": 1000,
        "acked": 1000,
        "replies": 1000,
        "reply_rate": 99.5,
        "within_1s": 0.995,
        "duplicate_replies": 0,
        "lost_replies": 0,
        "late_at_cutoff": 0,
        "exactly_once_at_simulator": True,
        "runq_wait_cores": 0.1,
        "load_avg": "0.50 0.40 0.30",
        "e2e_latency_ms": {"p50": 12.34, "p99": 250.0},
        "cpu_cores": {"web": 0.2, "workers": 0.3, "sender": 0.1, "postgres": 0.2},
    }
    step.update(over)
    return step


def test_table_row_says_no_when_either_check_fails() -> None:
    runs = [
        {"workers": 1, "database": {"exactly_once": True}, "steps": [_step()]},
        {"workers": 2, "database": {"exactly_once": False}, "steps": [_step()]},
        {
            "workers": 4,
            "database": {"exactly_once": True},
            "steps": [_step(exactly_once_at_simulator=False, duplicate_replies=3)],
        },
    ]
    rows = render_table(runs).splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2", "4"]
    assert [row.split("|")[13].strip() for row in rows] == ["yes", "NO", "NO"]
    assert "| 12.3 | 250 |" in rows[0] and "| 99.5% |" in rows[0]


@pytest.mark.postgres
def test_fresh_database_is_dropped_and_checks_exactly_once() -> None:
    if not PG_URL:
        pytest.skip("set AMAN_TEST_POSTGRES_URL to run the PostgreSQL variant")
    with fresh_database(PG_URL) as url:
        name = url.rsplit("/", 1)[1]
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        assert not database_check(url)["exactly_once"]  # nothing stored: nothing proven
        now = time.time()
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(2):
                conn.execute(
                    "INSERT INTO inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
                    "payload_enc, msg_ts, received_at, status, attempts, not_before) "
                    "VALUES ('t', 'p', %s, 'c', 'text', '\\x00', 0, %s, 'done', 1, 0)",
                    (f"wamid.{i}", now),
                )
            ids = [r[0] for r in conn.execute("SELECT id FROM inbox ORDER BY id").fetchall()]

            def reply(ref: str, inbox_id: int, seq: int = 0) -> None:
                conn.execute(
                    "INSERT INTO outbox (tenant, phone_number_id, ref, inbox_id, seq, kind, "
                    "contact_ix, body_enc, state, attempts, next_attempt_at, status_rank, "
                    "created_at) VALUES ('t', 'p', %s, %s, %s, 'message', 'c', '\\x00', 'sent', "
                    "1, 0, 0, %s)",
                    (ref, inbox_id, seq, now),
                )

            reply("r0", ids[0])
            reply("r1", ids[1])
            assert database_check(url)["exactly_once"]
            reply("r2", ids[1], seq=1)  # the echo bot answers once: two replies is a bug
            check = database_check(url)
            assert not check["exactly_once"]
            assert check["replies_per_message"] == {"1": 1, "2": 1}
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        gone = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        assert gone.fetchone() == (0,)
