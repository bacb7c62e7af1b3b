"""Balance check behind step-up verification: link in chat, PIN only on aman's page."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from aman.adapters.banking import DEMO_PIN
from aman.demo import DemoStack
from helpers import rows, until

pytestmark = pytest.mark.anyio
USER = "6281234522222"


def texts(st: DemoStack) -> list[str]:
    out = []
    for m in st.simulator.sent:
        if m.type == "text":
            out.append(m.body["text"]["body"])
        elif m.type == "interactive":
            out.append(m.body["interactive"]["body"]["text"])
    return out


async def test_balance_after_verification_on_the_web_page(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(tmp_path, bot="bank", statuses=False,
                         settings_overrides={"database_url": db_url}) as st:
        await st.phone.send_text(USER, "cek saldo dong")
        await until(lambda: any("/verify/" in t for t in texts(st)), what="verification link")
        link = next(re.search(r"https?://\S+/verify/\S+", t).group(0)  # type: ignore[union-attr]
                    for t in texts(st) if "/verify/" in t)
        assert all(w not in " ".join(texts(st)).lower() for w in ("pin anda", "kode otp anda"))
        token = link.rsplit("/", 1)[1]
        url = f"{st.url}/verify/{token}"
        async with aiohttp.ClientSession() as s:
            async with s.get(url) as r:
                page = await r.text()
                assert r.status == 200 and "<form" in page and "script" not in page.lower()
                assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            async with s.post(url, data={"pin": "000000"}) as r:
                assert r.status == 401 and "2 percobaan" in await r.text()
            before = len(st.simulator.sent)
            async with s.post(url, data={"pin": DEMO_PIN}) as r:
                assert r.status == 200
            async with s.post(url, data={"pin": DEMO_PIN}) as r:
                assert r.status == 410  # single use
        await st.simulator.wait_for_sent(before + 1, 10)
        await until(lambda: any("****" in t for t in texts(st)[before:]), what="masked balance")
        shown = " ".join(texts(st)[before:])
        assert re.search(r"\*\*\*\*\d{4}", shown) and not re.search(r"\d{10}", shown)
        actions = [r[0] for r in rows(st, "select action from audit_entries order by seq")]
        assert actions[:2] == ["step_up_failed", "step_up_verified"]


async def test_three_wrong_pins_burn_the_link(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="bank", statuses=False) as st:
        await st.phone.send_text(USER, "saldo saya berapa")
        await until(lambda: any("/verify/" in t for t in texts(st)), what="verification link")
        link = next(t for t in texts(st) if "/verify/" in t)
        token = re.search(r"/verify/(\S+)", link).group(1)  # type: ignore[union-attr]
        url = f"{st.url}/verify/{token}"
        async with aiohttp.ClientSession() as s:
            codes = []
            for _ in range(3):
                async with s.post(url, data={"pin": "999999"}) as r:
                    codes.append(r.status)
            async with s.post(url, data={"pin": DEMO_PIN}) as r:
                codes.append(r.status)
            async with s.post(url, data={"pin": DEMO_PIN},
                              headers={"Origin": "https://evil.example"}) as r:
                codes.append(r.status)
        assert codes == [401, 401, 410, 410, 403]
