"""The retention job looks for a batch without the write lock, then deletes it by key.

On SQLite every write transaction holds the file's one write lock; statuses have no
index on their age, so looking for old ones reads the whole table.  That search runs
on a read-only connection, so webhooks keep being stored meanwhile, and the delete
checks the batch again: a row that no longer matches is kept.  Every class is purged
this way, verification links included.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, update

from aman.privacy import RetentionPolicy, purge, retention
from aman.privacy.retention import _purge_batches
from aman.storage.db import make_reader
from aman.storage.models import Conversation, StatusEvent, VerifyToken

NOW = 1_800_000_000.0
OLD = NOW - 100 * 86400


def _status(wamid: str, at: float) -> dict[str, Any]:
    return {
        "tenant": "default",
        "wamid": wamid,
        "status": "read",
        "status_ts": int(at),
        "outbox_ref": None,
        "error_code": None,
        "payload_enc": b"x",
        "received_at": at,
    }


def test_the_search_runs_beside_a_writer_and_the_delete_checks_again(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(StatusEvent),
            [_status("w-old-1", OLD), _status("w-old-2", OLD), _status("w-new", NOW)],
        )
    reader = make_reader(sqlite_engine)
    searched = threading.Event()
    event.listen(reader, "after_cursor_execute", lambda *_: searched.set())
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with sqlite_engine.begin() as conn:  # the write lock, as a busy ingest holds it
            holding.set()
            assert release.wait(10)
            # Written while the purge waits for the lock: this row is recent now.
            conn.execute(
                update(StatusEvent).where(StatusEvent.wamid == "w-old-2").values(received_at=NOW)
            )

    where = (StatusEvent.tenant == "default", StatusEvent.received_at < NOW - 90 * 86400)
    result: dict[str, int] = {}
    w = threading.Thread(target=writer)
    w.start()
    try:
        assert holding.wait(10)
        p = threading.Thread(
            target=lambda: result.update(
                n=_purge_batches(sqlite_engine, reader, StatusEvent, where)
            )
        )
        p.start()
        # The batch is found while the writer still holds the lock.
        assert searched.wait(10), "the retention search waited for the write lock"
        assert "n" not in result
    finally:
        release.set()
        w.join(10)
    p.join(10)
    reader.dispose()
    assert result == {"n": 1}
    with sqlite_engine.connect() as conn:
        left = sorted(conn.execute(select(StatusEvent.wamid)).scalars())
    assert left == ["w-new", "w-old-2"]


def test_rows_with_a_composite_key_are_purged_in_batches(engine: Engine) -> None:
    """Conversations are keyed by (tenant, number, contact): only old bot ones go."""
    rows = [
        ("100", "ix-a", OLD, "bot"),
        ("100", "ix-b", OLD, "human"),  # an agent owns it: kept
        ("200", "ix-a", NOW, "bot"),  # same contact on another number, recent: kept
        ("200", "ix-c", OLD, "bot"),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(Conversation),
            [
                {
                    "tenant": "default",
                    "phone_number_id": pn,
                    "contact_ix": ix,
                    "state_enc": b"x",
                    "updated_at": at,
                    "mode": mode,
                }
                for pn, ix, at, mode in rows
            ],
        )
    reader = make_reader(engine)
    where = (
        Conversation.tenant == "default",
        Conversation.updated_at < NOW - 90 * 86400,
        Conversation.mode == "bot",
    )
    try:
        assert _purge_batches(engine, reader, Conversation, where) == 2
        with engine.connect() as conn:
            left = sorted(
                conn.execute(select(Conversation.phone_number_id, Conversation.contact_ix)).all()
            )
    finally:
        if reader is not engine:
            reader.dispose()
    assert left == [("100", "ix-b"), ("200", "ix-a")]


def _token(name: str, expires_at: float, tenant: str = "default") -> dict[str, Any]:
    return {
        "token_hash": name,
        "tenant": tenant,
        "phone_number_id": "100",
        "contact_ix": "ix-a",
        "purpose": "balance",
        "data_enc": b"x",
        "created_at": expires_at - 600,
        "expires_at": expires_at,
        "used_at": None,
    }


def test_expired_verify_tokens_are_purged_in_batches_by_key(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links expired over a day ago go, a batch per statement; every other token stays."""
    monkeypatch.setattr(retention, "_BATCH", 10)
    day = 86400.0
    expired = [_token(f"old-{i:02}", NOW - day - 60 - i) for i in range(25)]
    kept = [
        _token("expired-an-hour-ago", NOW - 3600),  # may still be asked about today
        _token("valid", NOW + 600),  # not expired yet
        _token("other-tenant", NOW - 10 * day, tenant="other"),
    ]
    with engine.begin() as conn:
        conn.execute(insert(VerifyToken), expired + kept)
    writes: list[tuple[str, int]] = []

    def seen(_c: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "verify_tokens" in statement:
            writes.append((" ".join(statement.split()), cursor.rowcount))

    event.listen(engine, "after_cursor_execute", seen)
    try:
        policy = RetentionPolicy.parse(
            "messages=0,statuses=0,webhook_events=0,conversations=0,contacts=0,"
            "campaign_recipients=0"
        )
        report = purge(engine, "default", policy, NOW)
    finally:
        event.remove(engine, "after_cursor_execute", seen)
    assert report.counts == {"verify_tokens": 25}
    with engine.connect() as conn:
        left = sorted(conn.execute(select(VerifyToken.token_hash)).scalars())
    assert left == sorted(t["token_hash"] for t in kept)
    # Three batches of at most ten, each deleted by key, not one DELETE of every old link.
    deletes = [(sql, n) for sql, n in writes if sql.upper().startswith("DELETE")]
    assert [n for _, n in deletes] == [10, 10, 5], deletes
    assert all("token_hash IN" in sql for sql, _ in deletes), deletes
    if engine.dialect.name == "sqlite":
        # The search ran on the read-only connection: the writer only re-checked by key.
        selects = [sql for sql, _ in writes if sql.upper().startswith("SELECT")]
        assert selects and all("token_hash IN" in sql for sql in selects), selects
