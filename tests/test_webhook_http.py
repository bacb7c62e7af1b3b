"""The webhook endpoint over real HTTP, on SQLite and PostgreSQL (CONTRACT 'HTTP')."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
import pytest

from aman.demo import DemoStack
from helpers import envelope, post, rows, scalar, status, text_body, until

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def stack_for(tmp_path: Path, db_url: str, **kw: object) -> DemoStack:
    # These tests post webhooks directly (not through the simulated phone), so the
    # simulator has not seen the customer write: do not enforce the 24 h window.
    return DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"database_url": db_url, **kw},
        simulator_options={"enforce_window": False},
    )


async def test_verify_challenge(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        token = st.settings.verify_token.reveal()  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as s:
            q = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
            async with s.get(f"{st.url}/webhook", params=q) as r:
                assert r.status == 200
                assert await r.text() == "1158201444"
                assert r.headers["content-type"].startswith("text/plain")
            q["hub.verify_token"] = token + "x"
            async with s.get(f"{st.url}/webhook", params=q) as r:
                assert r.status == 403
            async with s.get(f"{st.url}/webhook") as r:
                assert r.status == 403


async def test_bad_and_missing_signatures_store_nothing(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        body = orjson.dumps(text_body("wamid.SIG1"))
        assert (await post(st, body, signature=None))[0] == 401
        assert (await post(st, body, signature="sha256=" + "0" * 64))[0] == 401
        assert (await post(st, body, signature="sha1=abc"))[0] == 401
        # Signature of another body (replay with a modified body).
        good = await post(st, body + b" ", signature="auto")
        assert good[0] in (200, 400)
        assert scalar(st, "select count(*) from inbox where wamid = 'wamid.SIG1'") in (0, 1)
        assert scalar(st, "select count(*) from inbox") <= 1
        tampered = orjson.dumps(text_body("wamid.SIG2"))
        from aman.webhook.signature import sign

        sig = sign(st.settings.app_secret.reveal().encode(), body)  # type: ignore[union-attr]
        assert (await post(st, tampered, signature=sig))[0] == 401
        assert scalar(st, "select count(*) from inbox where wamid = 'wamid.SIG2'") == 0


async def test_oversize_body_is_413(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url, max_body=2048) as st:
        big = orjson.dumps(text_body("wamid.BIG", body="x" * 4000))
        status_code, _ = await post(st, big)
        assert status_code == 413

        # Chunked upload without content-length is cut off as well.
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"y" * 1024

        async with (
            aiohttp.ClientSession() as s,
            s.post(
                f"{st.url}/webhook",
                data=chunks(),
                headers={"x-hub-signature-256": "sha256=" + "0" * 64},
            ) as r,
        ):
            assert r.status == 413
        assert scalar(st, "select count(*) from inbox") == 0
        # ...and the server keeps serving.
        assert (await post(st, text_body("wamid.SMALL")))[0] == 200


async def test_malformed_bodies_are_400_and_server_keeps_serving(
    tmp_path: Path, db_url: str
) -> None:
    async with stack_for(tmp_path, db_url) as st:
        for bad in [
            b"not json",
            b"[1,2]",
            b'{"object":"page","entry":[]}',
            b'{"object":"whatsapp_business_account","entry":{}}',
            b"\xff\xfe\x00",
            b"[" * 100000 + b"]" * 100000,
            orjson.dumps(envelope([{"from": "6281", "type": "text"}])),
        ]:
            code, text = await post(st, bad)
            assert code == 400, (bad[:40], code, text)
        assert (await post(st, text_body("wamid.AFTER")))[0] == 200
        assert scalar(st, "select count(*) from inbox") == 1


async def test_duplicate_message_is_processed_once(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        body = text_body("wamid.DUP1", body="sekali saja")
        for _ in range(3):
            # An empty 200: Meta reads only the status.
            assert (await post(st, body)) == (200, "")
        await until(lambda: len(st.simulator.sent) >= 1, what="echo reply")
        await st.simulator.drain_statuses(1)
        assert (await post(st, body))[0] == 200  # a redelivery days later
        assert scalar(st, "select count(*) from inbox where wamid = 'wamid.DUP1'") == 1
        import asyncio

        await asyncio.sleep(0.3)
        assert len(st.simulator.sent) == 1


async def test_every_message_type_fixture_is_stored(tmp_path: Path, db_url: str) -> None:
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) >= 20, "the project's own webhook fixtures are missing"
    async with stack_for(tmp_path, db_url) as st:
        expected = 0
        from aman.webhook.parser import parse_webhook_bytes

        for path in files:
            raw = path.read_bytes()
            parsed = parse_webhook_bytes(raw)
            code, text = await post(st, raw)
            assert code == 200, (path.name, text)
            expected += len(parsed.messages)
        stored = scalar(st, "select count(distinct wamid) from inbox")
        wamids = {m.wamid for p in files for m in parse_webhook_bytes(p.read_bytes()).messages}
        assert stored == len(wamids) and expected >= len(wamids) > 15
        types = {r[0] for r in rows(st, "select distinct msg_type from inbox")}
        for t in (
            "text",
            "image",
            "location",
            "contacts",
            "interactive",
            "button",
            "reaction",
            "order",
            "system",
            "unsupported",
        ):
            assert t in types, t
        assert scalar(st, "select count(*) from webhook_events") >= 3


async def test_statuses_never_move_backwards(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url, mark_read=False) as st:
        assert (await post(st, text_body("wamid.IN1", body="a")))[0] == 200
        sent = await st.simulator.wait_for_sent(1, 10)
        wamid = sent[0].wamid
        ref = sent[0].biz_opaque_callback_data.split(":", 1)[1]  # type: ignore[union-attr]
        await until(lambda: scalar(st, "select state from outbox where ref = :r", r=ref) == "sent")
        # read arrives before delivered and sent (no ordering guarantee from Meta).
        for st_name in ("read", "delivered", "sent"):
            assert (await post(st, envelope(statuses=[status(wamid, st_name, ref=ref)])))[0] == 200
        assert scalar(st, "select delivery_status from outbox where ref = :r", r=ref) == "read"
        # A late "failed" after read is ignored; duplicates are stored once.
        await post(st, envelope(statuses=[status(wamid, "failed", ref=ref, code=131026)]))
        assert scalar(st, "select delivery_status from outbox where ref = :r", r=ref) == "read"
        assert scalar(st, "select count(*) from status_events where wamid = :w", w=wamid) == 4
        await post(st, envelope(statuses=[status(wamid, "read", ref=ref)]))
        assert scalar(st, "select count(*) from status_events where wamid = :w", w=wamid) == 4


async def test_failed_status_is_kept_with_its_code(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url, mark_read=False) as st:
        await post(st, text_body("wamid.IN2", body="b"))
        sent = await st.simulator.wait_for_sent(1, 10)
        wamid = sent[0].wamid
        await until(
            lambda: scalar(st, "select count(*) from outbox where wamid = :w", w=wamid) == 1
        )
        await post(
            st, envelope(statuses=[status(wamid, "sent"), status(wamid, "failed", code=131026)])
        )
        await post(st, envelope(statuses=[status(wamid, "delivered")]))
        got = rows(st, "select delivery_status, error_code from outbox where wamid = :w", w=wamid)
        assert got == [("failed", 131026)]


async def test_batched_body_with_several_entries(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        a = text_body("wamid.B1", "6281111111111", "satu")
        b = text_body("wamid.B2", "6282222222222", "dua")
        a["entry"].append(b["entry"][0])
        a["entry"][0]["changes"][0]["value"]["messages"].append(
            {
                "from": "6281111111111",
                "id": "wamid.B3",
                "timestamp": "1700000000",
                "type": "text",
                "text": {"body": "tiga"},
            }
        )
        assert (await post(st, a))[0] == 200
        sent = await st.simulator.wait_for_sent(3, 10)
        assert sorted(m.body["text"]["body"] for m in sent) == ["dua", "satu", "tiga"]


async def test_overload_answers_503_and_loses_nothing(tmp_path: Path, db_url: str) -> None:
    import asyncio

    async with stack_for(tmp_path, db_url, ingest_queue_limit=10) as st:
        bodies = [text_body(f"wamid.LOAD{i}", f"62812{i:08d}", f"m{i}") for i in range(300)]
        results = await asyncio.gather(*(post(st, b) for b in bodies))
        codes = [c for c, _ in results]
        assert set(codes) == {200, 503}  # back-pressure happened, nothing else
        accepted = {f"wamid.LOAD{i}" for i, c in enumerate(codes) if c == 200}
        stored = {r[0] for r in rows(st, "select wamid from inbox")}
        assert accepted <= stored  # every 200 is durable
        # Meta retries the 503s later; they are all stored then, once.
        for i, c in enumerate(codes):
            if c == 503:
                assert (await post(st, bodies[i]))[0] == 200
        assert scalar(st, "select count(*) from inbox") == 300


async def test_storage_failure_answers_503_then_recovers(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        with st.runtime.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("ALTER TABLE status_events RENAME TO status_events_away"))
        body = envelope(statuses=[status("wamid.DOWN", "delivered")])
        code, _ = await post(st, body)
        assert code == 503
        with st.runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE status_events_away RENAME TO status_events"))
        assert (await post(st, body))[0] == 200
        assert scalar(st, "select count(*) from status_events") == 1
