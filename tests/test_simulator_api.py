"""Tests for the fake Graph API: validation, auth, window, templates, faults, /_sim/ control."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from aman.simulator import (
    Simulator,
    SimulatorConfig,
    SimulatorTimeoutError,
    TemplateSpec,
    WebhookReceiver,
    template_registry,
)

TOKEN = "EAAtest-token"
SECRET = "app-secret-for-tests"
PHONE_ID = "106540352242922"
USER = "6281234567890"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_750_000_000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    sim: Simulator
    receiver: WebhookReceiver
    session: aiohttp.ClientSession
    base: str
    clock: FakeClock

    async def send(
        self, body: Any, *, token: str | None = TOKEN, phone_id: str = PHONE_ID,
        version: str = "v23.0",
    ) -> tuple[int, Any, Any]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        url = f"{self.base}/{version}/{phone_id}/messages"
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        async with self.session.post(url, headers=headers, **kwargs) as resp:
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data, resp.headers

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(f"{self.base}{path}") as resp:
            return resp.status, await resp.json()

    async def get_with_headers(self, path: str) -> tuple[int, Any, Any]:
        async with self.session.get(f"{self.base}{path}") as resp:
            return resp.status, await resp.json(), resp.headers

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.session.post(f"{self.base}{path}", json=body) as resp:
            return resp.status, await resp.json()


@contextlib.asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[Rig]:
    receiver = WebhookReceiver(SECRET)
    url = await receiver.start()
    clock = FakeClock()
    settings: dict[str, Any] = {
        "status_delays": (0.0, 0.005, 0.005),
        "webhook_retry_delays": (0.01, 0.02),
    }
    settings.update(overrides)
    config = SimulatorConfig(access_token=TOKEN, app_secret=SECRET, webhook_url=url, **settings)
    sim = Simulator(config, now=clock)
    base = await sim.start()
    session = aiohttp.ClientSession()
    try:
        yield Rig(sim, receiver, session, base, clock)
    finally:
        await session.close()
        await sim.stop()
        await receiver.stop()


def text(body: str = "Halo", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": body},
            **extra}


def msg(mtype: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": USER, "type": mtype, mtype: content, **extra}


def buttons(n: int, title: Callable[[int], str] = lambda i: f"Pilihan {i}",
            bid: Callable[[int], str] = lambda i: f"b{i}", **extra: Any) -> dict[str, Any]:
    inter = {
        "type": "button",
        "body": {"text": "Mau apa?"},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": bid(i), "title": title(i)}} for i in range(n)
        ]},
    }
    inter.update(extra)
    return msg("interactive", inter)


def rows(n: int, start: int = 0, **row_extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"r{start + i}", "title": f"Baris {start + i}", **row_extra} for i in range(n)]


def list_msg(sections: list[dict[str, Any]], button: str = "Lihat", **extra: Any) -> dict[str, Any]:
    inter = {"type": "list", "body": {"text": "Pilih layanan"},
             "action": {"button": button, "sections": sections}}
    inter.update(extra)
    return msg("interactive", inter)


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


VALIDATION_CASES: list[tuple[str, Any, int]] = [
    ("text ok", text(), 200),
    ("plus prefix ok", {**text(), "to": "+" + USER}, 200),
    ("type defaults to text", without(text(), "type"), 200),
    ("messaging_product missing", without(text(), "messaging_product"), 100),
    ("messaging_product wrong", {**text(), "messaging_product": "sms"}, 100),
    ("recipient_type group", {**text(), "recipient_type": "group"}, 100),
    ("to missing", without(text(), "to"), 131008),
    ("to too short", {**text(), "to": "1234567"}, 100),
    ("to too long", {**text(), "to": "1234567890123456"}, 100),
    ("to with spaces", {**text(), "to": "+62 812 3456 7890"}, 100),
    ("to leading zero", {**text(), "to": "081234567890"}, 100),
    ("to not a string", {**text(), "to": 6281234567890}, 100),
    ("unknown type", {**text(), "type": "fax"}, 100),
    ("text object missing", without(text(), "text"), 131008),
    ("text body empty", text(""), 100),
    ("text body 4096", text("x" * 4096), 200),
    ("text body 4097", text("x" * 4097), 100),
    ("text body not string", msg("text", {"body": 5}), 100),
    ("preview_url not bool", msg("text", {"body": "a", "preview_url": "yes"}), 100),
    ("opaque 512", text(biz_opaque_callback_data="o" * 512), 200),
    ("opaque 513", text(biz_opaque_callback_data="o" * 513), 100),
    ("context ok", text(context={"message_id": "wamid.X"}), 200),
    ("context without id", text(context={}), 131008),
    ("image link", msg("image", {"link": "https://example.test/a.jpg", "caption": "c"}), 200),
    ("image id", msg("image", {"id": "1234"}), 200),
    ("image neither id nor link", msg("image", {"caption": "c"}), 131008),
    ("image ftp link", msg("image", {"link": "ftp://example.test/a.jpg"}), 100),
    ("image caption 1025", msg("image", {"id": "1", "caption": "c" * 1025}), 100),
    ("audio id", msg("audio", {"id": "55"}), 200),
    ("video link", msg("video", {"link": "https://example.test/v.mp4"}), 200),
    ("sticker id", msg("sticker", {"id": "77"}), 200),
    ("document with filename", msg("document", {"id": "9", "filename": "a.pdf"}), 200),
    ("media not an object", msg("image", "https://example.test/a.jpg"), 100),
    ("location ok", msg("location", {"latitude": -6.2, "longitude": 106.8, "name": "Monas"}),
     200),
    ("location latitude 91", msg("location", {"latitude": 91, "longitude": 0}), 100),
    ("location longitude missing", msg("location", {"latitude": 1}), 131008),
    ("location latitude text", msg("location", {"latitude": "north", "longitude": 0}), 100),
    ("contacts ok", msg("contacts", [{"name": {"formatted_name": "Budi"}}]), 200),
    ("contacts empty", msg("contacts", []), 131008),
    ("contacts without name", msg("contacts", [{"phones": []}]), 131008),
    ("reaction ok", msg("reaction", {"message_id": "wamid.A", "emoji": "👍"}), 200),
    ("reaction removal", msg("reaction", {"message_id": "wamid.A", "emoji": ""}), 200),
    ("reaction no emoji", msg("reaction", {"message_id": "wamid.A"}), 131008),
    ("reaction no message_id", msg("reaction", {"emoji": "👍"}), 131008),
    ("buttons 1", buttons(1), 200),
    ("buttons 3", buttons(3), 200),
    ("buttons 0", buttons(0), 131009),
    ("buttons 4", buttons(4), 131009),
    ("button title 20", buttons(1, title=lambda i: "t" * 20), 200),
    ("button title 21", buttons(1, title=lambda i: "t" * 21), 131009),
    ("button title empty", buttons(1, title=lambda i: ""), 131009),
    ("button ids duplicate", buttons(2, bid=lambda i: "same"), 131009),
    ("button titles duplicate", buttons(2, title=lambda i: "Sama"), 131009),
    ("button id 256", buttons(1, bid=lambda i: "i" * 256), 200),
    ("button id 257", buttons(1, bid=lambda i: "i" * 257), 131009),
    ("button type url", msg("interactive", {"type": "button", "body": {"text": "b"}, "action": {
        "buttons": [{"type": "url", "reply": {"id": "a", "title": "b"}}]}}), 100),
    ("button body 1024", buttons(1, body={"text": "b" * 1024}), 200),
    ("button body 1025", buttons(1, body={"text": "b" * 1025}), 100),
    ("button body missing", msg("interactive", {"type": "button", "action": {"buttons": [
        {"type": "reply", "reply": {"id": "a", "title": "b"}}]}}), 131008),
    ("button header text 60", buttons(1, header={"type": "text", "text": "h" * 60}), 200),
    ("button header text 61", buttons(1, header={"type": "text", "text": "h" * 61}), 100),
    ("button header image", buttons(1, header={"type": "image", "image": {"id": "1"}}), 200),
    ("button footer 60", buttons(1, footer={"text": "f" * 60}), 200),
    ("button footer 61", buttons(1, footer={"text": "f" * 61}), 100),
    ("interactive type unknown", msg("interactive", {"type": "carousel", "action": {}}), 100),
    ("interactive action missing", msg("interactive", {"type": "button", "body": {"text": "b"}}),
     131008),
    ("list ok", list_msg([{"rows": rows(10)}]), 200),
    ("list 11 rows in one section", list_msg([{"rows": rows(11)}]), 131009),
    ("list 11 rows across sections",
     list_msg([{"title": "A", "rows": rows(6)}, {"title": "B", "rows": rows(5, 6)}]), 131009),
    ("list 2 sections titled", list_msg([{"title": "A", "rows": rows(2)},
                                         {"title": "B", "rows": rows(2, 2)}]), 200),
    ("list 2 sections, one untitled", list_msg([{"title": "A", "rows": rows(2)},
                                                {"rows": rows(2, 2)}]), 131008),
    ("list section title 25", list_msg([{"title": "s" * 25, "rows": rows(1)}]), 131009),
    ("list 11 sections", list_msg([{"title": f"S{i}", "rows": rows(1, i)} for i in range(11)]),
     131009),
    ("list no sections", list_msg([]), 131009),
    ("list empty section", list_msg([{"rows": []}]), 131009),
    ("list row title 24", list_msg([{"rows": [{"id": "a", "title": "r" * 24}]}]), 200),
    ("list row title 25", list_msg([{"rows": [{"id": "a", "title": "r" * 25}]}]), 131009),
    ("list row description 72", list_msg([{"rows": rows(1, description="d" * 72)}]), 200),
    ("list row description 73", list_msg([{"rows": rows(1, description="d" * 73)}]), 131009),
    ("list row ids duplicate", list_msg([{"rows": [{"id": "a", "title": "x"},
                                                   {"id": "a", "title": "y"}]}]), 131009),
    ("list button 20", list_msg([{"rows": rows(1)}], button="b" * 20), 200),
    ("list button 21", list_msg([{"rows": rows(1)}], button="b" * 21), 131009),
    ("list header text", list_msg([{"rows": rows(1)}], header={"type": "text", "text": "H"}),
     200),
    ("list header image", list_msg([{"rows": rows(1)}],
                                   header={"type": "image", "image": {"id": "1"}}), 100),
    ("list footer 61", list_msg([{"rows": rows(1)}], footer={"text": "f" * 61}), 100),
    ("cta_url ok", msg("interactive", {"type": "cta_url", "body": {"text": "Buka"}, "action": {
        "name": "cta_url", "parameters": {"display_text": "Buka", "url": "https://x.test"}}}),
     200),
    ("cta_url text 21", msg("interactive", {"type": "cta_url", "body": {"text": "Buka"}, "action": {
        "name": "cta_url", "parameters": {"display_text": "d" * 21, "url": "https://x.test"}}}),
     131009),
    ("location request ok", msg("interactive", {"type": "location_request_message", "body": {
        "text": "Kirim lokasi"}, "action": {"name": "send_location"}}), 200),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in VALIDATION_CASES],
                         ids=[c[0] for c in VALIDATION_CASES])
async def test_validation_rules(body: Any, expected: int) -> None:
    async with running(enforce_window=False) as rig:
        status, data, _ = await rig.send(body)
        if expected == 200:
            assert status == 200, data
            assert data["messaging_product"] == "whatsapp"
            assert data["contacts"] == [{"input": body["to"], "wa_id": USER}]
            assert data["messages"][0]["id"].startswith("wamid.")
            assert len(rig.sim.sent) == 1
            assert rig.sim.sent[0].wamid == data["messages"][0]["id"]
        else:
            assert status == 400, data
            error = data["error"]
            assert error["code"] == expected, error
            assert error["type"] == "OAuthException"
            assert error["message"].startswith(f"(#{expected}) ")
            assert error["error_data"]["messaging_product"] == "whatsapp"
            assert error["error_data"]["details"]
            assert error["fbtrace_id"]
            assert rig.sim.sent == []
            assert rig.sim.stats()["rejected"] == {str(expected): 1}


@pytest.mark.anyio
async def test_body_must_be_a_json_object() -> None:
    async with running(enforce_window=False) as rig:
        for raw in (b"{not json", b"[1, 2]", b""):
            status, data, _ = await rig.send(raw)
            assert (status, data["error"]["code"]) == (400, 100)


@pytest.mark.anyio
async def test_bearer_token_and_phone_number_id() -> None:
    async with running(enforce_window=False) as rig:
        for token in (None, "wrong", TOKEN + "x", TOKEN[:-1], ""):
            status, data, headers = await rig.send(text(), token=token)
            assert status == 401
            assert data["error"]["code"] == 190
            assert data["error"]["type"] == "OAuthException"
            assert "invalid_token" in headers["WWW-Authenticate"]
        async with rig.session.post(
            f"{rig.base}/v23.0/{PHONE_ID}/messages", json=text(),
            headers={"Authorization": f"bearer {TOKEN}"},
        ) as resp:
            assert resp.status == 401
        status, data, _ = await rig.send(text(), phone_id="999999999")
        assert status == 400
        assert data["error"]["code"] == 100
        assert data["error"]["error_subcode"] == 33
        assert rig.sim.sent == []
        for version in ("v23.0", "v19.0", "v100.12"):
            status, _, _ = await rig.send(text(), version=version)
            assert status == 200
        status, _, _ = await rig.send(text(), version="latest")
        assert status == 404
        assert len(rig.sim.sent) == 3
        assert rig.sim.stats()["rejected"] == {"100": 1, "190": 6}


@pytest.mark.anyio
async def test_customer_service_window_with_fake_clock() -> None:
    async with running() as rig:
        status, data, _ = await rig.send(text())
        assert (status, data["error"]["code"]) == (400, 131047)
        assert "24 hours" in data["error"]["error_data"]["details"]
        result = await rig.sim.phone.send_text(USER, "Halo bank")
        assert result.status == 200
        status, _, _ = await rig.send(text())
        assert status == 200
        rig.clock.t += 24 * 3600 - 1
        status, _, _ = await rig.send(text())
        assert status == 200
        rig.clock.t += 2
        status, data, _ = await rig.send(text())
        assert (status, data["error"]["code"]) == (400, 131047)
        tpl = msg("template", {"name": "hello_world", "language": {"code": "en_US"}})
        status, _, _ = await rig.send(tpl)
        assert status == 200
        status, data, _ = await rig.send(msg("reaction", {"message_id": "wamid.A", "emoji": "👍"}))
        assert data["error"]["code"] == 131047
        await rig.sim.phone.send_reply(USER, "ya", "Ya")
        status, _, _ = await rig.send(text())
        assert status == 200
        # Another user never wrote.
        status, data, _ = await rig.send({**text(), "to": "6289999999999"})
        assert data["error"]["code"] == 131047


@pytest.mark.anyio
async def test_templates() -> None:
    def tpl(name: str, code: str, body_params: int = 0, **comps: Any) -> dict[str, Any]:
        components: list[dict[str, Any]] = []
        if body_params:
            components.append({"type": "body", "parameters": [
                {"type": "text", "text": f"v{i}"} for i in range(body_params)]})
        for ctype, params in comps.items():
            components.append({"type": ctype, "parameters": params})
        return msg("template", {"name": name, "language": {"code": code},
                                "components": components})

    cases: list[tuple[dict[str, Any], int]] = [
        (tpl("hello_world", "en_US"), 200),
        (tpl("hello_world", "id"), 132001),
        (tpl("no_such_template", "id"), 132001),
        (tpl("appointment_reminder", "id", 3), 200),
        (tpl("appointment_reminder", "id", 2), 132000),
        (tpl("appointment_reminder", "id", 4), 132000),
        (tpl("order_update", "id", 2), 200),
        (tpl("hello_world", "en_US", 1), 132000),
        (tpl("kode_verifikasi", "id", 1, button=[{"type": "text", "text": "123456"}]), 200),
        (tpl("kode_verifikasi", "id", 1), 132000),
        (tpl("promo_bulanan", "id", 1, header=[{"type": "text", "text": "Promo"}]), 200),
        (msg("template", {"name": "order_update", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "A1\nB"},
                                            {"type": "text", "text": "x"}]}]}), 132018),
        (msg("template", {"name": "order_update", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "a     b"},
                                            {"type": "text", "text": "x"}]}]}), 132018),
        (msg("template", {"name": "order_update", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [{"type": "money"}, {"type": "text", "text": "x"}]}]}),
         100),
        (msg("template", {"name": "hello_world"}), 131008),
        (msg("template", {"language": {"code": "en_US"}}), 131008),
        (msg("template", {"name": "hello_world", "language": {"code": "en_US"},
                          "components": {}}), 100),
    ]
    async with running() as rig:
        for body, expected in cases:
            status, data, _ = await rig.send(body)
            if expected == 200:
                assert status == 200, (body, data)
                assert data["messages"][0]["message_status"] == "accepted"
            else:
                assert status == 400, (body, data)
                assert data["error"]["code"] == expected, (body, data)
        assert len(rig.sim.sent) == 5

    custom = template_registry(TemplateSpec("tagihan", "id", "utility", body_params=1))
    async with running(templates=custom) as rig:
        status, data, _ = await rig.send(tpl("hello_world", "en_US"))
        assert data["error"]["code"] == 132001
        status, _, _ = await rig.send(tpl("tagihan", "id", 1))
        assert status == 200


@pytest.mark.anyio
async def test_read_receipts() -> None:
    async with running() as rig:
        inbound = await rig.sim.phone.send_text(USER, "Halo")
        read = {"messaging_product": "whatsapp", "status": "read", "message_id": inbound.wamid}
        status, data, _ = await rig.send(read)
        assert (status, data) == (200, {"success": True})
        typing = {**read, "typing_indicator": {"type": "text"}}
        status, data, _ = await rig.send(typing)
        assert (status, data) == (200, {"success": True})
        for bad in ({**read, "message_id": "nope"}, {**read, "messaging_product": "x"},
                    {**read, "typing_indicator": {"type": "audio"}}):
            status, data, _ = await rig.send(bad)
            assert (status, data["error"]["code"]) == (400, 100)
        stats = rig.sim.stats()
        assert stats["read_receipts"] == 2
        assert stats["accepted"] == 0
        assert rig.sim.state.read_receipts == [inbound.wamid, inbound.wamid]


@pytest.mark.anyio
async def test_duplicate_detection() -> None:
    async with running(enforce_window=False, statuses=False) as rig:
        for key in ("a", "b", "a", "c", "a", "b"):
            status, _, _ = await rig.send(text(biz_opaque_callback_data=key))
            assert status == 200
        status, _, _ = await rig.send(text())
        assert status == 200
        code, stats = await rig.get("/_sim/stats")
        assert code == 200
        assert stats["accepted"] == 7
        assert stats["duplicates"] == 3
        assert stats["duplicate_keys"] == ["a", "b"]
        assert len({m.wamid for m in rig.sim.sent}) == 7


@pytest.mark.anyio
async def test_rate_limit_429_with_retry_after() -> None:
    async with running(enforce_window=False) as rig:
        rig.sim.set_faults(rate_429=1.0, retry_after_s=7)
        status, data, headers = await rig.send(text())
        assert status == 429
        assert headers["Retry-After"] == "7"
        assert data["error"]["code"] == 130429
        assert data["error"]["message"] == "(#130429) Rate limit hit"
        assert rig.sim.sent == []
        rig.sim.set_faults(rate_429=0.0)
        status, _, _ = await rig.send(text())
        assert status == 200


@pytest.mark.anyio
async def test_5xx_131056_and_latency_faults() -> None:
    async with running(enforce_window=False) as rig:
        rig.sim.set_faults(rate_5xx=1.0)
        seen = set()
        for _ in range(12):
            status, data, _ = await rig.send(text())
            seen.add((status, data["error"]["code"]))
        assert seen == {(500, 131000), (503, 2)}
        rig.sim.set_faults(rate_5xx=0.0, rate_131056=1.0)
        status, data, _ = await rig.send(text())
        assert (status, data["error"]["code"]) == (400, 131056)
        rig.sim.set_faults(rate_131056=0.0, latency_ms=60.0, latency_jitter_ms=10.0)
        started = time.perf_counter()
        status, _, _ = await rig.send(text())
        assert status == 200
        assert time.perf_counter() - started >= 0.06
        assert len(rig.sim.sent) == 1


@pytest.mark.anyio
async def test_fault_schedule_is_reproducible_with_a_seed() -> None:
    async def run(seed: int) -> list[int]:
        async with running(enforce_window=False, seed=seed) as rig:
            rig.sim.set_faults(rate_429=0.5)
            return [(await rig.send(text()))[0] for _ in range(24)]

    first, again, other = await run(7), await run(7), await run(8)
    assert first == again
    assert set(first) == {200, 429}
    assert first != other


@pytest.mark.anyio
async def test_timeout_fault_drops_the_connection() -> None:
    async with running(enforce_window=False) as rig:
        rig.sim.set_faults(rate_timeout=1.0, timeout_hang_s=0.05)
        started = time.perf_counter()
        with pytest.raises(aiohttp.ClientError):
            await rig.send(text())
        assert time.perf_counter() - started >= 0.05
        assert rig.sim.sent == []
        rig.sim.set_faults(timeout_accepts=True)
        with pytest.raises(aiohttp.ClientError):
            await rig.send(text(biz_opaque_callback_data="k"))
        assert [m.biz_opaque_callback_data for m in rig.sim.sent] == ["k"]
        assert rig.sim.stats()["dropped_connections"] == 2
        # A long hang does not hold up stop().
        rig.sim.set_faults(timeout_hang_s=30.0)
        pending = asyncio.create_task(rig.send(text()))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await rig.sim.stop()
        assert time.perf_counter() - started < 2.0
        with pytest.raises(aiohttp.ClientError):
            await pending


@pytest.mark.anyio
async def test_unknown_numbers_are_undeliverable() -> None:
    async with running(enforce_window=False, unknown_numbers=frozenset({USER})) as rig:
        status, data, _ = await rig.send(text())
        assert (status, data["error"]["code"]) == (400, 131026)
        status, _, _ = await rig.send({**text(), "to": "6281200000000"})
        assert status == 200


@pytest.mark.anyio
async def test_control_messages_stats_faults_reset() -> None:
    async with running(enforce_window=False, statuses=False) as rig:
        other = "6285700000000"
        for to in (USER, other, USER):
            assert (await rig.send({**text(), "to": to}))[0] == 200
        code, items = await rig.get("/_sim/messages")
        assert code == 200
        assert [m["index"] for m in items] == [0, 1, 2]
        assert items[0]["body"]["text"] == {"body": "Halo"}
        code, items = await rig.get(f"/_sim/messages?to={USER}&since=1")
        assert [(m["index"], m["to"]) for m in items] == [(2, USER)]
        code, items = await rig.get(f"/_sim/messages?to=%2B{other}")
        assert [m["index"] for m in items] == [1]
        for bad in ("?since=x", "?since=-1", "?to=abc"):
            code, data = await rig.get(f"/_sim/messages{bad}")
            assert code == 400 and data["error"]

        code, faults = await rig.post("/_sim/faults", {"rate_429": 1, "latency_ms": 0})
        assert code == 200 and faults["rate_429"] == 1.0
        assert (await rig.send(text()))[0] == 429
        code, data = await rig.get("/_sim/faults")
        assert data["rate_429"] == 1.0
        bad_faults: list[Any] = [{"rate_429": 1.5}, {"nope": 1}, {"latency_ms": -1},
                                 {"timeout_accepts": 1}, {"rate_5xx": "x"}, [1]]
        for bad_body in bad_faults:
            code, data = await rig.post("/_sim/faults", bad_body)
            assert code == 400, bad_body
        assert rig.sim.dice.faults.rate_429 == 1.0

        code, data = await rig.post("/_sim/reset", {})
        assert (code, data) == (200, {"ok": True})
        _, stats = await rig.get("/_sim/stats")
        assert stats["accepted"] == 0 and stats["rejected"] == {}
        assert stats["faults"]["rate_429"] == 1.0
        code, _ = await rig.post("/_sim/reset", {"faults": True})
        assert rig.sim.dice.faults.rate_429 == 0.0
        code, data = await rig.get("/_sim/health")
        assert data == {"ok": True, "phone_number_id": PHONE_ID}


@pytest.mark.anyio
async def test_reset_closes_windows() -> None:
    async with running() as rig:
        await rig.sim.phone.send_text(USER, "Halo")
        assert (await rig.send(text()))[0] == 200
        rig.sim.reset()
        assert (await rig.send(text()))[1]["error"]["code"] == 131047


@pytest.mark.anyio
async def test_wait_endpoint_and_wait_for_sent() -> None:
    async with running(enforce_window=False, statuses=False) as rig:
        waiter = asyncio.create_task(rig.get("/_sim/wait?count=2&timeout=5"))
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await rig.send(text())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await rig.send(text())
        assert await asyncio.wait_for(waiter, 2) == (200, {"ok": True, "count": 2})
        code, data = await rig.get("/_sim/wait?count=5&timeout=0.05")
        assert (code, data) == (408, {"ok": False, "count": 2})
        for bad in ("", "?count=x", "?count=1&timeout=-1", "?count=1&timeout=9999",
                    "?count=-1"):
            code, _ = await rig.get(f"/_sim/wait{bad}")
            assert code == 400, bad
        sent = await rig.sim.wait_for_sent(2, 0.01)
        assert len(sent) == 2
        later = asyncio.create_task(rig.sim.wait_for_sent(3, 2.0))
        await rig.send(text())
        assert len(await later) == 3
        with pytest.raises(SimulatorTimeoutError):
            await rig.sim.wait_for_sent(10, 0.02)
        # stop() releases pending long-polls.
        pending = asyncio.create_task(rig.get("/_sim/wait?count=99&timeout=60"))
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        await rig.sim.stop()
        code, data = await asyncio.wait_for(pending, 3)
        assert code == 503 and data["ok"] is False
        assert time.perf_counter() - started < 2.0


@pytest.mark.anyio
async def test_only_the_newest_max_messages_are_kept() -> None:
    async with running(enforce_window=False, statuses=False, max_messages=5) as rig:
        other = "6285700000000"
        for i in range(12):
            to = other if i % 3 == 2 else USER
            body = {**text(f"m{i}", biz_opaque_callback_data=f"k{i}"), "to": to}
            assert (await rig.send(body))[0] == 200
        # Memory holds the newest 5; the counters count all 12.
        assert [m.body["text"]["body"] for m in rig.sim.sent] == [f"m{i}" for i in range(7, 12)]
        code, stats = await rig.get("/_sim/stats")
        assert code == 200
        assert (stats["accepted"], stats["kept"], stats["first_index"]) == (12, 5, 7)
        assert stats["max_messages"] == 5
        # Indices are absolute: paging with since= goes on across the drops.
        code, items, headers = await rig.get_with_headers("/_sim/messages?since=9")
        assert code == 200
        got = [(m["index"], m["body"]["text"]["body"]) for m in items]
        assert got == [(9, "m9"), (10, "m10"), (11, "m11")]
        assert headers["X-Sim-Dropped"] == "0"
        assert (headers["X-Sim-First-Index"], headers["X-Sim-Next-Index"]) == ("7", "12")
        # A reader behind the oldest kept send gets what is kept and learns what it missed.
        code, items, headers = await rig.get_with_headers("/_sim/messages?since=3")
        assert [m["index"] for m in items] == [7, 8, 9, 10, 11]
        assert headers["X-Sim-Dropped"] == "4"
        code, items, headers = await rig.get_with_headers("/_sim/messages")
        assert [m["index"] for m in items] == [7, 8, 9, 10, 11]
        assert headers["X-Sim-Dropped"] == "7"
        code, items, headers = await rig.get_with_headers(f"/_sim/messages?to={other}&since=2")
        assert [m["index"] for m in items] == [8, 11]
        assert headers["X-Sim-Dropped"] == "5"  # of any recipient
        for since in (12, 40):
            code, items, headers = await rig.get_with_headers(f"/_sim/messages?since={since}")
            assert (code, items, headers["X-Sim-Dropped"]) == (200, [], "0")
        assert [i for i, _ in rig.sim.state.sent_since(10)] == [10, 11]
        # Waiting counts every accepted send, not the kept ones.
        assert await rig.get("/_sim/wait?count=12&timeout=1") == (200, {"ok": True, "count": 12})
        code, data = await rig.get("/_sim/wait?count=13&timeout=0.05")
        assert (code, data) == (408, {"ok": False, "count": 12})
        assert len(await rig.sim.wait_for_sent(12, 0.01)) == 5
        later = asyncio.create_task(rig.sim.wait_for_sent(13, 2.0))
        await asyncio.sleep(0.01)
        assert not later.done()
        assert (await rig.send(text("m12")))[0] == 200
        assert [m.body["text"]["body"] for m in await later][-1] == "m12"
        # A reset starts the indices (and the counters) at 0 again.
        rig.sim.reset()
        assert (await rig.send(text("again")))[0] == 200
        code, items, headers = await rig.get_with_headers("/_sim/messages")
        assert [m["index"] for m in items] == [0]
        assert (headers["X-Sim-Dropped"], headers["X-Sim-First-Index"]) == ("0", "0")
        _, stats = await rig.get("/_sim/stats")
        assert (stats["accepted"], stats["kept"], stats["first_index"]) == (1, 1, 0)


@pytest.mark.anyio
async def test_statuses_and_replies_work_past_the_cap() -> None:
    async with running(max_messages=2) as rig:
        inbound = await rig.sim.phone.send_text(USER, "Halo")
        assert inbound.status == 200
        wamids = []
        for i in range(4):
            status, data, _ = await rig.send(text(f"r{i}", biz_opaque_callback_data=f"s{i}"))
            assert status == 200
            wamids.append(data["messages"][0]["id"])
        assert [m.wamid for m in rig.sim.sent] == wamids[2:]
        # Every send gets its statuses, also those already dropped from the record.
        statuses = await rig.receiver.wait_for_statuses(12, timeout=10)
        by_wamid: dict[str, list[str]] = {}
        for s in statuses:
            by_wamid.setdefault(s["id"], []).append(s["status"])
            assert s["biz_opaque_callback_data"] == f"s{wamids.index(s['id'])}"
        assert by_wamid == {w: ["sent", "delivered", "read"] for w in wamids}
        # A button reply carries the newest send as its context.
        await rig.sim.phone.send_reply(USER, "b0", "Oke")
        assert rig.receiver.messages()[-1]["context"]["id"] == wamids[-1]


@pytest.mark.anyio
async def test_read_receipts_and_duplicate_keys_are_bounded_too() -> None:
    async with running(enforce_window=False, statuses=False, max_messages=3) as rig:
        inbound = await rig.sim.phone.send_text(USER, "Halo")
        read = {"messaging_product": "whatsapp", "status": "read", "message_id": inbound.wamid}
        for _ in range(5):
            assert (await rig.send(read))[0] == 200
        assert rig.sim.stats()["read_receipts"] == 5
        assert rig.sim.state.read_receipts == [inbound.wamid] * 3
        # A repeat is caught while an earlier copy is among the last 3 sends ...
        for key in ("a", "b", "a", "c", "d", "e", "a"):
            assert (await rig.send(text(biz_opaque_callback_data=key)))[0] == 200
        stats = rig.sim.stats()
        assert (stats["accepted"], stats["duplicates"], stats["duplicate_keys"]) == (7, 1, ["a"])
        # ... and the keys remembered for that stay within the cap.
        assert len(rig.sim.state._opaque_seen) == 3
        for key in ("f", "g", "a", "a"):  # "a" was forgotten; repeated again, listed once
            assert (await rig.send(text(biz_opaque_callback_data=key)))[0] == 200
        assert rig.sim.stats()["duplicate_keys"] == ["a"]
        rig.sim.reset()
        for key in ("x", "x", "y", "y", "z", "z", "w", "w"):
            assert (await rig.send(text(biz_opaque_callback_data=key)))[0] == 200
        stats = rig.sim.stats()
        assert (stats["duplicates"], stats["duplicate_keys"]) == (4, ["x", "y", "z"])
        assert stats["read_receipts"] == 0 and rig.sim.state.read_receipts == []
