"""GET /segments and GET /broadcasts: the tenant's newest first, limited, campaign permission."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from aman.accounts.scope import TenantScope
from aman.api.v1.app import create_api
from aman.config import Secret, Settings
from aman.engine.builtin import EchoBot
from aman.runtime import Runtime

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    key = Secret(base64.b64encode(secrets.token_bytes(32)).decode())
    settings = Settings(database_url=db_url, master_key=key, phone_number_id="106540352242922")
    runtime = Runtime(settings, EchoBot(), role="web")
    runtime.accounts.tenants.create("other", "Other Bank")
    transport = httpx.ASGITransport(app=create_api(runtime), client=("198.51.100.20", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield runtime, client
    runtime.engine.dispose()


def bearer(runtime: Runtime, tenant: str, scopes: list[str]) -> dict[str, str]:
    created = runtime.accounts.tokens.create(TenantScope.system(tenant, "test"), "t", scopes)
    return {"Authorization": f"Bearer {created.secret}"}


async def test_lists_are_newest_first_limited_and_tenant_scoped(
    api: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = api
    writer = bearer(runtime, "default", ["campaigns:write"])
    segment_ids = []
    for name in ("semua", "vip", "baru"):
        r = await client.post(
            "/segments", json={"name": name, "rules": {"not": {"tag": "vip"}}}, headers=writer
        )
        assert r.status_code == 201, r.text
        segment_ids.append(r.json()["id"])
    broadcast_ids = []
    for name in ("promo", "info"):
        body = {"name": name, "segment_id": segment_ids[0], "text": "Halo", "run_at": 4e9}
        r = await client.post("/broadcasts", json=body, headers=writer)
        assert r.status_code == 201, r.text
        broadcast_ids.append(r.json()["id"])

    r = await client.get("/segments", headers=writer)
    segments = r.json()
    assert [s["id"] for s in segments] == segment_ids[::-1]
    assert segments[0] == {
        "id": segment_ids[2],
        "name": "baru",
        "kind": "dynamic",
        "rules": {"not": {"tag": "vip"}},
        "size": None,
        "snapshot_at": None,
    }
    r = await client.get("/segments", params={"limit": 2}, headers=writer)
    assert [s["id"] for s in r.json()] == segment_ids[:0:-1]
    r = await client.get("/broadcasts", params={"limit": 1}, headers=writer)
    [latest] = r.json()
    assert latest["id"] == broadcast_ids[1] and latest["name"] == "info"
    assert set(latest) == {"id", "name", "state", "category", "next_run_at", "created_at"}
    r = await client.get("/broadcasts", headers=writer)
    assert [b["id"] for b in r.json()] == broadcast_ids[::-1]
    for path in ("/segments", "/broadcasts"):
        r = await client.get(path, params={"limit": 0}, headers=writer)
        assert r.status_code == 422
        r = await client.get(path, headers=bearer(runtime, "default", ["analytics:read"]))
        assert r.status_code == 403
        r = await client.get(path, headers=bearer(runtime, "other", ["admin"]))
        assert r.status_code == 404
