"""The retention job looks for a batch without the write lock, then deletes it by key.

On SQLite every write transaction holds the file's one write lock; statuses have no
index on their age, so looking for old ones reads the whole table.  That search runs
on a read-only connection, so webhooks keep being stored meanwhile, and the delete
checks the batch again: a row that no longer matches is kept.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event, insert, select, update

from aman.privacy.retention import _purge_batches
from aman.storage.db import make_reader
from aman.storage.models import Conversation, StatusEvent

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
