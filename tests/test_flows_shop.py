"""The shop bot (AMAN_BOT=shop) driven through Bot.handle, in Indonesian and English."""

from __future__ import annotations

import pytest

from aman.adapters.payments import DemoPayments
from aman.adapters.shop import DemoShop
from aman.engine.flows import FlowBot, builtin_bot_dir, load_bot
from aman.engine.flows.model import BotSpec
from aman.nlu import NluModel, load_bot_nlu
from aman.security.patterns import luhn_valid
from test_flows_support import Chat, body, joined, options, texts

CART = {
    "order": {
        "catalog_id": "784512369852147",
        "text": "Tolong kirim sore ini",
        "product_items": [
            {
                "product_retailer_id": "SKU-KOPI-250",
                "quantity": 2,
                "item_price": 45000,
                "currency": "IDR",
            },
            {
                "product_retailer_id": "SKU-GULA-1KG",
                "quantity": 1,
                "item_price": 1,
                "currency": "IDR",
            },
        ],
    }
}


@pytest.fixture(scope="module")
def parts() -> tuple[BotSpec, NluModel]:
    directory = builtin_bot_dir("shop")
    return load_bot(directory), load_bot_nlu(directory, disk_cache=False)


@pytest.fixture
def shop() -> DemoShop:
    return DemoShop()


@pytest.fixture
def bot(parts: tuple[BotSpec, NluModel], shop: DemoShop) -> FlowBot:
    spec, nlu = parts
    return FlowBot(spec, nlu=nlu, services={"shop": shop, "payments": DemoPayments(b"k" * 32)})


def test_greeting_shows_the_menu(bot: FlowBot) -> None:
    [menu] = Chat(bot).say("hai kak").replies
    assert "Selamat datang di Aman Shop" in body(menu)
    assert options(menu)[:3] == ["menu_track", "menu_return", "menu_cancel"]
    [menu_en] = Chat(bot, wa_id="6281200000009").say("hi there").replies
    assert "Welcome to Aman Shop" in body(menu_en)


def test_catalogue_cart_becomes_an_order_with_payment_instructions(
    bot: FlowBot, shop: DemoShop
) -> None:
    chat = Chat(bot)
    chat.say("halo")
    result = chat.send("order", CART)
    [reply] = result.replies
    text = body(reply)
    assert "ORD-30001" in text and "Total: Rp 108.500" in text  # our prices, not the cart's
    assert "2x Kopi Arabika Gayo 250 g - Rp 90.000" in text
    va = text.split("Virtual Account: ")[1].split()[0]
    assert va.startswith("8808") and len(va) == 16 and not luhn_valid(va)
    assert "QRIS, kode pembayaran QRIS-" in text
    assert reply.fallback is not None and reply.fallback["template"]["name"] == "payment_reminder"
    order = shop.order("6281234567890", "ORD-30001")
    assert order is not None and order.total == 108_500
    assert shop.order("6281298765432", "ORD-30001") is None


def test_cart_with_unknown_product_or_too_many_is_refused(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    unknown = {"order": {"product_items": [{"product_retailer_id": "SKU-NOPE", "quantity": 1}]}}
    assert "tidak tersedia" in joined(chat.send("order", unknown))
    honey = {"order": {"product_items": [{"product_retailer_id": "SKU-MADU-500", "quantity": 1}]}}
    assert "stok tidak cukup untuk: Madu Hutan 500 ml" in joined(chat.send("order", honey))
    assert "kosong" in joined(chat.send("order", {"order": {"product_items": []}}))


def test_tracking_prefilled_from_the_message(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    result = chat.say("lacak pesanan ORD-10001 dong")
    assert "Pesanan ORD-10001: Dalam pengiriman" in joined(result)
    assert "JNE JNE0012345678" in joined(result)


def test_tracking_shows_only_your_own_orders(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    result = chat.say("cek status pesanan ORD-20001")
    assert "tidak ditemukan untuk nomor WhatsApp ini" in joined(result)
    assert "J&T" not in joined(result) and "Gula" not in joined(result)
    owner = Chat(bot, wa_id="6281298765432")
    owner.say("halo")
    assert "Sudah diterima" in joined(owner.say("lacak ORD-20001"))


def test_tracking_in_english_asks_for_the_number(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hello")
    asked = chat.say("where's my package")
    assert "Send your order number" in joined(asked)
    retry = chat.say("the blue one")
    assert "starts with ORD-" in joined(retry)
    shown = chat.say("ORD-10001")
    assert "Order ORD-10001: On the way" in joined(shown)


def test_return_with_reason_photo_and_pickup(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    ask_order = chat.say("mau retur brg")
    assert "diretur" in joined(ask_order)
    reasons = chat.say("ORD-10003")
    assert options(reasons.replies[-1]) == ["damaged", "wrong_item", "not_as_described", "other"]
    photo = chat.say("barang rusak")
    assert "foto" in joined(photo)
    retry = chat.say("ini fotonya")
    assert "Kami perlu foto" in joined(retry)
    method = chat.send("image", {"image": {"id": "MEDIA-1", "mime_type": "image/jpeg"}})
    assert options(method.replies[-1]) == ["pickup", "dropoff"]
    done = chat.tap("pickup")
    assert "RTR-00001" in joined(done) and "menjemput" in joined(done)
    assert chat.state["fields"]["return_photo"] == {"id": "MEDIA-1"}


def test_return_in_english_with_drop_off_and_refusal_for_undelivered(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hello")
    chat.say("i want to return an item")
    chat.say("ORD-10001")
    chat.tap("wrong_item")
    chat.send("image", {"image": {"id": "MEDIA-2"}})
    refused = chat.say("drop off")
    assert "cannot be returned yet (status: On the way)" in joined(refused)


def test_cancel_before_shipping_only(bot: FlowBot, shop: DemoShop) -> None:
    chat = Chat(bot)
    chat.say("halo")
    confirm = chat.say("tolong batalkan pesanan ORD-10002")
    assert options(confirm.replies[-1]) == ["cancel_yes", "cancel_no"]
    done = chat.say("ya")
    assert "ORD-10002 sudah dibatalkan" in joined(done)
    order = shop.order("6281234567890", "ORD-10002")
    assert order is not None and order.status == "cancelled"
    chat.say("batalkan pesanan ORD-10001")
    shipped = chat.tap("cancel_yes")
    assert "sudah dikirim" in joined(shipped)
    kept = Chat(bot, wa_id="6281298765432")
    kept.say("hello")
    kept.say("cancel my order ORD-20001")
    assert "stays as it is" in joined(kept.tap("cancel_no"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bisa bayar pakai apa aja?", "Cara pembayaran"),
        ("what payment methods do you accept", "Ways to pay"),
    ],
)
def test_payment_methods(bot: FlowBot, text: str, expected: str) -> None:
    chat = Chat(bot)
    chat.say("halo" if "bayar" in text else "hello")
    assert expected in joined(chat.say(text))


def test_product_question_answered_from_the_catalogue(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    result = chat.say("harga kopi arabika berapa?")
    assert "Kopi Arabika Gayo 250 g: Rp 45.000" in joined(result)
    assert "Stok: 120" in joined(result)


def test_product_list_when_the_question_names_no_product(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hello")
    listed = chat.say("what products do you sell?")
    assert "SKU-BATIK-M" in options(listed.replies[-1])
    detail = chat.tap("SKU-MADU-500")
    assert "Madu Hutan 500 ml: Rp 95.000" in joined(detail) and "Sold out" in joined(detail)


def test_faq_by_keyword(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    assert "Ongkir: gratis" in joined(chat.say("berapa ongkir ke bandung?"))
    assert "Shipping: free" in joined(chat.say("what is the shipping cost to bali?"))


def test_human_agent_handoff(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    result = chat.say("mau ngobrol sama admin dong")
    assert result.handoff == "open" and "CS Aman Shop" in joined(result)
    assert chat.say("halo?").replies == ()


def test_order_tracking_state_survives_json_and_a_new_bot_instance(
    parts: tuple[BotSpec, NluModel], shop: DemoShop
) -> None:
    spec, nlu = parts
    chat = Chat(FlowBot(spec, nlu=nlu, services={"shop": shop}))
    chat.say("halo")
    chat.say("mau retur barang")
    chat.say("ORD-10003")
    assert chat.state["frame"] == ["return_item", "reason", "ask"]
    chat.bot = FlowBot(spec, nlu=nlu, services={"shop": shop})  # "restart"
    result = chat.tap("damaged")
    assert "foto" in joined(result)
    assert texts(result) and chat.state["frame"] == ["return_item", "photo", "ask"]
