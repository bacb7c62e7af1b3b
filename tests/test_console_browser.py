"""The admin console in a real browser (Playwright driving Debian's Chromium) against a DemoStack.

A customer asks for a human on the simulated phone page; the signed-in agent
sees the conversation appear live, is stopped inline by the outbound guard,
replies, and the reply reaches the phone.  The other screens render (flows
diagram, NLU box, analytics charts, audit proof verified in the browser,
broadcasts), a hostile contact name stays text, and enrolment shows the QR code
and recovery codes.  Screenshots go to a temporary folder (and to
``$AMAN_SCREENSHOTS_DIR`` when set, which is how docs/screenshots/ is made).

Skipped only when Chromium or Playwright is missing outside CI; in CI a missing
browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pyotp
import pytest

from aman.accounts.scope import TenantScope
from aman.analytics import analytics_report
from aman.demo import DEMO_BANK_NUMBER, DemoStack
from test_console_support import FAST, PASSWORD, enrol, next_code

pytestmark = pytest.mark.anyio

CHROMIUM = shutil.which("chromium")
XSS = "<img src=x onerror=alert(1)>"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _need_browser() -> Any:
    missing = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing = "playwright is not installed (pip install playwright)"
    if CHROMIUM is None:
        missing = "chromium is not on PATH (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: browser tests must run in CI")
        pytest.skip(missing)
    return async_playwright


class Shots:
    """Screenshots into tmp_path, and into $AMAN_SCREENSHOTS_DIR too when set."""

    def __init__(self, tmp: Path) -> None:
        self.dirs = [tmp / "screenshots"]
        extra = os.environ.get("AMAN_SCREENSHOTS_DIR")
        if extra:
            self.dirs.append(Path(extra))
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    async def __call__(self, page: Any, name: str, *, full: bool = False) -> None:
        first = self.dirs[0] / f"{name}.png"
        await page.screenshot(path=str(first), full_page=full)
        for d in self.dirs[1:]:
            shutil.copyfile(first, d / f"{name}.png")
        self.taken.append(first)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DemoStack]:
    bank_pnid, bank_display = DEMO_BANK_NUMBER
    async with DemoStack(tmp_path / "demo", bot="shop", settings_overrides=FAST,
                         extra_bots={bank_pnid: (bank_display, "bank")}) as st:
        yield st


async def _api_exists(st: DemoStack, path: str, token: str) -> bool:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s,
        s.get(f"{st.url}/api/v1{path}") as r,
    ):
        return r.status != 404


def _analytics_from(st: DemoStack) -> Any:
    """A Playwright route handler answering /analytics with ``analytics_report`` of ``st``."""

    async def handler(route: Any) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        zone = ZoneInfo("Asia/Jakarta")
        start = datetime.fromisoformat(query["from"][0]).replace(tzinfo=zone)
        end = datetime.fromisoformat(query["to"][0]).replace(tzinfo=zone) + timedelta(days=1)
        report = analytics_report(st.runtime.engine, st.runtime.vault, start.timestamp(),
                                  end.timestamp())
        await route.fulfill(status=200, content_type="application/json",
                            body=json.dumps(report))

    return handler


async def test_console_end_to_end_in_chromium(stack: DemoStack, tmp_path: Path) -> None:
    async_playwright = _need_browser()
    st = stack
    secret = enrol(st, "default", "admin@toko.test", "admin")
    token = st.runtime.accounts.tokens.create(
        TenantScope.system("default", "test"), "probe", ["admin"]).secret
    shots = Shots(tmp_path)
    dialogs: list[str] = []
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 1366, "height": 860})
        context.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        console = await context.new_page()
        console.on("pageerror", lambda e: errors.append(str(e)))
        console.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        console.set_default_timeout(15000)

        # -- sign in with password + TOTP -----------------------------------------------
        await console.goto(st.url + "/")
        await console.get_by_label("Email").fill("admin@toko.test")
        await console.get_by_label("Kata sandi").fill(PASSWORD)
        await console.get_by_label("Kode autentikator").fill("000000")
        await console.get_by_role("button", name="Masuk").click()
        await console.get_by_role("alert").filter(has_text="tidak sesuai").wait_for()
        await shots(console, "01-sign-in")
        await console.get_by_label("Kode autentikator").fill(next_code(secret))
        await console.get_by_role("button", name="Masuk").click()
        await console.locator("h1#inbox-title").wait_for()
        await console.locator(".live-status.on").wait_for()

        # -- a customer asks for a human on the simulated phone (hostile profile name) ---
        phone = await context.new_page()
        phone.on("pageerror", lambda e: errors.append(str(e)))
        phone.set_default_timeout(15000)
        await phone.goto(st.url + "/simulator")
        await phone.locator("#sim-name").fill(XSS)
        await phone.locator("#sim-text").fill("halo")
        await phone.locator("#sim-text").press("Enter")
        await phone.locator(".sim-chat .bubble.in").first.wait_for()
        await phone.locator("#sim-text").fill("agent")
        await phone.locator("#sim-text").press("Enter")
        await phone.locator(".sim-chat .bubble.in", has_text="CS").last.wait_for()

        # -- the agent sees it appear live, is stopped by the guard, replies ----------------
        conv = console.locator("button.conv").first
        await conv.wait_for(timeout=10000)  # pushed by the SSE feed, no reload
        await conv.click()
        await console.locator("ol.messages li.msg.in", has_text="agent").wait_for()
        name = console.locator(".contact-panel .contact-name")
        await name.wait_for()
        assert await name.text_content() == XSS  # shown as text, not markup
        assert await console.locator(".contact-panel img").count() == 0
        reply = console.get_by_label("Balasan")
        await reply.fill("Silakan login di https://bank-aman.evil.example/login ya")
        await console.get_by_role("button", name="Kirim", exact=True).click()
        blocked = console.locator(".violations")
        await blocked.get_by_text("link_not_allowed").wait_for()
        await shots(console, "03-inbox-guard")
        await reply.fill("Halo Kak, saya Rina dari CS. Ada yang bisa dibantu?")
        await console.get_by_role("button", name="Kirim", exact=True).click()
        await console.locator("ol.messages li.msg.out", has_text="saya Rina").wait_for()
        await console.locator("li.msg.out", has_text="saya Rina").locator(
            ".status[data-status=delivered], .status[data-status=read]").wait_for()
        await phone.locator(".sim-chat .bubble.in", has_text="saya Rina").wait_for()
        await shots(console, "02-inbox")
        await shots(phone, "04-simulator-phone")

        # -- flows: a diagram and the NLU test box ----------------------------------------
        await console.goto(st.url + "/#/flows")
        await console.locator("button.flow[data-flow='shop/cancel_order']").click()
        await console.locator("svg.flow-diagram g.node").first.wait_for()
        assert await console.locator("svg.flow-diagram g.node").count() >= 3
        await console.get_by_label("Bot").first.select_option("bank")
        await console.get_by_label("Pesan pelanggan").fill("sldo brp")
        await console.get_by_role("button", name="Kenali").click()
        await console.locator(".nlu-out .intent", has_text="check_balance").wait_for()
        await shots(console, "05-flows", full=True)

        # -- analytics charts ----------------------------------------------------------------
        if not await _api_exists(st, "/analytics", token):
            # Until the REST endpoint lands, the page is fed the real report of this stack.
            await console.route("**/api/v1/analytics?*", _analytics_from(st))
        await console.goto(st.url + "/#/analytics")
        await console.locator("svg.chart").nth(1).wait_for()
        assert await console.locator("svg.chart rect.bar").count() > 0
        assert await console.locator("svg.chart polyline").count() == 2
        await shots(console, "06-analytics", full=True)

        # -- broadcasts ---------------------------------------------------------------------
        await console.goto(st.url + "/#/broadcasts")
        if await _api_exists(st, "/broadcasts", token):
            await console.locator("form.compose").wait_for()
        else:
            await console.locator(".not-available").wait_for()
        await shots(console, "07-broadcasts", full=True)

        # -- contacts: the hostile name is text there too -------------------------------------
        await console.goto(st.url + "/#/contacts")
        if await _api_exists(st, "/contacts", token):
            await console.locator("td.contact-name", has_text=XSS).first.wait_for()
        else:
            await console.locator(".not-available").first.wait_for()
        await shots(console, "08-contacts", full=True)

        # -- security: ledger verified, an inclusion proof checked in the browser ---------------
        await console.goto(st.url + "/#/security")
        await console.locator("[data-verified=true]").wait_for()
        await console.get_by_role("button", name="Bukti").first.click()
        await console.locator(".proof p.ok").wait_for()
        await shots(console, "09-security", full=True)

        # -- English, and a phone-sized screen -------------------------------------------------
        await console.get_by_role("button", name="English").click()
        await console.get_by_role("link", name="Team inbox").click()
        await console.locator("button.conv").first.click()
        await console.get_by_label("Reply").wait_for()
        await console.set_viewport_size({"width": 390, "height": 844})
        await shots(console, "10-inbox-phone-size", full=True)
        await console.set_viewport_size({"width": 1366, "height": 860})

        # -- first-login enrolment: QR code, then the recovery codes once ------------------------
        invite = st.runtime.accounts.users.create(
            TenantScope.system("default", "test"), "agen@toko.test", "agent", team="cs")
        enrolling = await context.new_page()
        await enrolling.goto(f"{st.url}/enrol/{invite.token}")
        await enrolling.locator(".qr svg path").first.wait_for()
        await shots(enrolling, "11-enrolment")
        await enrolling.get_by_text("Can't scan").or_(enrolling.locator("summary")).first.click()
        uri = await enrolling.locator("details code").text_content()
        new_secret = parse_qs(urlsplit(uri or "").query)["secret"][0]
        await enrolling.get_by_label("Choose a password").fill("Es-teh manis di Blok M 2024")
        await enrolling.get_by_label("Repeat the password").fill("Es-teh manis di Blok M 2024")
        await enrolling.get_by_label("Authenticator code").fill(pyotp.TOTP(new_secret).now())
        await enrolling.get_by_role("button", name="Confirm").click()
        await enrolling.locator("ul.codes li").first.wait_for()
        assert await enrolling.locator("ul.codes li").count() >= 8

        # -- sign out ------------------------------------------------------------------------------
        await console.get_by_role("button", name="Sign out").click()
        await console.get_by_role("button", name="Sign in").wait_for()
        await browser.close()

    assert dialogs == []  # no script from customer data ever ran
    assert [e for e in errors if not re.search(r"status of 4\d\d", e)] == []
    assert len(shots.taken) >= 10
