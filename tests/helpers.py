"""Test helpers: build Cloud API bodies, sign and post them, poll for conditions.

The subprocess tests (crash, chaos, graceful shutdown) also share here how they
start ``aman serve``, wait for it to be healthy and collect the replies the
simulator accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sqlalchemy import text

from aman.demo import DemoStack
from aman.simulator.control import DROPPED_HEADER
from aman.webhook.signature import sign

PNID = "106540352242922"


def text_body(
    wamid: str,
    wa_id: str = "6281234567890",
    body: str = "halo",
    *,
    name: str = "Budi",
    ts: int | None = None,
    pnid: str = PNID,
) -> dict[str, Any]:
    return envelope(
        [
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(ts or int(time.time())),
                "type": "text",
                "text": {"body": body},
            }
        ],
        contacts=[{"profile": {"name": name}, "wa_id": wa_id}],
        pnid=pnid,
    )


def envelope(
    messages: list[dict[str, Any]] | None = None,
    *,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    pnid: str = PNID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000001", "phone_number_id": pnid},
    }
    if messages is not None:
        value["contacts"] = contacts or []
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }


def status(
    wamid: str,
    st: str,
    *,
    ref: str | None = None,
    code: int | None = None,
    recipient: str = "6281234567890",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": wamid,
        "status": st,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if ref is not None:
        out["biz_opaque_callback_data"] = f"aman:{ref}"
    if code is not None:
        out["errors"] = [{"code": code, "title": "Message undeliverable"}]
    return out


async def post(
    stack: DemoStack,
    body: bytes | dict[str, Any],
    *,
    signature: str | None = "auto",
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    hdrs = {"content-type": "application/json", **(headers or {})}
    if signature == "auto":
        assert stack.settings.app_secret is not None
        hdrs["x-hub-signature-256"] = sign(stack.settings.app_secret.reveal().encode(), raw)
    elif signature is not None:
        hdrs["x-hub-signature-256"] = signature
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{stack.url}/webhook", data=raw, headers=hdrs) as r,
    ):
        return r.status, await r.text()


def scalar(stack: DemoStack, sql: str, **params: Any) -> Any:
    with stack.runtime.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(stack: DemoStack, sql: str, **params: Any) -> list[Any]:
    with stack.runtime.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


async def until(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_aman(
    env: dict[str, str], port: int, log: Path, *, role: str | None = None
) -> subprocess.Popen[bytes]:
    """``aman serve`` (all roles, or one ``role``) as a child process logging to ``log``."""
    args = [sys.executable, "-m", "aman.cli", "serve", "--port", str(port)]
    if role is not None:
        args[4:4] = ["--role", role]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_healthy(
    url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until ``GET url/healthz`` answers 200; fail at once if ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{url}: the server exited with {proc.returncode}")
            try:
                async with s.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy")


async def collect_replies(
    sim_base: str, expected: Collection[str], timeout: float
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """The text replies a simulator process accepted, once each of ``expected`` got one.

    Reads ``/_sim/messages`` incrementally and, between reads, long-polls
    ``/_sim/wait`` for the next accepted send instead of sleeping.  Returns after
    ``timeout`` seconds even when replies are missing: the caller asserts.
    Gives the count of each text body and every accepted send (any type).
    """
    deadline = time.monotonic() + timeout
    sent: list[dict[str, Any]] = []
    got: Counter[str] = Counter()
    since = 0  # the simulator's absolute index of the next send to read
    async with aiohttp.ClientSession() as s:
        while True:
            async with s.get(f"{sim_base}/_sim/messages", params={"since": since}) as r:
                r.raise_for_status()
                # Sends dropped past the simulator's --max-messages before we read them.
                assert r.headers.get(DROPPED_HEADER, "0") == "0", "simulator dropped sends"
                new: list[dict[str, Any]] = await r.json()
            if new:
                since = int(new[-1]["index"]) + 1
            sent += new
            got.update(m["body"]["text"]["body"] for m in new if m["type"] == "text")
            left = deadline - time.monotonic()
            if left <= 0 or all(got[t] >= 1 for t in expected):
                return got, sent
            wait = {"count": since + 1, "timeout": round(min(left, 5.0), 3)}
            async with s.get(f"{sim_base}/_sim/wait", params=wait) as r:
                if r.status not in (200, 408):  # 408: nothing new within the wait
                    r.raise_for_status()


@contextlib.asynccontextmanager
async def api_client(
    db_url: str, handler: Any | None = None, **settings: Any
) -> AsyncIterator[tuple[Any, Any]]:
    """A web-role runtime on ``db_url`` (tenants "default" and "other") and an httpx client
    talking to its REST API in process, as client 198.51.100.20."""
    import base64
    import secrets

    import httpx

    from aman.api.v1.app import create_api
    from aman.config import Secret, Settings
    from aman.engine.builtin import EchoBot
    from aman.runtime import Runtime

    key = Secret(base64.b64encode(secrets.token_bytes(32)).decode())
    conf = Settings(
        database_url=db_url, master_key=key, phone_number_id="106540352242922", **settings
    )
    runtime = Runtime(conf, handler if handler is not None else EchoBot(), role="web")
    runtime.accounts.tenants.create("other", "Other Bank")
    transport = httpx.ASGITransport(app=create_api(runtime), client=("198.51.100.20", 4321))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield runtime, client
    finally:
        runtime.engine.dispose()


def token_headers(runtime: Any, tenant: str, scopes: list[str]) -> dict[str, str]:
    """A Bearer header with a new API token of ``tenant`` holding ``scopes``."""
    from aman.accounts.scope import TenantScope

    created = runtime.accounts.tokens.create(TenantScope.system(tenant, "test"), "t", scopes)
    return {"Authorization": f"Bearer {created.secret}"}
