"""Database engines: URL normalisation, SQLite WAL pragmas, PostgreSQL pooling.

A plain ``postgresql://`` URL gets the psycopg 3 driver; SQLite runs in WAL mode
with ``synchronous=FULL`` (every commit is durable; group commit keeps that cheap)
and a busy timeout so several processes can share one file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

__all__ = [
    "Dialect",
    "PinnedConnection",
    "database_key",
    "dialect_of",
    "make_engine",
    "make_reader",
    "normalize_url",
]

Dialect = str  # "sqlite" | "postgresql"
log = logging.getLogger(__name__)
# A SQLite write transaction longer than this stalls every other writer: say so.
SLOW_WRITE_SECONDS = 2.0


def normalize_url(url: str) -> URL:
    """Parse ``url`` and pick aman's driver for plain PostgreSQL URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername not in {"postgresql+psycopg", "sqlite", "sqlite+pysqlite"}:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: use sqlite:///path or postgresql://..."
        )
    return parsed


def dialect_of(url: str) -> Dialect:
    return "postgresql" if normalize_url(url).drivername.startswith("postgresql") else "sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is disabled so that SQLAlchemy's BEGIN
    # (emitted below) is the only one, and writers take the lock up front.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class _WriterLock:
    """One SQLite transaction at a time per database file within this process.

    SQLite allows one writer; threads that race for it otherwise sleep in SQLite's
    busy handler (1, 2, 5 … 100 ms steps), which showed up as echo p99 near one
    second at 200 messages/s.  Waiting on a lock instead wakes the next writer the
    moment the previous transaction ends.  Reentrant per thread (a transaction opened
    inside another on the same thread, e.g. creating a tenant's first key).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._held = threading.local()

    def acquire(self) -> None:
        self._lock.acquire()
        self._held.count = getattr(self._held, "count", 0) + 1
        if self._held.count == 1:
            self._held.since = time.monotonic()

    def began(self) -> None:
        """SQLite granted the write lock (BEGIN IMMEDIATE returned): hold time starts."""
        if self._held.count == 1:
            self._held.since = time.monotonic()

    def release(self) -> None:
        count = getattr(self._held, "count", 0)
        if count > 0:  # rollbacks also happen without a BEGIN (pool reset)
            self._held.count = count - 1
            if count == 1:
                held = time.monotonic() - self._held.since
                if held > SLOW_WRITE_SECONDS:
                    log.warning(
                        "a SQLite transaction on thread %s held the write lock for %.1f s",
                        threading.current_thread().name,
                        held,
                    )
            self._lock.release()


_LOCKS: dict[str, _WriterLock] = {}
_LOCKS_GUARD = threading.Lock()


def database_key(database: str) -> str:
    """One name per SQLite database file, however its path was spelled."""
    return os.path.realpath(database) if database not in ("", ":memory:") else database


def _writer_lock(database: str) -> _WriterLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(database_key(database), _WriterLock())


def _install_writer_lock(engine: Engine, lock: _WriterLock) -> None:
    def begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN: no deadlock-prone lock upgrades.
        lock.acquire()
        began = time.monotonic()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise
        lock.began()
        waited = time.monotonic() - began
        if waited > SLOW_WRITE_SECONDS:  # SQLite's busy handler: another process wrote
            log.warning("waited %.1f s for another process's SQLite write lock", waited)

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_conn: Any) -> None:
        try:
            commit(dbapi_conn)
        finally:
            lock.release()

    def do_rollback(dbapi_conn: Any) -> None:
        try:
            rollback(dbapi_conn)
        finally:
            lock.release()

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]
    event.listen(engine, "begin", begin)


def make_reader(engine: Engine) -> Engine:
    """An engine for small reads that may run while this thread holds a write transaction.

    On SQLite every transaction of ``make_engine`` begins IMMEDIATE under the
    in-process writer lock, so a nested read on another connection would wait
    for ourselves; this engine's connections are read-only and never take that
    lock (WAL lets them read beside the writer).  Other dialects share ``engine``.
    """
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_engine(
        engine.url,
        connect_args={"check_same_thread": False, "timeout": 10},
        pool_size=1,
        max_overflow=2,
    )

    def read_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = 1")

    event.listen(reader, "connect", read_only)
    return reader


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create the engine for ``url`` with aman's settings for its dialect."""
    parsed = normalize_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=pool_size,
            max_overflow=2,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _install_writer_lock(engine, _writer_lock(parsed.database or ""))
        return engine
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 2),
        pool_pre_ping=True,
        pool_recycle=1800,
    )


class PinnedConnection:
    """A connection kept for one worker thread's whole life, one transaction at a time.

    ``engine.begin()`` checks a connection out of the pool and resets it on return;
    on this machine that costs about 175 µs of CPU per transaction, more than the
    transaction itself (a one-row SQLite update commits in about 90 µs through a
    kept connection).  The hot-path writers (group commits, the inbox worker, the
    sender's claims) each run on a thread of their own and use one of these.
    Not thread-safe: one owner thread.  A transaction that fails drops the
    connection (it may be broken, e.g. PostgreSQL restarted); the next one
    connects again.  A connection left idle for ``idle_seconds`` goes back to the
    pool first, so the pool's pre-ping and recycling still apply to it.
    """

    def __init__(self, engine: Engine, *, idle_seconds: float = 5.0) -> None:
        self._engine = engine
        self._idle = idle_seconds
        self._conn: Connection | None = None
        self._used = 0.0

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction on the kept connection: committed on success, else rolled back."""
        now = time.monotonic()
        if self._conn is not None and now - self._used > self._idle:
            self.close()
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conn = self._engine.connect()
        try:
            with conn.begin():
                yield conn
        except BaseException:
            self.close()
            raise
        finally:
            self._used = time.monotonic()

    def close(self) -> None:
        """Give the connection back (the owner thread, or after it has stopped)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # noqa: BLE001 - a broken connection is dropped anyway
                log.debug("closing a kept connection failed: %s", type(exc).__name__)
