"""Test helpers: build Cloud API bodies, sign and post them, poll for conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from sqlalchemy import text

from aman.demo import DemoStack
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
