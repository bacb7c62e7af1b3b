"""Helpers for the console tests: staff with TOTP on a DemoStack, signed-in HTTP sessions."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pyotp

from aman.accounts.scope import TenantScope
from aman.demo import DemoStack
from aman.engine.bot import BotResult, Incoming, text_reply

PASSWORD = "Nasi-uduk di Kebon Kacang 19"
FAST = {"argon2_memory_kib": 19 * 1024, "argon2_time_cost": 2}  # OWASP minimum, for speed


class HandoffBot:
    """Echoes; "agent" hands the conversation to a human."""

    name = "handoff"

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        if (msg.text or "").lower() == "agent":
            return BotResult(
                (text_reply("menghubungkan"),), state, handoff="open", handoff_reason="asked"
            )
        return BotResult((text_reply(f"echo {msg.text}"),), state)


def enrol(st: DemoStack, tenant: str, email: str, role: str, team: str | None = None) -> str:
    """Create an active staff user; returns their TOTP secret."""
    acc = st.runtime.accounts
    invite = acc.users.create(TenantScope.system(tenant, "test"), email, role, team=team)
    uri = acc.users.enrolment(invite.token).otpauth_uri
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    acc.users.complete_enrolment(invite.token, PASSWORD, pyotp.TOTP(secret).now())
    return secret


def next_code(secret: str) -> str:
    """The next time step's code: enrolment used the current one (no reuse)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


async def sign_in(st: DemoStack, email: str, secret: str) -> tuple[aiohttp.ClientSession, str]:
    """A cookie session signed in as ``email`` and its CSRF token."""
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    body = {"email": email, "password": PASSWORD, "code": next_code(secret)}
    async with s.post(f"{st.url}/api/v1/auth/login", json=body) as r:
        if r.status != 200:
            await s.close()
            raise AssertionError(f"sign-in failed: {r.status} {await r.text()}")
        return s, (await r.json())["csrf_token"]
