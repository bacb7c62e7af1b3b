"""Shared fixtures: every storage test runs on SQLite and on the real PostgreSQL.

PostgreSQL tests need ``AMAN_TEST_POSTGRES_URL`` (``.ci/run`` sets it); each
test gets its own schema, dropped afterwards.  In CI a missing PostgreSQL is a
failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from aman.storage.db import make_engine
from aman.storage.migrate import upgrade

PG_URL = os.environ.get("AMAN_TEST_POSTGRES_URL", "")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_admin_url() -> str:
    return PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database URL, once per dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aman.db'}"
        return
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("AMAN_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("set AMAN_TEST_POSTGRES_URL to run the PostgreSQL variant")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    # pre-ping: the chaos test restarts PostgreSQL, killing pooled connections.
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with admin.connect() as conn:
            # A connection a test forgot to close must not hang the suite.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :s AND pid <> pg_backend_pid()"
                ),
                {"s": schema},
            )
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _with_schema(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An empty database with aman's schema, once per dialect."""
    yield from _with_schema(db_url)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty SQLite database with aman's schema (for tests of SQLite's own behaviour)."""
    yield from _with_schema(f"sqlite:///{tmp_path / 'aman.db'}")
