"""The admin console in a real browser (Playwright driving Debian's Chromium) against a DemoStack.

A customer asks for a human on the simulated phone page; the signed-in agent
sees the conversation appear live, is stopped inline by the outbound guard,
replies, and the reply reaches the phone.  Contacts are added, imported, searched
and opened (masked in the list; the full read is audited), consent, tags and fields
are recorded; a segment is built with its live count; a broadcast to it is created
and its progress reaches 100% against the simulator.  The other screens render (flows
diagram, NLU box, analytics charts, audit proof verified in the browser), a hostile
contact name stays text, contacts fit a 390 px screen, and enrolment shows the QR
code and recovery codes.  Screenshots go to a temporary folder (and to
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
from aman.campaigns import CampaignContext, SettingsService, TemplateRegistry
from aman.demo import DEMO_BANK_NUMBER, DemoStack
from aman.simulator.config import DEFAULT_TEMPLATES, TemplateSpec, template_registry
from test_console_support import FAST, PASSWORD, enrol, next_code

pytestmark = pytest.mark.anyio

CHROMIUM = shutil.which("chromium")
XSS = "<img src=x onerror=alert(1)>"
PROMO = [("6281200000001", "Budi"), ("6281200000002", "Sari"), ("6281200000003", "Andi")]
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
    # The fake Cloud API knows the broadcast's template too (approved, no variables).
    templates = template_registry(*DEFAULT_TEMPLATES.values(),
                                  TemplateSpec("promo_akhir_bulan", "id", "marketing"))
    async with DemoStack(tmp_path / "demo", bot="shop", settings_overrides=FAST,
                         extra_bots={bank_pnid: (bank_display, "bank")},
                         simulator_options={"templates": templates}) as st:
        yield st


async def _api_exists(st: DemoStack, path: str, token: str) -> bool:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s,
        s.get(f"{st.url}/api/v1{path}") as r,
    ):
        return r.status != 404


async def _audit_actions(st: DemoStack, token: str) -> list[str]:
    """The action of every audit ledger entry, oldest first."""
    actions: list[str] = []
    cursor: int | None = 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        while cursor is not None:
            async with s.get(f"{st.url}/api/v1/audit/entries?limit=500&cursor={cursor}") as r:
                assert r.status == 200
                page = await r.json()
            actions += [e["action"] for e in page["items"]]
            cursor = page["next_cursor"]
    return actions


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
    ctx = CampaignContext(st.runtime.engine, st.runtime.vault, st.runtime.audit)
    SettingsService(ctx).update("staff:test", quiet_hours="off")  # whatever the hour in Jakarta
    TemplateRegistry(ctx).register(
        "staff:test", name="promo_akhir_bulan", language="id", category="marketing",
        status="APPROVED", components=[{"type": "BODY", "text": "Promo akhir bulan: diskon 20%."}])
    shots = Shots(tmp_path)
    dialogs: list[str] = []
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 1366, "height": 860})

        async def dismiss(dialog: Any) -> None:
            dialogs.append(dialog.message)
            await dialog.dismiss()

        context.on("dialog", dismiss)
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

        # -- contacts: masked list, add, search, open (audited), consent, tags, fields ---------
        await console.goto(st.url + "/#/contacts")
        await console.locator("td.contact-name", has_text=XSS).first.wait_for()
        add = console.locator("form[aria-labelledby=add-contact]")
        for number, person in PROMO:
            await add.get_by_label("Nomor WhatsApp").fill(number)
            await add.get_by_label("Nama").fill(person)
            await add.get_by_label("Label").fill("promo")
            await add.get_by_role("button", name="Simpan").click()
            await console.locator("td.contact-name", has_text=person).wait_for()
        upload = console.locator("form[aria-labelledby=import-contacts]")
        await upload.get_by_label("Berkas CSV").set_input_files(files=[{
            "name": "toko.csv", "mimeType": "text/csv",
            "buffer": b"phone,name,tags\n081200000009,Dewi,reseller\n12ab,Rusak,\n"}])
        await upload.get_by_role("button", name="Unggah").click()
        await upload.get_by_text("Impor selesai: 2 baris, 1 baru, 0 diperbarui.").wait_for()
        assert "ditolak" in await upload.locator("ul.issues").inner_text()
        await console.locator("td.contact-name", has_text="Dewi").wait_for()
        table = console.locator("table.contacts")
        listed = await table.inner_text()
        assert "62*********01" in listed and not any(n in listed for n, _ in PROMO)
        reads = (await _audit_actions(st, token)).count("contact_read")  # a list is no full read
        await console.get_by_label("Cari nama atau nomor lengkap").fill("sari")
        await table.locator("tbody tr").filter(has_text="Budi").wait_for(state="detached")
        await console.get_by_role("button", name="Buka kontak Sari").click()
        detail = console.locator(".contact-detail")
        await detail.locator(".full-number", has_text="+" + PROMO[1][0]).wait_for()
        assert (await _audit_actions(st, token)).count("contact_read") == reads + 1
        await detail.get_by_role("button", name="Catat penolakan").click()
        await detail.get_by_role("button", name="Tekan lagi").click()
        await detail.locator(".badge.consent-denied").wait_for()
        assert await detail.get_by_role("button", name="Catat izin").is_disabled()
        await console.get_by_label("Cari nama atau nomor lengkap").fill("")
        await console.get_by_role("button", name="Buka kontak Budi").click()
        await detail.locator(".contact-name", has_text="Budi").wait_for()
        await detail.get_by_role("button", name="Catat izin").click()
        await detail.locator(".badge.consent-granted").wait_for()
        await detail.get_by_text("Izin dicatat.").wait_for()
        await detail.get_by_label("Label").fill("promo, VIP")
        await detail.get_by_role("button", name="Simpan label").click()
        await detail.get_by_text("Label disimpan.").wait_for()
        await table.locator("tr", has_text="Budi").locator(".tag", has_text="vip").wait_for()
        await detail.get_by_role("button", name="Tambah kolom").click()
        await detail.get_by_label("Kolom", exact=True).fill("kota")
        await detail.get_by_label("Nilai").fill("Bandung")
        await detail.get_by_role("button", name="Simpan kolom").click()
        await detail.get_by_text("Kolom disimpan (1 terisi).").wait_for()
        actions = await _audit_actions(st, token)
        assert {"contact_consent", "contact_tags", "contact_fields"} <= set(actions)

        # -- segments: the builder's live count, then save ---------------------------------------
        builder = console.locator("form.segment-builder")
        count = builder.locator("output.live-count")
        await builder.get_by_label("Nilai").fill("promo")
        await builder.locator("output.live-count[data-count='3']").wait_for()
        await builder.get_by_role("button", name="Tambah syarat").click()
        await builder.get_by_label("Syarat", exact=True).nth(1).select_option("marketing")
        await builder.locator("output.live-count[data-count='1']").wait_for()  # only Budi said yes
        await builder.get_by_role("button", name="Hapus syarat").nth(1).click()
        await builder.locator("output.live-count[data-count='3']").wait_for()
        assert await count.text_content() == "3 kontak"
        await builder.get_by_label("Nama", exact=True).fill("Pelanggan promo")
        await builder.get_by_role("button", name="Simpan segmen").click()
        saved = console.locator("table.segments tr", has_text="Pelanggan promo")
        await saved.get_by_role("button", name="Hitung Pelanggan promo").click()
        await saved.locator("output.count", has_text="3 kontak").wait_for()
        await shots(console, "08-contacts", full=True)

        # -- broadcasts: create one to the segment, its progress reaches 100% ----------------------
        await console.goto(st.url + "/#/broadcasts")
        compose = console.locator("form.compose")
        await compose.get_by_label("Nama").fill("Promo akhir bulan")
        await compose.get_by_label("Template").select_option(label="promo_akhir_bulan (id)")
        await compose.get_by_label("Segmen").select_option(label="Pelanggan promo")
        await compose.get_by_role("button", name="Buat siaran").click()
        box = console.locator(".broadcast-detail")
        await box.locator("[role=progressbar][aria-valuenow='100']").wait_for(timeout=30000)
        assert await box.locator("dd[data-count=total]").text_content() == "2"
        assert await box.locator("dd[data-count=excluded]").text_content() == "1"  # Sari said no
        assert await box.locator("dd[data-count=failed]").count() == 0
        await box.locator("[data-reason=marketing_opt_out]").wait_for()  # why Sari was left out
        await box.get_by_text("Hasil per penerima").click()
        await box.get_by_label("Status").select_option("excluded")
        await box.get_by_role("button", name="Tampilkan").click()
        await box.locator("table.recipients td", has_text="menolak pemasaran").wait_for()
        promos = {m.to for m in st.simulator.sent if m.type == "template"}
        assert promos == {PROMO[0][0], PROMO[2][0]}
        await shots(console, "07-broadcasts", full=True)

        # -- security: ledger verified, an inclusion proof checked in the browser ---------------
        await console.goto(st.url + "/#/security")
        await console.locator("[data-verified=true]").wait_for()
        await console.get_by_role("button", name="Bukti").first.click()
        await console.locator(".proof p.ok").wait_for()
        settings = console.locator("form.campaign-settings")
        await settings.get_by_label("Batas frekuensi (jam)").fill("48")
        await settings.get_by_role("button", name="Simpan").click()
        await settings.get_by_text("Pengaturan disimpan.").wait_for()
        await shots(console, "09-security", full=True)

        # -- English, and a phone-sized screen -------------------------------------------------
        await console.get_by_role("button", name="English").click()
        await console.get_by_role("link", name="Team inbox").click()
        await console.locator("button.conv").first.click()
        await console.get_by_label("Reply").wait_for()
        await console.set_viewport_size({"width": 390, "height": 844})
        await shots(console, "10-inbox-phone-size", full=True)
        await console.get_by_role("link", name="Contacts").click()
        await console.get_by_role("button", name="Open contact Budi").click()
        await console.locator(".contact-detail").get_by_text("Custom fields").wait_for()
        await console.locator("form.segment-builder").get_by_text("Contacts now").wait_for()
        assert await console.evaluate("document.documentElement.scrollWidth") <= 390
        await shots(console, "12-contacts-phone-size", full=True)
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
