"""The YAML bots end to end: signed webhook in, worker, flow bot, Graph API out (simulator)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aman.demo import DemoStack

pytestmark = pytest.mark.anyio
OWNER = "6281234567890"  # owns the demo shop's seeded orders and the demo bank account


def shown(message: Any) -> str:
    body = message.body
    if body["type"] == "text":
        return str(body["text"]["body"])
    if body["type"] == "interactive":
        return str(body["interactive"]["body"]["text"])
    return ""


async def test_bank_menu_and_balance_asks_for_verification_link(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="bank", statuses=False) as st:
        await st.phone.send_text(OWNER, "halo", name="Budi")
        [menu] = await st.simulator.wait_for_sent(1, 10)
        assert menu.body["interactive"]["type"] == "list" and "Bank Aman" in shown(menu)
        await st.phone.send_text(OWNER, "sldo brp")
        sent = await st.simulator.wait_for_sent(2, 10)
        link_text = shown(sent[1])
        assert "/verify/" in link_text and "{verify_link}" not in link_text
        assert "PIN" not in link_text


async def test_shop_cart_tracking_and_return_with_photo(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="shop", statuses=False) as st:
        await st.phone.send_text(OWNER, "halo", name="Budi")
        await st.simulator.wait_for_sent(1, 10)
        items = [
            {
                "product_retailer_id": "SKU-KOPI-250",
                "quantity": 2,
                "item_price": 45000,
                "currency": "IDR",
            }
        ]
        await st.phone.send_order(OWNER, "784512369852147", items)
        sent = await st.simulator.wait_for_sent(2, 10)
        summary = shown(sent[1])
        assert re.search(r"Pesanan ORD-\d{5} sudah kami terima", summary)
        assert "Total: Rp 90.000" in summary and "Virtual Account: 8808" in summary
        await st.phone.send_text(OWNER, "lacak pesanan ORD-10001")
        sent = await st.simulator.wait_for_sent(3, 10)
        assert "Dalam pengiriman" in shown(sent[2])
        await st.phone.send_text(OWNER, "mau retur barang")
        await st.phone.send_text(OWNER, "ORD-10003")
        sent = await st.simulator.wait_for_sent(5, 10)
        rows = [
            r["id"] for s in sent[4].body["interactive"]["action"]["sections"] for r in s["rows"]
        ]
        assert rows == ["damaged", "wrong_item", "not_as_described", "other"]
        await st.phone.send_text(OWNER, "rusak")
        await st.phone.send_image(OWNER, "MEDIA-PHOTO-1")
        sent = await st.simulator.wait_for_sent(7, 10)
        assert [b["reply"]["id"] for b in sent[6].body["interactive"]["action"]["buttons"]] == [
            "pickup",
            "dropoff",
        ]
        await st.phone.send_text(OWNER, "antar ke agen")
        sent = await st.simulator.wait_for_sent(8, 10)
        assert re.search(r"RTR-\d{5}", shown(sent[7]))


async def test_a_restart_in_the_middle_of_a_flow_resumes_at_the_same_step(tmp_path: Path) -> None:
    """Stop aman mid-flow, start a new process on the same database: the next answer
    lands on the step that was waiting (and is validated there), nothing restarts."""
    async with DemoStack(tmp_path, bot="shop", statuses=False) as st:
        await st.phone.send_text(OWNER, "halo", name="Budi")
        await st.phone.send_text(OWNER, "mau retur barang")
        await st.phone.send_text(OWNER, "ORD-10003")
        sent = await st.simulator.wait_for_sent(3, 10)
        reasons = [
            r["id"] for s in sent[2].body["interactive"]["action"]["sections"] for r in s["rows"]
        ]
        assert reasons == ["damaged", "wrong_item", "not_as_described", "other"]
    # A new runtime, a new simulator: only the database (and the master key file) survive.
    async with DemoStack(tmp_path, bot="shop", statuses=False) as st:
        await st.phone.send_reply(OWNER, "wrong_item", "Barang salah", kind="list")
        sent = await st.simulator.wait_for_sent(1, 10)
        assert "foto" in shown(sent[0]).lower() or "photo" in shown(sent[0]).lower()
        await st.phone.send_image(OWNER, "MEDIA-PHOTO-2")
        sent = await st.simulator.wait_for_sent(2, 10)
        assert [b["reply"]["id"] for b in sent[1].body["interactive"]["action"]["buttons"]] == [
            "pickup",
            "dropoff",
        ]
