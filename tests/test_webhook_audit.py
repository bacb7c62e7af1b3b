"""Inbound edge cases found in review: each one is a behaviour Meta or a user would see."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
import pytest

from aman.webhook.signature import verify_signature
from helpers import post, scalar, text_body
from test_webhook_http import stack_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "header",
    [
        "sha256=" + "\xe9" * 64,  # latin-1 bytes as the server decodes them
        "sha256=" + "\u0130" * 64,
        "SHA256=" + "a" * 64,
        "a" * 71,
    ],
)
def test_odd_signature_headers_are_rejected_not_crashing(header: str) -> None:
    assert verify_signature(b"secret", b"{}", header) is False


async def test_non_ascii_signature_header_is_401(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        body = orjson.dumps(text_body("wamid.SIGX"))
        # 32 two-byte UTF-8 characters: 64 bytes after "sha256=", none of them hex.
        code, _ = await post(st, body, signature="sha256=" + "\u00e9" * 32)
        assert code == 401
        assert scalar(st, "select count(*) from inbox") == 0


async def test_verify_with_many_query_fields_is_403(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        token = st.settings.verify_token.reveal()  # type: ignore[union-attr]
        query = [(f"x{i}", "1") for i in range(20)]
        query += [("hub.mode", "subscribe"), ("hub.verify_token", token + "x")]
        query.append(("hub.challenge", "123"))
        async with aiohttp.ClientSession() as s, s.get(f"{st.url}/webhook", params=query) as r:
            assert r.status == 403
