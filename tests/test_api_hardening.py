"""The REST API behind the outer app: security headers on every answer, 1 MiB body limit."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from aman.accounts.scope import TenantScope
from aman.api.security_headers import API_MAX_BODY
from aman.app import create_app
from aman.config import Secret, Settings
from aman.engine.builtin import EchoBot
from aman.runtime import Runtime

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/aman.db",
        master_key=Secret(base64.b64encode(secrets.token_bytes(32)).decode()),
        app_secret=Secret(secrets.token_hex(32)),
        verify_token=Secret(secrets.token_urlsafe(24)),
        phone_number_id="106540352242922",
    )
    runtime = Runtime(settings, EchoBot(), role="web")
    transport = httpx.ASGITransport(app=create_app(runtime), client=("198.51.100.20", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield runtime, c
    runtime.engine.dispose()


async def test_api_answers_carry_security_headers_and_bodies_are_bounded(
    client: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, c = client
    created = runtime.accounts.tokens.create(
        TenantScope.system("default", "test"), "t", ["campaigns:write"]
    )
    auth = {"Authorization": f"Bearer {created.secret}"}
    answers = [
        await c.get("/api/v1/auth/me", headers=auth),  # 200
        await c.get("/api/v1/auth/me"),  # 401 problem
        await c.get("/api/v1/nope", headers=auth),  # 404
        await c.get("/openapi.json"),
    ]
    assert [r.status_code for r in answers] == [200, 401, 404, 200]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
    big = b'{"name": "x", "rules": {"tag": "' + b"v" * API_MAX_BODY + b'"}}'
    declared = await c.post(
        "/api/v1/segments", content=big, headers={**auth, "content-type": "application/json"}
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    streamed = await c.post(
        "/api/v1/segments", content=chunks(), headers={**auth, "content-type": "application/json"}
    )
    for r in (declared, streamed):
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 413
    r = await c.get("/api/v1/segments", headers=auth)
    assert r.status_code == 200 and r.json() == []  # nothing was created
