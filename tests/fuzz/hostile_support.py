"""Shared pieces of the hostile-input and fuzz tests: one echo stack per module, body builders.

A DemoStack costs a start-up (migrations) and, on PostgreSQL, a shutdown of a
few seconds, so the hostile and fuzz modules share one stack per dialect per
module (``module_stack``).  Every test uses its own sender numbers and wamid
prefixes, so tests stay independent while sharing the database.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text

from aman.demo import DemoStack
from helpers import post, scalar, text_body, until

__all__ = [
    "DIALECTS",
    "MAX_TEXT",
    "count_like",
    "database_url",
    "echo_of",
    "echoes_to",
    "message_with",
    "module_stack",
    "nested",
    "new_wa_id",
    "still_serving",
    "with_raw",
]

MAX_TEXT = 4096  # Cloud API limit for text.body
PG_URL = os.environ.get("AMAN_TEST_POSTGRES_URL", "")
DIALECTS = ["sqlite", "postgresql"]
_serial = itertools.count(int(uuid.uuid4().int % 10**6) * 100)


def new_wa_id() -> str:
    """A fresh valid customer number (13 digits) for one test's conversation."""
    return f"62813{next(_serial) % 10**8:08d}"


@contextlib.contextmanager
def database_url(dialect: str, directory: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'aman.db'}"
        return
    if not PG_URL:
        import pytest

        if os.environ.get("CI") == "true":
            pytest.fail("AMAN_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("set AMAN_TEST_POSTGRES_URL to run the PostgreSQL variant")
    schema = f"h_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=True,
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :s AND pid <> pg_backend_pid()"
                ),
                {"s": schema},
            )
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.asynccontextmanager
async def module_stack(dialect: str, directory: Path, **overrides: Any) -> AsyncIterator[DemoStack]:
    """The echo bot on ``dialect``; the simulator does not enforce the 24 h window."""
    with database_url(dialect, directory) as url:
        stack = DemoStack(
            directory,
            bot="echo",
            statuses=False,
            settings_overrides={"database_url": url, "send_rate": 5000.0, **overrides},
            simulator_options={"enforce_window": False},
        )
        async with stack as st:
            yield st


def echoes_to(st: DemoStack, wa_id: str) -> list[str]:
    """Text bodies the simulator accepted for ``wa_id``, in order."""
    return [m.body["text"]["body"] for m in st.simulator.sent if m.to == wa_id and m.type == "text"]


async def echo_of(st: DemoStack, wa_id: str, timeout: float = 10.0) -> str:
    """The first text the bot sent to ``wa_id`` (waits for it)."""
    found: list[str] = await until(lambda: echoes_to(st, wa_id), timeout, f"echo to {wa_id}")
    return found[0]


async def still_serving(st: DemoStack) -> None:
    """A normal message right after the hostile ones is stored and echoed."""
    wa_id = new_wa_id()
    body = f"masih hidup {wa_id}"
    code, _ = await post(st, text_body(f"wamid.alive.{wa_id}", wa_id, body))
    assert code == 200
    assert await echo_of(st, wa_id) == body


def count_like(st: DemoStack, table: str, prefix: str) -> int:
    """Rows of ``table`` whose wamid starts with ``prefix``."""
    return int(scalar(st, f"select count(*) from {table} where wamid like :p", p=prefix + "%"))


def with_raw(body: dict[str, Any], placeholder: str, raw: bytes) -> bytes:
    """Serialise ``body`` and splice the raw JSON ``raw`` where the string ``placeholder`` was."""
    out = orjson.dumps(body)
    marker = orjson.dumps(placeholder)
    if out.count(marker) != 1:
        raise ValueError(f"placeholder {placeholder!r} must occur exactly once")
    return out.replace(marker, raw)


def message_with(extra: bytes, wamid: str = "wamid.extra", wa_id: str = "6281234567890") -> bytes:
    """A text message body whose message carries raw JSON ``extra`` under the key "extra"."""
    body = text_body(wamid, wa_id, "ada lampiran")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["extra"] = "@@"
    return with_raw(body, "@@", extra)


def nested(depth: int, kind: str) -> bytes:
    """``depth`` nested arrays, or objects ``{"a": ...}`` around a 1."""
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth
