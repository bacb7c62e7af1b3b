"""The customer-facing verification page (no scripts, no cookies, strict CSP)."""

from __future__ import annotations

import asyncio
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from aman.verify.service import VerificationService

__all__ = ["verify_page"]

_PAGE = """<!doctype html><html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Verifikasi / Verification</title></head><body>
<main><h1>Verifikasi / Verification</h1>{body}</main></body></html>"""

_FORM = """<p>Masukkan PIN mobile banking Anda di halaman aman ini untuk melanjutkan di WhatsApp.
Kami tidak pernah meminta PIN atau OTP lewat chat.</p>
<p>Enter your mobile-banking PIN on this secure page to continue in WhatsApp.
We never ask for your PIN or OTP in chat.</p>
{error}<form method="post" autocomplete="off">
<label for="pin">PIN</label>
<input id="pin" name="pin" type="password" inputmode="numeric" maxlength="12" required>
<button type="submit">Verifikasi / Verify</button></form>
<p><small>Tautan berlaku sekali, {left} percobaan tersisa. / Single-use link,
{left} tries left.</small></p>"""


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(body=body),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _gone() -> HTMLResponse:
    return _html(
        "<p>Tautan ini tidak berlaku lagi. Minta tautan baru di WhatsApp.</p>"
        "<p>This link is no longer valid. Ask for a new one in WhatsApp.</p>",
        410,
    )


async def verify_page(request: Request) -> Response:
    service: VerificationService = request.app.state.runtime.verification
    token = str(request.path_params["token"])
    loop = asyncio.get_running_loop()
    if request.method == "GET":
        pending = await loop.run_in_executor(None, service.pending, token)
        if pending is None:
            return _gone()
        return _html(_FORM.format(error="", left=pending.attempts_left))
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return _html("<p>Permintaan ditolak. / Request refused.</p>", 403)
    form = await request.form(max_files=0, max_fields=5)
    pin = str(form.get("pin", ""))
    outcome = await loop.run_in_executor(None, service.redeem, token, pin)
    if outcome == "ok":
        return _html(
            "<p>Berhasil. Silakan kembali ke WhatsApp.</p>"
            "<p>Verified. Please go back to WhatsApp.</p>"
        )
    if outcome == "wrong":
        pending = await loop.run_in_executor(None, service.pending, token)
        if pending is None:
            return _gone()
        error = '<p role="alert">PIN salah. / Wrong PIN.</p>'
        return _html(_FORM.format(error=error, left=escape(str(pending.attempts_left))), 401)
    return _gone()
