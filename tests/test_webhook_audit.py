"""Inbound edge cases found in review: each one is a behaviour Meta or a user would see."""

from __future__ import annotations

import asyncio
import copy
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import Engine

from aman.storage.vault import Vault
from aman.webhook.ingest import Ingestor
from aman.webhook.parser import parse_webhook
from aman.webhook.signature import verify_signature
from helpers import envelope, post, scalar, status, text_body
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


def template_update(event: str, time: int, reason: str = "NONE") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "time": time,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": event,
                            "message_template_id": 1689556908129832,
                            "message_template_name": "order_confirmation",
                            "message_template_language": "en_US",
                            "reason": reason,
                        },
                    }
                ],
            }
        ],
    }


def test_same_field_value_at_another_time_is_another_event() -> None:
    first = template_update("APPROVED", 1751247548)
    again = template_update("APPROVED", 1751300000)
    key = parse_webhook(first).events[0].event_key
    assert parse_webhook(copy.deepcopy(first)).events[0].event_key == key  # a redelivery
    assert parse_webhook(again).events[0].event_key != key  # approved again later


async def test_template_approved_paused_approved_is_recorded_three_times(
    tmp_path: Path, db_url: str
) -> None:
    async with stack_for(tmp_path, db_url) as st:
        bodies = [
            template_update("APPROVED", 1751247548),
            template_update("PAUSED", 1751250000, reason="LOW_QUALITY"),
            template_update("APPROVED", 1751260000),
        ]
        for body in [*bodies, bodies[2]]:  # the last one redelivered by Meta
            assert (await post(st, body))[0] == 200
        sql = "select count(*) from webhook_events where field = 'message_template_status_update'"
        assert scalar(st, sql) == 3


async def test_redeliveries_do_not_count_as_a_message_flood(tmp_path: Path, db_url: str) -> None:
    wa_id = "6281234577001"
    async with stack_for(tmp_path, db_url) as st:
        body = text_body("wamid.REDELIVERED", wa_id, "halo")
        for _ in range(40):  # Meta delivering one message again and again
            assert (await post(st, body))[0] == 200
        assert scalar(st, "select count(*) from inbox") == 1
        ix = st.runtime.vault.contact_index(wa_id)
        assert st.runtime.monitor.control_for("default", ix) is None  # not throttled
        st.runtime.monitor.flush()
        assert st.runtime.monitor.alerts.list("default", kind="contact_flood") == []


async def test_the_observer_sees_each_message_and_status_once(
    engine: Engine,
) -> None:
    """Copies of one message or status committed together, and one stored by an earlier
    write, reach the monitor's observer once: only the first storing counts."""
    vault = Vault.open_or_create(engine, "default", secrets.token_bytes(32))
    seen: list[str] = []

    def observe(parsed: Any, contacts: Any, now: float) -> None:
        seen.extend(m.wamid for m in parsed.messages)
        seen.extend(f"{s.wamid}:{s.status}" for s in parsed.statuses)

    ingestor = Ingestor(engine, vault, dialect=engine.dialect.name, observer=observe)
    ingestor.start()
    try:
        first = parse_webhook(text_body("wamid.OBS1"))
        # Submitted before the writer runs: one group commit with five copies.
        await asyncio.gather(*(ingestor.store(first) for _ in range(5)))
        both = text_body("wamid.OBS1")
        both["entry"][0]["changes"][0]["value"]["messages"].append(
            text_body("wamid.OBS2")["entry"][0]["changes"][0]["value"]["messages"][0]
        )
        await ingestor.store(parse_webhook(both))
        # A failed status (the delivery-failure detector counts these), redelivered.
        failed = parse_webhook(envelope(statuses=[status("wamid.OUT1", "failed", code=131026)]))
        await asyncio.gather(*(ingestor.store(failed) for _ in range(3)))
        await ingestor.store(failed)
    finally:
        await ingestor.close()
    assert seen == ["wamid.OBS1", "wamid.OBS2", "wamid.OUT1:failed"]
    assert (ingestor.committer.batches, ingestor.committer.items) == (4, 10)
