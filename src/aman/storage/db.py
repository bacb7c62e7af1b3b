"""Database engines: URL normalisation, SQLite WAL pragmas, PostgreSQL pooling.

A plain ``postgresql://`` URL gets the psycopg 3 driver; SQLite runs in WAL mode
with ``synchronous=FULL`` (every commit is durable; group commit keeps that cheap)
and a busy timeout so several processes can share one file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

__all__ = ["Dialect", "dialect_of", "make_engine", "normalize_url"]

Dialect = str  # "sqlite" | "postgresql"


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


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock at BEGIN: no deadlock-prone lock upgrades.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 2),
        pool_pre_ping=True,
        pool_recycle=1800,
    )
