"""The per-token rate limit is shared by every API process through the database.

Two ``Accounts`` (two processes' worth: own engine, own memory) and two full API
apps share one database, on SQLite and PostgreSQL: together they allow exactly
``burst`` requests, then 429 with Retry-After and a problem document.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from aman.accounts.errors import RateLimitedError
from aman.accounts.models import ApiTokenRateRow
from aman.accounts.ratelimit import TokenBuckets
from aman.accounts.scope import TenantScope
from aman.api.v1.app import create_api
from aman.config import Secret, Settings
from aman.engine.builtin import EchoBot
from aman.engine.flows.repository import FlowSettingRow
from aman.runtime import Runtime
from aman.storage.models import metadata
from test_accounts_support import Stack, stack, system

IP = "198.51.100.20"


@pytest.fixture
def pair(db_url: str) -> Iterator[tuple[Stack, Stack]]:
    """Two accounts stacks on one database (as two API processes); ``b`` follows ``a``'s clock."""
    with stack(db_url) as a, stack(db_url) as b:
        b.clock = a.clock
        b.accounts.context.clock = a.clock
        yield a, b


def _state(engine: Engine, token_id: int) -> tuple[float, bool]:
    with engine.connect() as conn:
        row = conn.execute(
            select(ApiTokenRateRow.tat, ApiTokenRateRow.allowed).where(
                ApiTokenRateRow.token_id == token_id
            )
        ).one()
    return float(row.tat), bool(row.allowed)


def _outcome(s: Stack, secret: str) -> float:
    """0.0 when the request is allowed, else the Retry-After seconds."""
    try:
        assert s.accounts.tokens.authenticate(secret, IP) is not None
    except RateLimitedError as exc:
        return exc.retry_after
    return 0.0


def test_two_processes_share_one_limit(pair: tuple[Stack, Stack]) -> None:
    a, b = pair
    created = a.accounts.tokens.create(system(), "crm", ["analytics:read"], rate=2, burst=4)
    secret = created.secret
    # Alternating processes: each alone would allow 4; together they allow 4.
    waits = [_outcome(s, secret) for s in (a, b, a, b, a, b)]
    assert waits[:4] == [0.0] * 4
    assert waits[4:] == [pytest.approx(0.5), pytest.approx(0.5)]
    a.clock.advance(0.5)  # one request's worth refilled, for both processes together
    assert _outcome(b, secret) == 0.0
    assert _outcome(a, secret) == pytest.approx(0.5)
    a.clock.advance(10)  # a full bucket again, never more than burst
    assert [_outcome(s, secret) for s in (a, b, b, a, a)][:4] == [0.0] * 4
    assert _outcome(b, secret) > 0


def test_a_flood_is_refused_locally_without_database_writes(pair: tuple[Stack, Stack]) -> None:
    a, b = pair
    created = a.accounts.tokens.create(system(), "flood", ["analytics:read"], rate=1, burst=2)
    secret, token_id = created.secret, created.info.id
    assert [_outcome(a, secret) for _ in range(2)] == [0.0, 0.0]
    stored = _state(a.engine, token_id)
    assert stored[1] is True
    for _ in range(50):
        assert _outcome(a, secret) > 0  # a's own bucket is empty: no write
    assert _state(a.engine, token_id) == stored
    assert _outcome(b, secret) == pytest.approx(1.0)  # b asks the database: refused there
    assert _state(a.engine, token_id) == (stored[0], False)
    a.clock.advance(1.0)
    # b's refused request gave its local token back: b is not stricter than the shared limit.
    assert _outcome(b, secret) == 0.0


def test_local_buckets_refund_up_to_burst() -> None:
    buckets = TokenBuckets(max_buckets=2)
    assert buckets.take(1, 10, 1, 0.0) == 0.0
    assert buckets.take(1, 10, 1, 0.0) == pytest.approx(0.1)
    buckets.refund(1, 1)
    assert buckets.take(1, 10, 1, 0.0) == 0.0
    buckets.refund(1, 1)
    buckets.refund(1, 1)  # never above burst
    assert buckets.take(1, 10, 1, 0.0) == 0.0
    assert buckets.take(1, 10, 1, 0.0) > 0
    buckets.refund(7, 1)  # unknown key: nothing to give back, nothing created
    buckets.take(2, 10, 1, 0.0)
    assert buckets.take(1, 10, 1, 0.0) > 0  # key 7 took no room: bucket 1 was not evicted


def test_migration_0008_creates_exactly_the_model_tables(pair: tuple[Stack, Stack]) -> None:
    mine = {ApiTokenRateRow.__tablename__, FlowSettingRow.__tablename__}

    def only_mine(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in mine

    with pair[0].engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": only_mine, "compare_type": True}
        )
        assert compare_metadata(ctx, metadata) == []
        assert {t for t in mine if conn.dialect.has_table(conn, t)} == mine


@pytest.fixture
def apis(db_url: str) -> Iterator[tuple[Runtime, list[httpx.AsyncClient]]]:
    """Two API apps (two web processes) on one database."""
    key = Secret(base64.b64encode(secrets.token_bytes(32)).decode())
    settings = Settings(database_url=db_url, master_key=key, phone_number_id="106540352242922")
    with ExitStack() as stack_:
        runtimes = [Runtime(settings, EchoBot(), role="web") for _ in range(2)]
        for rt in runtimes:
            stack_.callback(rt.engine.dispose)
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_api(rt), client=(IP, 4321)),
                base_url="http://127.0.0.1",
            )
            for rt in runtimes
        ]
        yield runtimes[0], clients


@pytest.mark.anyio
async def test_two_api_apps_answer_429_with_retry_after_and_a_problem(
    apis: tuple[Runtime, list[httpx.AsyncClient]],
) -> None:
    runtime, clients = apis
    # 0.01 requests per second: nothing refills while the test runs.
    created = runtime.accounts.tokens.create(
        TenantScope.system("default", "test"), "crm", ["analytics:read"], rate=0.01, burst=3
    )
    headers = {"Authorization": f"Bearer {created.secret}"}
    statuses = []
    for n in range(6):
        r = await clients[n % 2].get("/auth/me", headers=headers)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.headers["content-type"] == "application/problem+json"
            assert int(r.headers["Retry-After"]) >= 1
            doc = r.json()
            assert doc["status"] == 429 and doc["title"] == "too many requests"
            assert created.secret not in r.text
    assert statuses == [200, 200, 200, 429, 429, 429]
    for client in clients:
        await client.aclose()
