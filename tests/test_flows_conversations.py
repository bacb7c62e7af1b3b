"""Every bank and shop conversation path, through the Cloud API simulator, in id and en."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aman.adapters.banking import DEMO_PIN, DemoCoreBanking
from aman.adapters.shop import DemoShop
from aman.demo import DemoStack
from aman.engine.flows import FlowBot, builtin_bot_dir, load_bot
from aman.engine.flows.conditions import in_business_hours
from aman.engine.flows.model import BotSpec
from aman.nlu import NluModel, load_bot_nlu
from helpers import rows, scalar, until

pytestmark = pytest.mark.anyio
OWNER = "6281234567890"  # owns the demo shop's seeded orders and the demo bank account
SITI = "6281298765432"  # the second seeded customer (owns ORD-20001)
ACCOUNTS = ("1234567890", "2345678901", "9876543210")  # full numbers never shown


@functools.cache
def _parts(name: str) -> tuple[BotSpec, NluModel]:
    directory = builtin_bot_dir(name)
    return load_bot(directory), load_bot_nlu(directory)


def fresh_bot(name: str) -> FlowBot:
    """The packaged bot with its own demo bank or shop (the packaged one is per process)."""
    spec, nlu = _parts(name)
    services = {"banking": DemoCoreBanking()} if name == "bank" else {"shop": DemoShop()}
    return FlowBot(spec, nlu=nlu, services=services)


def masked(text: str) -> bool:
    return not any(number in text for number in ACCOUNTS)


def shown(message: Any) -> str:
    body = message.body
    if body["type"] == "text":
        return str(body["text"]["body"])
    if body["type"] == "interactive":
        return str(body["interactive"]["body"]["text"])
    return ""


def options(message: Any) -> list[str]:
    """Ids of the reply buttons or list rows of an interactive message."""
    if message.body["type"] != "interactive":
        return []
    action = message.body["interactive"]["action"]
    if "buttons" in action:
        return [b["reply"]["id"] for b in action["buttons"]]
    return [r["id"] for s in action.get("sections", []) for r in s["rows"]]


def joined(messages: list[Any]) -> str:
    return "\n".join(shown(m) for m in messages)


class Talk:
    """One customer's phone: send something, get exactly the replies it caused."""

    def __init__(self, st: DemoStack, wa_id: str, name: str = "Budi") -> None:
        self.st, self.wa_id, self.name = st, wa_id, name

    def mine(self) -> list[Any]:
        return [m for m in self.st.simulator.sent if m.to == self.wa_id]

    def _quiet(self) -> bool:
        """Every stored inbound message is handled and every reply it caused was sent."""
        return not scalar(
            self.st,
            "select (select count(*) from inbox where status not in ('done', 'failed'))"
            " + (select count(*) from outbox where state not in ('sent', 'failed'))",
        )

    async def _replies(self, before: int, n: int, what: str) -> list[Any]:
        """Exactly the ``n`` replies since ``before``: waits for them, then for quiet.

        Quiet (nothing left to handle or to send) is what shows there is no extra
        message still on its way, so no fixed pause is needed to catch one.
        """
        await until(lambda: len(self.mine()) >= before + n and self._quiet(), what=what)
        got = self.mine()[before:]
        assert len(got) == n, [shown(m) for m in got]
        return got

    async def _turn(self, send: Awaitable[Any], n: int) -> list[Any]:
        before = len(self.mine())
        await send
        return await self._replies(before, n, f"{n} replies")

    async def say(self, text: str, n: int = 1) -> list[Any]:
        return await self._turn(self.st.phone.send_text(self.wa_id, text, name=self.name), n)

    async def tap(self, reply_id: str, title: str, n: int = 1, kind: str = "button") -> list[Any]:
        return await self._turn(self.st.phone.send_reply(self.wa_id, reply_id, title, kind), n)

    async def pick(self, row_id: str, title: str, n: int = 1) -> list[Any]:
        return await self.tap(row_id, title, n, kind="list")

    async def photo(self, media_id: str, n: int = 1) -> list[Any]:
        return await self._turn(self.st.phone.send_image(self.wa_id, media_id), n)

    async def order(self, items: list[dict[str, Any]], n: int = 1) -> list[Any]:
        send = self.st.phone.send_order(self.wa_id, "784512369852147", items, name=self.name)
        return await self._turn(send, n)

    async def verify(self, link_message: Any, n: int = 1) -> list[Any]:
        """Redeem the verification link on aman's page with the demo PIN."""
        text = shown(link_message)
        assert "PIN" not in text and "{verify_link}" not in text
        token = re.search(r"/verify/(\S+)", text).group(1)  # type: ignore[union-attr]
        before = len(self.mine())
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"{self.st.url}/verify/{token}", data={"pin": DEMO_PIN}) as r,
        ):
            assert r.status == 200
        return await self._replies(before, n, "reply after verification")


def humans(st: DemoStack) -> int:
    return int(scalar(st, "select count(*) from conversations where mode = 'human'"))


# -- bank ------------------------------------------------------------------------------


async def test_bank_menu_balance_and_transfer_in_indonesian(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("bank"), statuses=False) as st:
        budi = Talk(st, OWNER)
        [menu] = await budi.say("halo min")
        assert menu.body["interactive"]["type"] == "list"
        assert shown(menu).startswith("Halo Budi,") and "tidak pernah meminta PIN" in shown(menu)
        assert "menu_balance" in options(menu) and "menu_block_card" in options(menu)

        [confirm] = await budi.say("transfer 150rb ke 9876543210")
        assert "Rp 150.000" in shown(confirm) and "****3210" in shown(confirm)
        assert "ANDI W***" in shown(confirm) and masked(shown(confirm))
        assert options(confirm) == ["transfer_yes", "transfer_no"]
        [link] = await budi.tap("transfer_yes", "Ya, kirim")
        assert "/verify/" in shown(link) and "menyetujui transfer" in shown(link)
        [receipt] = await budi.verify(link)
        assert "berhasil" in shown(receipt) and "Rp 12.350.000" in shown(receipt)
        assert "****3210" in shown(receipt) and masked(shown(receipt))
        actions = [r[0] for r in rows(st, "select action from audit_entries order by seq")]
        assert "transfer" in actions

        [refused] = await budi.say("transfer 30jt ke 9876543210")
        assert "limit transfer harian" in shown(refused)
        [cancel] = await budi.say("transfer 100rb ke 9876543210")
        [cancelled] = await budi.tap("transfer_no", "Batal")
        assert "Tidak ada dana yang dipindahkan" in shown(cancelled)
        assert options(cancel) == ["transfer_yes", "transfer_no"]
        assert masked(joined(budi.mine()))

        siti = Talk(st, SITI, name="Siti")
        await siti.say("halo")
        [link] = await siti.say("sldo brp")
        assert "/verify/" in shown(link)
        [balance] = await siti.verify(link)
        assert "****8901" in shown(balance) and "Rp 48.750.000" in shown(balance)
        assert masked(shown(balance))


async def test_bank_balance_verification_does_not_approve_a_transfer(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("bank"), statuses=False) as st:
        budi = Talk(st, OWNER)
        await budi.say("halo")
        [link] = await budi.say("cek saldo")
        await budi.verify(link)
        await budi.say("transfer 150rb ke 9876543210")
        [reply] = await budi.tap("transfer_yes", "Ya, kirim")
        assert "/verify/" in shown(reply) and "berhasil" not in shown(reply)


async def test_bank_balance_and_transfer_in_english(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("bank"), statuses=False) as st:
        budi = Talk(st, OWNER)
        [menu] = await budi.say("hello good morning")
        assert "How can we help?" in shown(menu) and "menu_balance" in options(menu)
        [ask_amount] = await budi.say("i want to transfer money")
        assert "How much" in shown(ask_amount)
        retry, again = await budi.say("lots", n=2)
        assert "could not read the amount" in shown(retry) and "How much" in shown(again)
        [ask_account] = await budi.say("250k")
        assert "destination account" in shown(ask_account)
        [confirm] = await budi.say("9876543210")
        assert "Transfer Rp 250.000 to account ****3210" in shown(confirm)
        assert options(confirm) == ["transfer_yes", "transfer_no"]
        [link] = await budi.tap("transfer_yes", "Yes, send")
        assert "/verify/" in shown(link) and "PIN" not in shown(link)
        [receipt] = await budi.verify(link)
        assert "Rp 12.250.000" in shown(receipt) and "****3210" in shown(receipt)
        assert masked(shown(receipt))
        [refused] = await budi.say("transfer 30 million to 9876543210")
        assert "daily transfer limit" in shown(refused)
        assert masked(joined(budi.mine()))

        siti = Talk(st, SITI, name="Siti")
        await siti.say("hi")
        [link] = await siti.say("what's my balance")
        assert "secure link" in shown(link) and "/verify/" in shown(link)
        [balance] = await siti.verify(link)
        assert "Balance of account ****8901: Rp 48.750.000." in shown(balance)


async def test_bank_appointment_reminder_timer_in_both_languages(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("bank"), statuses=False) as st:
        budi = Talk(st, OWNER)
        await budi.say("halo")
        [branches] = await budi.say("mau bikin janji ketemu di cabang")
        assert "jkt_sudirman" in options(branches)
        [slots] = await budi.pick("jkt_sudirman", "KCP Sudirman")
        slot_ids = options(slots)
        assert slot_ids and all(s.startswith("slot_") for s in slot_ids)
        [confirm] = await budi.pick(slot_ids[-1], "Jadwal")
        assert "Buat janji temu di KCP Sudirman" in shown(confirm) and "WIB?" in shown(confirm)
        assert options(confirm) == ["book_yes", "book_other"]
        [booked] = await budi.tap("book_yes", "Ya")
        assert "KCP Sudirman" in shown(booked) and "APT" in shown(booked)
        slot = float(slot_ids[-1][5:])
        timers = rows(st, "select fire_at, state from timers where name = 'reminder:appointment'")
        assert timers == [(slot - 86400, "pending")]

        siti = Talk(st, SITI, name="Siti")
        await siti.say("hi")
        await siti.say("book an appointment at a branch")
        [slots] = await siti.say("KCP Dago")
        assert "Free times at KCP Dago" in shown(slots)
        last = options(slots)[-1]  # two days ahead: the reminder is still in the future
        [confirm] = await siti.pick(last, "Time")
        assert "Book an appointment at KCP Dago" in shown(confirm)
        [booked] = await siti.say("yes")
        assert "Appointment booked" in shown(booked)
        assert scalar(st, "select count(*) from timers where name = 'reminder:appointment'") == 2


async def test_bank_urgent_and_safety_paths_in_indonesian(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("bank"), statuses=False) as st:
        budi = Talk(st, OWNER)
        await budi.say("halo")
        [tips] = await budi.say("tips keamanan")
        assert "Tips aman" in shown(tips)
        [warned, *_] = await budi.say("pin saya 123456", n=2)
        assert "jangan pernah membagikan PIN" in shown(warned)
        assert "123456" not in joined(budi.mine())  # the typed PIN is never echoed
        [fraud] = await budi.say("ada yang telpon ngaku dari bank minta kode otp")
        assert "TIDAK PERNAH meminta PIN, OTP" in shown(fraud)
        assert "+62 21 1500 888" in shown(fraud) and "bankaman.co.id" in shown(fraud)
        assert options(fraud) == ["menu_block_card", "menu_agent", "menu_main"]
        assert humans(st) == 0
        [blocked] = await budi.say("kartu atm saya hilang, tolong blokir")
        assert "SEGERA" in shown(blocked) and "+62 21 1500 888" in shown(blocked)
        assert rows(st, "select mode from conversations") == [("human",)]
        reason = str(scalar(st, "select handoff_reason from conversations"))
        assert "card block" in reason
        await budi.say("halo?", n=0)  # an agent owns the conversation now: the bot is quiet
        actions = [r[0] for r in rows(st, "select action from audit_entries order by seq")]
        assert "fraud_report" in actions and "card_block_request" in actions

        siti = Talk(st, SITI, name="Siti")
        await siti.say("halo")
        before = len(siti.mine())
        await st.phone.send_text(SITI, "saya mau bicara dengan petugas")
        await until(lambda: "petugas Bank Aman" in joined(siti.mine()[before:]), what="handoff")
        assert humans(st) == 2

        ani = Talk(st, "6281200000077", name="Ani")
        await ani.say("halo")
        [stopped] = await ani.say("berhenti")
        assert "tidak akan menerima pesan" in shown(stopped) and "MULAI" in shown(stopped)
        assert scalar(st, "select count(*) from contacts where opted_out") == 1
        await ani.say("cek saldo", n=0)
        [back] = await ani.say("mulai")
        assert "Selamat datang kembali" in shown(back)


async def test_bank_urgent_and_safety_paths_in_english(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("bank"), statuses=False) as st:
        budi = Talk(st, OWNER)
        await budi.say("hello")
        [tips] = await budi.say("security tips please")
        assert "Safe banking" in shown(tips)
        warned, link = await budi.say("my otp is 654321 what's my balance", n=2)
        assert "never share your PIN" in shown(warned) and "654321" not in shown(warned)
        assert "secure link" in shown(link)
        [fraud] = await budi.say("someone called pretending to be the bank and asked for my OTP")
        assert "NEVER ask for your PIN" in shown(fraud)
        assert options(fraud) == ["menu_block_card", "menu_agent", "menu_main"]
        [blocked] = await budi.say("my card was stolen, block it")
        assert "RIGHT NOW" in shown(blocked) and humans(st) == 1

        siti = Talk(st, SITI, name="Siti")
        await siti.say("hello")
        before = len(siti.mine())
        await st.phone.send_text(SITI, "I want to talk to a human agent")
        await until(lambda: "Bank Aman staff" in joined(siti.mine()[before:]), what="handoff")
        assert humans(st) == 2

        ani = Talk(st, "6281200000078", name="Ani")
        await ani.say("hello")
        [stopped] = await ani.say("STOP")
        assert "not receive messages" in shown(stopped) and "START" in shown(stopped)
        await ani.say("hello?", n=0)
        assert scalar(st, "select count(*) from contacts where opted_out") == 1


# -- shop ------------------------------------------------------------------------------

KOPI = {
    "product_retailer_id": "SKU-KOPI-250",
    "quantity": 2,
    "item_price": 45000,
    "currency": "IDR",
}
GULA = {"product_retailer_id": "SKU-GULA-1KG", "quantity": 1, "item_price": 1, "currency": "IDR"}


async def test_shop_order_tracking_return_cancel_in_indonesian(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("shop"), statuses=False) as st:
        budi = Talk(st, OWNER)
        [menu] = await budi.say("hai kak")
        assert "Selamat datang di Aman Shop" in shown(menu)
        assert options(menu)[:3] == ["menu_track", "menu_return", "menu_cancel"]

        [summary] = await budi.order([KOPI, GULA])
        text = shown(summary)
        assert re.search(r"Pesanan ORD-\d{5} sudah kami terima", text)
        assert "Total: Rp 108.500" in text  # our prices, not the cart's
        assert "2x Kopi Arabika Gayo 250 g - Rp 90.000" in text
        assert "Virtual Account: 8808" in text and "QRIS" in text

        [tracked] = await budi.say("lacak pesanan ORD-10001 dong")
        assert "Pesanan ORD-10001: Dalam pengiriman" in shown(tracked)
        assert "JNE JNE0012345678" in shown(tracked)
        [hidden] = await budi.say("cek status pesanan ORD-20001")
        assert "tidak ditemukan untuk nomor WhatsApp ini" in shown(hidden)
        assert "J&T" not in shown(hidden) and "Gula" not in shown(hidden)

        [ask_order] = await budi.say("mau retur brg")
        assert "diretur" in shown(ask_order)
        [reasons] = await budi.say("ORD-10003")
        assert options(reasons) == ["damaged", "wrong_item", "not_as_described", "other"]
        [ask_photo] = await budi.pick("damaged", "Rusak")
        assert "foto" in shown(ask_photo)
        retry, again = await budi.say("ini fotonya", n=2)
        assert "Kami perlu foto" in shown(retry) and "foto" in shown(again)
        [method] = await budi.photo("MEDIA-PHOTO-1")
        assert options(method) == ["pickup", "dropoff"]
        [done] = await budi.tap("pickup", "Dijemput kurir")
        assert re.search(r"RTR-\d{5}", shown(done)) and "menjemput" in shown(done)

        [confirm] = await budi.say("tolong batalkan pesanan ORD-10002")
        assert options(confirm) == ["cancel_yes", "cancel_no"]
        [cancelled] = await budi.say("ya")
        assert "ORD-10002 sudah dibatalkan" in shown(cancelled)
        await budi.say("batalkan pesanan ORD-10001")
        [shipped] = await budi.tap("cancel_yes", "Ya, batalkan")
        assert "sudah dikirim" in shown(shipped)

        siti = Talk(st, SITI, name="Siti")
        await siti.say("halo")
        [own] = await siti.say("lacak ORD-20001")
        assert "Sudah diterima" in shown(own)


async def test_shop_order_tracking_return_cancel_in_english(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot=fresh_bot("shop"), statuses=False) as st:
        budi = Talk(st, OWNER)
        [menu] = await budi.say("hi there")
        assert "Welcome to Aman Shop" in shown(menu)
        [summary] = await budi.order([KOPI])
        assert re.search(r"ORD-\d{5}", shown(summary)) and "Rp 90.000" in shown(summary)
        assert "8808" in shown(summary)

        [asked] = await budi.say("where's my package")
        assert "Send your order number" in shown(asked)
        retry, again = await budi.say("the blue one", n=2)
        assert "starts with ORD-" in shown(retry) and "Send your order number" in shown(again)
        [tracked] = await budi.say("ORD-10001")
        assert "Order ORD-10001: On the way" in shown(tracked)

        await budi.say("i want to return an item")
        [reasons] = await budi.say("ORD-10003")
        assert options(reasons) == ["damaged", "wrong_item", "not_as_described", "other"]
        [ask_photo] = await budi.pick("wrong_item", "Wrong item")
        assert "photo" in shown(ask_photo).lower()
        [method] = await budi.photo("MEDIA-PHOTO-2")
        assert options(method) == ["pickup", "dropoff"]
        [done] = await budi.say("drop off")
        assert re.search(r"RTR-\d{5}", shown(done))

        await budi.say("i want to return an item")
        await budi.say("ORD-10001")
        await budi.pick("wrong_item", "Wrong item")
        await budi.photo("MEDIA-PHOTO-3")
        [refused] = await budi.say("drop off")
        assert "cannot be returned yet (status: On the way)" in shown(refused)

        [confirm] = await budi.say("cancel my order ORD-10002")
        assert options(confirm) == ["cancel_yes", "cancel_no"]
        [cancelled] = await budi.tap("cancel_yes", "Yes, cancel")
        assert "ORD-10002" in shown(cancelled) and "cancelled" in shown(cancelled)

        siti = Talk(st, SITI, name="Siti")
        await siti.say("hello")
        await siti.say("cancel my order ORD-20001")
        [kept] = await siti.tap("cancel_no", "No")
        assert "stays as it is" in shown(kept)
        [hidden] = await budi.say("track order ORD-20001")
        assert "ORD-20001" in shown(hidden) and "Received" not in shown(hidden)


async def test_shop_information_and_human_agent_in_both_languages(tmp_path: Path) -> None:
    bot = fresh_bot("shop")

    def open_at(t: float) -> bool:
        """The shop's business hours at ``t``, from its own configuration."""
        config = bot.spec.config
        return in_business_hours(datetime.fromtimestamp(t, config.tz), config.business_hours)

    async with DemoStack(tmp_path, bot=bot, statuses=False) as st:
        budi = Talk(st, OWNER)
        await budi.say("halo")
        [pay] = await budi.say("bisa bayar pakai apa aja?")
        assert "Cara pembayaran" in shown(pay)
        [product] = await budi.say("harga kopi arabika berapa?")
        assert "Kopi Arabika Gayo 250 g: Rp 45.000" in shown(product)
        assert "Stok: 120" in shown(product)
        [faq] = await budi.say("berapa ongkir ke bandung?")
        assert "Ongkir: gratis" in shown(faq)
        [agent] = await budi.say("mau ngobrol sama admin dong")
        assert "CS" in shown(agent) and humans(st) == 1
        await budi.say("halo?", n=0)

        siti = Talk(st, SITI, name="Siti")
        await siti.say("hello")
        [pay] = await siti.say("what payment methods do you accept")
        assert "Ways to pay" in shown(pay)
        [listed] = await siti.say("what products do you sell?")
        assert "SKU-BATIK-M" in options(listed)
        [detail] = await siti.pick("SKU-MADU-500", "Madu Hutan")
        assert "Madu Hutan 500 ml: Rp 95.000" in shown(detail) and "Sold out" in shown(detail)
        [faq] = await siti.say("what is the shipping cost to bali?")
        assert "Shipping: free" in shown(faq)
        asked = time.time()
        [agent] = await siti.say("I want to talk to a human agent")
        # The answer depends on the hour the message was sent (either, at a boundary).
        expected = {True: "Aman Shop team", False: "answer during business hours"}
        assert any(expected[o] in shown(agent) for o in {open_at(asked), open_at(time.time())})
        assert humans(st) == 2
