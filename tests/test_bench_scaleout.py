"""bench.scaleout helpers: the throw-away database, the exactly-once check (PostgreSQL and
SQLite), the tables."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest
from bench.scaleout import (
    Setup,
    database_check,
    fresh_database,
    render_summary,
    render_table,
    setups,
)
from sqlalchemy import text

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


def _run(
    database: str, workers: int, ok: bool, steps: list[dict[str, object]]
) -> dict[str, object]:
    setup = Setup(database, workers)
    return {
        "database": database,
        "workers": workers,
        "processes": setup.processes,
        "check": {"exactly_once": ok},
        "steps": steps,
    }


def test_table_row_says_no_when_either_check_fails() -> None:
    runs = [
        _run("postgresql", 1, True, [_step()]),
        _run("postgresql", 2, False, [_step()]),
        _run("postgresql", 4, True, [_step(exactly_once_at_simulator=False, duplicate_replies=3)]),
        _run("sqlite", 1, True, [_step(cpu_cores={"all": 0.9, "sim": 0.1})]),
    ]
    rows = render_table(runs).splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == ["PostgreSQL"] * 3 + ["SQLite (WAL)"]
    assert [row.split("|")[2].strip() for row in rows] == [
        "1 worker + web + sender",
        "2 workers + web + sender",
        "4 workers + web + sender",
        "1 (`--role all`)",
    ]
    assert [row.split("|")[14].strip() for row in rows] == ["yes", "NO", "NO", "yes"]
    assert "| 12.3 | 250 |" in rows[0] and "| 99.5% |" in rows[0]
    assert "| web 0.2, workers 0.3, sender 0.1, postgres 0.2 |" in rows[0]
    assert "| all 0.9 |" in rows[3]


def test_summary_gives_each_setup_its_saturation_capacity() -> None:
    sat = _step(kind="saturation", offered_rate=1000.0, reply_rate=640.2)
    runs = [
        _run("postgresql", 1, True, [_step(), sat]),
        _run("sqlite", 1, True, [_step(), _step(kind="saturation", reply_rate=880.0,
                                                 offered_rate=1000.0)]),
        _run("postgresql", 2, True, [_step(), _step(kind="saturation", reply_rate=700.0,
                                                    exactly_once_at_simulator=False)]),
    ]
    rows = render_summary(runs).splitlines()[2:]
    assert rows[0] == (
        "| PostgreSQL | 1 worker + web + sender | 640.2 | 1,000 | 250 @ 100/s | yes |"
    )
    assert rows[1].startswith("| SQLite (WAL) | 1 (`--role all`) | 880.0 |")
    assert rows[2].endswith("| NO |")  # one bad step makes the setup fail


def test_setups_run_postgres_counts_then_sqlite_unless_skipped() -> None:
    assert [s.key for s in setups([1, 2, 4], sqlite=True)] == ["pg1", "pg2", "pg4", "sqlite"]
    assert [s.key for s in setups([1, 2, 4], sqlite=False)] == ["pg1", "pg2", "pg4"]
    assert [s.key for s in setups([], sqlite=True)] == ["sqlite"]


def _insert_messages(url: str, replies: list[int]) -> None:
    """One done inbound message per entry, with that many sent replies."""
    engine = make_engine(url)
    now = time.time()
    try:
        with engine.begin() as conn:
            for i, n in enumerate(replies):
                inbox_id = conn.execute(
                    text(
                        "INSERT INTO inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
                        "payload_enc, msg_ts, received_at, status, attempts, not_before) "
                        "VALUES ('t', 'p', :wamid, 'c', 'text', :blob, 0, :now, 'done', 1, 0) "
                        "RETURNING id"
                    ),
                    {"wamid": f"wamid.{i}", "blob": b"\x00", "now": now},
                ).scalar_one()
                for seq in range(n):
                    conn.execute(
                        text(
                            "INSERT INTO outbox (tenant, phone_number_id, ref, inbox_id, seq, "
                            "kind, contact_ix, body_enc, state, attempts, next_attempt_at, "
                            "status_rank, created_at) VALUES ('t', 'p', :ref, :inbox, :seq, "
                            "'message', 'c', :blob, 'sent', 1, 0, 0, :now)"
                        ),
                        {"ref": f"r{i}.{seq}", "inbox": inbox_id, "seq": seq, "blob": b"\x00",
                         "now": now},
                    )
    finally:
        engine.dispose()


def test_sqlite_database_check_finds_a_missing_or_second_reply(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aman.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    assert not database_check(url)["exactly_once"]  # nothing stored: nothing proven
    _insert_messages(url, [1, 1])
    assert database_check(url)["exactly_once"]
    url2 = f"sqlite:///{tmp_path / 'two.db'}"
    engine = make_engine(url2)
    upgrade(engine)
    engine.dispose()
    _insert_messages(url2, [1, 2, 0])
    check = database_check(url2)
    assert not check["exactly_once"]
    assert check["replies_per_message"] == {"0": 1, "1": 1, "2": 1}


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
