"""GET /segments and GET /broadcasts: the tenant's newest first, limited, campaign permission."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from aman.runtime import Runtime
from helpers import api_client, token_headers

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with api_client(db_url) as pair:
        yield pair


def bearer(runtime: Runtime, tenant: str, scopes: list[str]) -> dict[str, str]:
    return token_headers(runtime, tenant, scopes)


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
