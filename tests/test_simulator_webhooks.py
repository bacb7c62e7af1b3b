"""Tests for the simulated phone and status emitter: signed webhooks, order, retries, faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from aman.simulator import (
    InboundRequestError,
    Simulator,
    SimulatorConfig,
    WebhookReceiver,
)

TOKEN = "EAAtest-token"
SECRET = "app-secret-for-tests"
PHONE_ID = "106540352242922"
USER = "6281234567890"
CANONICAL = ["sent", "delivered", "read"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Rig:
    sim: Simulator
    receiver: WebhookReceiver
    session: aiohttp.ClientSession
    base: str

    async def send(self, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(
            f"{self.base}/v23.0/{PHONE_ID}/messages", json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as resp:
            return resp.status, await resp.json()

    async def inbound(self, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(f"{self.base}/_sim/inbound", json=body) as resp:
            return resp.status, await resp.json()


@contextlib.asynccontextmanager
async def running(
    receiver: WebhookReceiver | None = None, **overrides: Any
) -> AsyncIterator[Rig]:
    receiver = receiver or WebhookReceiver(SECRET)
    url = await receiver.start()
    settings: dict[str, Any] = {
        "status_delays": (0.0, 0.005, 0.005),
        "webhook_retry_delays": (0.01, 0.02),
        "enforce_window": False,
    }
    settings.update(overrides)
    sim = Simulator(SimulatorConfig(access_token=TOKEN, app_secret=SECRET, webhook_url=url,
                                    **settings))
    base = await sim.start()
    session = aiohttp.ClientSession()
    try:
        yield Rig(sim, receiver, session, base)
    finally:
        await session.close()
        await sim.stop()
        await receiver.stop()


def text(body: str = "Halo", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": body},
            **extra}


def by_message(statuses: list[dict[str, Any]]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for status in statuses:
        order.setdefault(status["id"], []).append(status["status"])
    return order


@pytest.mark.anyio
async def test_status_webhooks_signed_ordered_and_echo_opaque_data() -> None:
    async with running() as rig:
        wamids = []
        for i in range(3):
            status, data = await rig.send(text(biz_opaque_callback_data=f"job-{i}"))
            assert status == 200
            wamids.append(data["messages"][0]["id"])
        statuses = await rig.receiver.wait_for_statuses(9)
        await rig.sim.drain_statuses(2.0)
        assert rig.receiver.bad_signatures == 0
        assert by_message(statuses) == {w: CANONICAL for w in wamids}
        for hook in rig.receiver.received:
            # The receiver verified the HMAC; check the envelope too.
            assert hook.payload["object"] == "whatsapp_business_account"
            entry = hook.payload["entry"][0]
            assert entry["id"] == rig.sim.config.waba_id
            change = entry["changes"][0]
            assert change["field"] == "messages"
            assert change["value"]["metadata"] == {
                "display_phone_number": rig.sim.config.display_phone_number,
                "phone_number_id": PHONE_ID,
            }
        for st in statuses:
            index = wamids.index(st["id"])
            assert st["biz_opaque_callback_data"] == f"job-{index}"
            assert st["recipient_id"] == USER
            assert st["timestamp"].isdigit()
            if st["status"] == "read":
                assert "pricing" not in st and "conversation" not in st
            else:
                assert st["pricing"] == {"billable": False, "pricing_model": "PMP",
                                         "category": "service",
                                         "type": "free_customer_service"}
                assert st["conversation"]["origin"] == {"type": "service"}
                assert ("expiration_timestamp" in st["conversation"]) == (
                    st["status"] == "sent")
        assert len({s["conversation"]["id"] for s in statuses if "conversation" in s}) == 1
        stats = rig.sim.stats()
        assert stats["statuses"]["emitted"] == 9
        assert stats["webhooks"]["failed"] == 0


@pytest.mark.anyio
async def test_template_pricing_and_no_opaque_when_absent() -> None:
    async with running(status_kinds=("sent",)) as rig:
        body = {"messaging_product": "whatsapp", "to": USER, "type": "template", "template": {
            "name": "promo_bulanan", "language": {"code": "id"}, "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "Promo"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "50%"}]}]}}
        assert (await rig.send(body))[0] == 200
        [status] = await rig.receiver.wait_for_statuses(1)
        assert status["status"] == "sent"
        assert "biz_opaque_callback_data" not in status
        assert status["pricing"]["category"] == "marketing"
        assert status["pricing"]["billable"] is True
        assert status["conversation"]["origin"] == {"type": "marketing"}


@pytest.mark.anyio
async def test_reorder_statuses_fault() -> None:
    async with running(seed=3) as rig:
        rig.sim.set_faults(reorder_statuses=1.0)
        for _ in range(8):
            assert (await rig.send(text()))[0] == 200
        statuses = await rig.receiver.wait_for_statuses(24)
        orders = by_message(statuses)
        assert all(sorted(order) == sorted(CANONICAL) for order in orders.values())
        assert any(order != CANONICAL for order in orders.values())


@pytest.mark.anyio
async def test_statuses_batched_and_switchable() -> None:
    async with running(status_kinds=("sent",), status_delays=(0.02, 0.0, 0.0),
                       status_batch_max=4, status_linger_ms=30.0) as rig:
        for _ in range(6):
            assert (await rig.send(text()))[0] == 200
        await rig.receiver.wait_for_statuses(6)
        sizes = [len(hook.statuses()) for hook in rig.receiver.received]
        assert sum(sizes) == 6
        assert max(sizes) <= 4
        assert len(sizes) < 6
    async with running(status_concurrency=3, status_batch_max=2) as rig:
        for _ in range(8):
            assert (await rig.send(text()))[0] == 200
        await rig.sim.drain_statuses(5.0)
        orders = by_message(rig.receiver.statuses())
        assert len(orders) == 8
        assert all(sorted(order) == sorted(CANONICAL) for order in orders.values())
        assert rig.sim.emitter.pending == 0
    async with running(statuses=False) as rig:
        assert (await rig.send(text()))[0] == 200
        await asyncio.sleep(0.05)
        assert rig.receiver.attempts == 0
        assert rig.sim.emitter.pending == 0


@pytest.mark.anyio
async def test_undeliverable_as_failed_status() -> None:
    async with running(unknown_numbers=frozenset({USER}), undeliverable_as_status=True) as rig:
        status, data = await rig.send(text(biz_opaque_callback_data="x"))
        assert status == 200
        [failed] = await rig.receiver.wait_for_statuses(1)
        assert failed["id"] == data["messages"][0]["id"]
        assert failed["status"] == "failed"
        assert failed["errors"][0]["code"] == 131026
        assert failed["biz_opaque_callback_data"] == "x"


@pytest.mark.anyio
async def test_phone_text_webhook_format_and_meta_escaping() -> None:
    async with running() as rig:
        result = await rig.sim.phone.send_text("+" + USER, "Halo 😀 ñ", name="Budi")
        assert (result.status, result.attempts) == (200, 1)
        [hook] = rig.receiver.received
        assert max(hook.body) < 128
        assert b"\\ud83d\\ude00" in hook.body
        assert rig.receiver.bad_signatures == 0
        assert rig.receiver.attempts == 1
        value = hook.payload["entry"][0]["changes"][0]["value"]
        assert value["messaging_product"] == "whatsapp"
        [contact] = value["contacts"]
        assert contact["profile"] == {"name": "Budi"}
        assert contact["wa_id"] == USER
        assert contact["user_id"].startswith("ID.")
        [message] = value["messages"]
        assert message["from"] == USER
        assert message["id"] == result.wamid
        assert message["type"] == "text"
        assert message["text"] == {"body": "Halo 😀 ñ"}
        assert message["timestamp"].isdigit()
        assert json.loads(hook.body) == hook.payload


@pytest.mark.anyio
async def test_phone_message_kinds() -> None:
    async with running() as rig:
        phone = rig.sim.phone
        _, sent = await rig.send(text())
        out_id = sent["messages"][0]["id"]
        await phone.send_reply(USER, "opt-1", "Cek saldo")
        await phone.send_reply(USER, "row-2", "Transfer", "list", description="Antar bank",
                               context_id="wamid.CTX")
        await phone.send_button(USER, "STOP", "Berhenti")
        await phone.send_image(USER, "media-1", caption="struk")
        await phone.send_location(USER, -6.2, 106.8, place="Monas", address="Jakarta")
        await phone.send_reaction(USER, out_id, "👍")
        await phone.send_order(USER, "cat-1", [{"product_retailer_id": "sku-1", "quantity": 2,
                                               "item_price": 15000, "currency": "IDR"}])
        await phone.send_raw({"type": "unsupported", "errors": [{"code": 131051}]}, wa_id=USER)
        msgs = rig.receiver.messages()
        assert [m["type"] for m in msgs] == ["interactive", "interactive", "button", "image",
                                             "location", "reaction", "order", "unsupported"]
        assert msgs[0]["interactive"] == {"type": "button_reply",
                                          "button_reply": {"id": "opt-1", "title": "Cek saldo"}}
        assert msgs[0]["context"] == {"from": rig.sim.config.display_phone_number, "id": out_id}
        assert msgs[1]["interactive"]["list_reply"] == {
            "id": "row-2", "title": "Transfer", "description": "Antar bank"}
        assert msgs[1]["context"]["id"] == "wamid.CTX"
        assert msgs[2]["button"] == {"payload": "STOP", "text": "Berhenti"}
        assert msgs[3]["image"]["id"] == "media-1"
        assert msgs[3]["image"]["caption"] == "struk"
        assert len(msgs[3]["image"]["sha256"]) == 64 and msgs[3]["image"]["mime_type"]
        assert msgs[4]["location"]["latitude"] == -6.2
        assert msgs[5]["reaction"] == {"message_id": out_id, "emoji": "👍"}
        assert msgs[6]["order"]["product_items"][0]["product_retailer_id"] == "sku-1"
        assert msgs[7]["from"] == USER and msgs[7]["id"].startswith("wamid.")
        assert len({m["id"] for m in msgs}) == len(msgs)
        with pytest.raises(InboundRequestError):
            await phone.send_text("08123", "x")
        with pytest.raises(InboundRequestError):
            await phone.send_text(USER, "")
        with pytest.raises(InboundRequestError):
            await phone.send_raw({"text": {"body": "no type"}}, wa_id=USER)
        with pytest.raises(InboundRequestError):
            await phone.send_location(USER, 95.0, 0.0)


@pytest.mark.anyio
async def test_phone_retries_until_receiver_answers_200() -> None:
    receiver = WebhookReceiver(SECRET, responses=[500, 503])
    async with running(receiver, webhook_retry_delays=(0.01, 0.01, 0.01)) as rig:
        result = await rig.sim.phone.send_text(USER, "Halo")
        assert (result.status, result.attempts) == (200, 3)
        assert receiver.attempts == 3
        assert len(receiver.messages()) == 1
        assert rig.sim.stats()["webhooks"] == {
            "deliveries": 3, "delivered": 1, "retries": 2, "failed": 0, "duplicated": 0}
        receiver.script(500, 500, 500, 500)
        result = await rig.sim.phone.send_text(USER, "Halo lagi")
        assert (result.status, result.attempts) == (500, 4)
        assert rig.sim.stats()["webhooks"]["failed"] == 1


@pytest.mark.anyio
async def test_bad_secret_and_unreachable_webhook() -> None:
    receiver = WebhookReceiver("a-different-secret")
    async with running(receiver, webhook_retry_delays=(0.01,)) as rig:
        result = await rig.sim.phone.send_text(USER, "Halo")
        assert (result.status, result.attempts) == (401, 2)
        assert receiver.bad_signatures == 2 and receiver.received == []
    gone = WebhookReceiver(SECRET)
    url = await gone.start()
    await gone.stop()
    sim = Simulator(SimulatorConfig(access_token=TOKEN, app_secret=SECRET, webhook_url=url,
                                    webhook_retry_delays=(0.01,)))
    try:
        result = await sim.phone.send_text(USER, "Halo")
        assert (result.status, result.attempts) == (0, 2)
    finally:
        await sim.stop()


@pytest.mark.anyio
async def test_duplicate_webhooks_fault() -> None:
    async with running() as rig:
        rig.sim.set_faults(duplicate_webhooks=1.0)
        result = await rig.sim.phone.send_text(USER, "Halo")
        assert result.status == 200
        assert [m["id"] for m in rig.receiver.messages()] == [result.wamid, result.wamid]
        assert rig.sim.stats()["webhooks"]["duplicated"] == 1


@pytest.mark.anyio
async def test_inbound_endpoint() -> None:
    async with running(enforce_window=True) as rig:
        status, data = await rig.send(text())
        assert data["error"]["code"] == 131047
        code, data = await rig.inbound({"from": USER, "text": "Halo", "name": "Siti"})
        assert code == 200
        assert data["status"] == 200 and data["attempts"] == 1
        [message] = rig.receiver.messages()
        assert message["id"] == data["wamid"]
        assert message["text"] == {"body": "Halo"}
        assert rig.receiver.received[0].payload["entry"][0]["changes"][0]["value"][
            "contacts"][0]["profile"]["name"] == "Siti"
        status, sent = await rig.send(text())
        assert status == 200
        code, data = await rig.inbound({"from": USER, "reply_id": "ya", "title": "Ya"})
        assert code == 200
        reply = rig.receiver.messages()[-1]
        assert reply["interactive"]["button_reply"] == {"id": "ya", "title": "Ya"}
        assert reply["context"]["id"] == sent["messages"][0]["id"]
        code, _ = await rig.inbound({"from": USER, "reply_id": "r1", "title": "Row",
                                     "kind": "list"})
        assert rig.receiver.messages()[-1]["interactive"]["type"] == "list_reply"
        code, _ = await rig.inbound({"from": USER, "payload": "P", "title": "Lanjut"})
        assert rig.receiver.messages()[-1]["button"] == {"payload": "P", "text": "Lanjut"}
        code, _ = await rig.inbound({"from": USER, "message": {
            "type": "location", "location": {"latitude": 1.5, "longitude": 2.5}}})
        assert code == 200
        assert rig.receiver.messages()[-1]["location"] == {"latitude": 1.5, "longitude": 2.5}
        for bad in ({"text": "no sender"}, {"from": "abc", "text": "x"}, {"from": USER},
                    {"from": USER, "text": ""}, {"from": USER, "reply_id": "x"},
                    {"from": USER, "reply_id": "x", "title": "t", "kind": "grid"},
                    {"from": USER, "message": "x"}, {"from": 5, "text": "x"}):
            code, data = await rig.inbound(bad)
            assert code == 400, bad
            assert data["error"]
        async with rig.session.post(f"{rig.base}/_sim/inbound", data=b"[") as resp:
            assert resp.status == 400
        assert rig.sim.stats()["inbound"] == 5
