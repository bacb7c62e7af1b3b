"""SQLite has one writer: a long write transaction, or a long wait for another
process's, stalls ingest and sending.  Both are logged, with the thread that held it."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from aman.storage import db


def test_a_long_write_transaction_and_a_long_wait_are_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(db, "SLOW_WRITE_SECONDS", 0.2)
    path = tmp_path / "aman.db"
    engine = db.make_engine(f"sqlite:///{path}")
    caplog.set_level(logging.WARNING, logger="aman.storage.db")
    try:
        with engine.begin() as conn:
            conn.execute(text("create table t (x integer)"))
        assert not caplog.records  # a short transaction says nothing

        with engine.begin() as conn:
            conn.execute(text("insert into t values (1)"))
            time.sleep(0.3)
        (held,) = caplog.records
        assert "held the write lock" in held.getMessage()
        assert threading.current_thread().name in held.getMessage()
        caplog.clear()

        # Another process (here a raw connection) holds SQLite's write lock for 0.4 s.
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        commit = threading.Timer(0.4, other.execute, ("COMMIT",))
        commit.start()
        with engine.begin() as conn:
            conn.execute(text("insert into t values (2)"))
        commit.join()
        other.close()
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 1 and "another process's SQLite write lock" in messages[0]
    finally:
        engine.dispose()
