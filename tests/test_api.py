"""The REST API over real HTTP: sign-in with TOTP, tokens, team inbox, audit proofs,
and a route-table-driven check that no principal reaches another tenant's objects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pyotp
import pytest

from aman.accounts.scope import TenantScope
from aman.demo import DemoStack
from aman.engine.bot import BotResult, Incoming, text_reply
from helpers import until

pytestmark = pytest.mark.anyio
PASSWORD = "Kopi-tubruk di Senayan 47"


class HandoffBot:
    name = "handoff"

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        if (msg.text or "").lower() == "agent":
            return BotResult(
                (text_reply("menghubungkan"),), state, handoff="open", handoff_reason="asked"
            )
        return BotResult((text_reply(f"echo {msg.text}"),), state)


@dataclass
class World:
    st: DemoStack
    secrets: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # who -> API token
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.st.url}/api/v1"

    def enrol(self, tenant: str, email: str, role: str, team: str | None = None) -> int:
        acc = self.st.runtime.accounts
        invite = acc.users.create(TenantScope.system(tenant, "test"), email, role, team=team)
        uri = acc.users.enrolment(invite.token).otpauth_uri
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        self.secrets[email] = secret
        acc.users.complete_enrolment(invite.token, PASSWORD, pyotp.TOTP(secret).now())
        return invite.user.id

    def token(self, tenant: str, scopes: list[str]) -> str:
        created = self.st.runtime.accounts.tokens.create(
            TenantScope.system(tenant, "test"), f"t-{len(self.tokens)}", scopes
        )
        return created.secret


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fast = {"argon2_memory_kib": 19 * 1024, "argon2_time_cost": 2}  # OWASP minimum
    async with DemoStack(tmp_path, bot=HandoffBot(), statuses=False,
                         settings_overrides=fast) as st:
        w = World(st)
        acc = st.runtime.accounts
        assert acc.tenants.find("default") is not None  # created with the schema
        acc.tenants.create("other", "Other Bank")
        w.ids["admin"] = w.enrol("default", "admin@bank.test", "admin")
        w.ids["agent"] = w.enrol("default", "agent@bank.test", "agent", team="cs")
        w.ids["analyst"] = w.enrol("default", "analyst@bank.test", "analyst")
        w.ids["other_admin"] = w.enrol("other", "admin@other.test", "admin")
        w.tokens["admin"] = w.token("default", ["admin"])
        w.tokens["analyst"] = w.token("default", ["analytics:read"])
        w.tokens["other"] = w.token("other", ["admin"])
        # A customer asks for a human: a conversation is handed off in tenant "default".
        await st.phone.send_text("6281234577777", "agent")
        admin = TenantScope.system("default", "test")
        await until(lambda: st.runtime.team.conversations(admin), what="handoff")
        w.ids["conv"] = st.runtime.team.conversations(admin)[0].id
        yield w


def next_code(secret: str) -> str:
    """The next time step's code: enrolment just used the current one (no reuse)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_in_with_password_and_totp_then_session_and_csrf(world: World) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        bad = {"email": "admin@bank.test", "password": PASSWORD, "code": "000000"}
        async with s.post(f"{world.api}/auth/login", json=bad) as r:
            assert r.status == 401
            unknown_user = await r.json()
        nobody = {"email": "nobody@bank.test", "password": PASSWORD, "code": "123456"}
        async with s.post(f"{world.api}/auth/login", json=nobody) as r:
            assert r.status == 401 and (await r.json()) == unknown_user  # no enumeration
        code = next_code(world.secrets["admin@bank.test"])
        good = {"email": "admin@bank.test", "password": PASSWORD, "code": code}
        async with s.post(f"{world.api}/auth/login", json=good) as r:
            assert r.status == 200, await r.text()
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            csrf = (await r.json())["csrf_token"]
        async with s.get(f"{world.api}/auth/me") as r:
            me = await r.json()
            assert r.status == 200 and me["tenant"] == "default" and "admin" in me["roles"]
        # The same code cannot be used twice (replay).
        async with s.post(f"{world.api}/auth/login", json=good) as r:
            assert r.status == 401
        conv = world.ids["conv"]
        body = {"text": "Halo, saya dari CS"}
        async with s.post(f"{world.api}/conversations/{conv}/reply", json=body) as r:
            assert r.status == 403  # cookie auth without CSRF token
        async with s.post(
            f"{world.api}/conversations/{conv}/reply", json=body, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 202, await r.text()
        async with s.post(f"{world.api}/auth/logout", headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 204
        async with s.get(f"{world.api}/auth/me") as r:
            assert r.status == 401
    await world.st.simulator.wait_for_sent(2, 10)


async def test_team_inbox_over_the_api(world: World) -> None:
    conv = world.ids["conv"]
    async with aiohttp.ClientSession(headers=bearer(world.tokens["admin"])) as s:
        async with s.get(f"{world.api}/conversations") as r:
            page = await r.json()
            assert [c["id"] for c in page["items"]] == [conv]
        async with s.get(f"{world.api}/conversations/{conv}/messages") as r:
            assert [m["text"] for m in await r.json()] == ["agent"]
        async with s.post(
            f"{world.api}/conversations/{conv}/reply",
            json={"text": "cek di https://evil-bank.example/login"},
        ) as r:
            problem = await r.json()
            assert r.status == 422 and r.content_type == "application/problem+json"
            assert "link_not_allowed" in problem["violations"]
        async with s.post(
            f"{world.api}/conversations/{conv}/reply", json={"text": "Halo, ada yang bisa dibantu?"}
        ) as r:
            assert r.status == 202
        await world.st.simulator.wait_for_sent(2, 10)
        async with s.post(f"{world.api}/conversations/{conv}/close") as r:
            assert r.status == 204
        await world.st.simulator.wait_for_sent(2, 10)
        async with s.get(f"{world.api}/audit/entries") as r:
            entries = (await r.json())["items"]
            actions = [e["action"] for e in entries]
        for action in (
            "handoff",
            "conversation_read",
            "agent_reply_blocked",
            "agent_reply",
            "handoff_closed",
        ):
            assert action in actions
        async with s.get(f"{world.api}/audit/head") as r:
            head = (await r.json())["head"]
        async with s.get(
            f"{world.api}/audit/proofs/inclusion",
            params={"seq": entries[0]["seq"], "size": head["size"]},
        ) as r:
            assert r.status == 200 and (await r.json())["root"] == head["root"]
        async with s.get(f"{world.api}/audit/verify") as r:
            assert (await r.json())["ok"] is True


async def test_agents_see_only_their_assignments(world: World) -> None:
    conv = world.ids["conv"]
    code = next_code(world.secrets["agent@bank.test"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
        async with agent.post(
            f"{world.api}/auth/login",
            json={"email": "agent@bank.test", "password": PASSWORD, "code": code},
        ) as r:
            assert r.status == 200
        async with agent.get(f"{world.api}/conversations") as r:
            assert (await r.json())["items"] == []
        async with agent.get(f"{world.api}/conversations/{conv}/messages") as r:
            assert r.status == 404
        async with (
            aiohttp.ClientSession(headers=bearer(world.tokens["admin"])) as admin,
            admin.post(f"{world.api}/conversations/{conv}/assign", json={"team": "cs"}) as r,
        ):
            assert r.status == 204
        async with agent.get(f"{world.api}/conversations") as r:
            assert [c["id"] for c in (await r.json())["items"]] == [conv]
        async with agent.get(f"{world.api}/conversations/{conv}/messages") as r:
            assert r.status == 200


async def test_openapi_document_is_served(world: World) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{world.st.url}/openapi.json") as r:
        spec = await r.json()
    assert spec["openapi"].startswith("3.") and "/conversations/{conv_id}/reply" in spec["paths"]
    assert spec["servers"] == [{"url": "/api/v1"}]


# Bot configuration that analysts may read (analytics:read): no customer data.
ANALYST_READS = {
    ("GET", "/flows"), ("GET", "/flows/{bot}/{flow}"), ("POST", "/nlu/predict"),
    ("GET", "/analytics"),
}
# Endpoints that act on the caller's own identity, not on a tenant's objects.
SELF_SERVICE = {
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/me"),
    ("GET", "/auth/sessions"),
    ("GET", "/auth/enrolment/{token}"),
    ("POST", "/auth/enrolment/{token}"),
}
SAMPLE_BODIES: dict[str, Any] = {
    "/segments": {"name": "semua", "rules": {"all": []}},
    "/segments/preview": {"rules": {"all": []}},
    "/broadcasts": {"name": "promo", "segment_id": 1, "text": "Halo"},
    "/campaign-settings": {
        "tz": "Asia/Jakarta", "quiet_hours": "off", "tier_limit": None, "frequency_cap_hours": 0
    },
    "/nlu/predict": {"text": "saldo saya berapa", "bot": "bank"},
    "/flows/check": {"bot": "bank", "files": {}},
    "/contact-controls/{contact_ix}": {"mode": "throttled", "reason": "test"},
    "/fraud-reports/{report_id}/status": {"status": "closed"},
    "/conversations/{conv_id}/reply": {"text": "halo"},
    "/conversations/{conv_id}/assign": {"team": "cs"},
    "/users": {"email": "x@y.test", "role": "agent"},
    "/tokens": {"name": "n", "scopes": ["admin"]},
    "/contacts": {"wa_id": "081234567890", "name": "Ani"},
    "/contacts/{contact_id}/tags": {"tags": ["vip"]},
    "/contacts/{contact_id}/fields": {"fields": {"kota": "Bandung"}},
    "/contacts/{contact_id}/merge": {"source_id": 2},
}


def path_values(world: World, **overrides: Any) -> dict[str, Any]:
    """A value for every path parameter of the API, naming tenant A's objects."""
    values: dict[str, Any] = {
        "conv_id": world.ids["conv"],
        "user_id": world.ids["admin"],
        "token_id": 1,
        "session_id": 1,
        "alert_id": 1,
        "segment_id": 1,
        "campaign_id": 1,
        "bot": "bank",
        "flow": "welcome",
        "report_id": 1,
        "contact_id": 1,
        "request_id": 1,
        "contact_ix": world.ids["conv"].split(".")[1],
    }
    return values | overrides


def _routes(world: World) -> list[tuple[str, str]]:
    """Every route of the API as the running server has it."""
    from aman.api.v1.app import create_api

    spec = create_api(world.st.runtime).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


async def test_no_principal_reaches_another_tenants_objects(world: World) -> None:
    """Generated from the route table: a new endpoint cannot be forgotten."""
    routes = _routes(world)
    assert len(routes) >= 20
    session_id = world.st.runtime.accounts.sessions.list(
        TenantScope.for_user("default", world.ids["admin"], "admin", None, None), world.ids["admin"]
    )
    values = path_values(world, session_id=session_id[0].id if session_id else 1)
    leaks = [world.ids["conv"], "bank.test", world.tokens["admin"][:12]]
    checked = 0
    async with aiohttp.ClientSession() as s:
        for method, path in routes:
            if (method, path) in SELF_SERVICE:
                continue
            url = world.api + path.format(**values)
            params = {"seq": 0, "size": 1, "old": 1, "new": 1} if "proofs" in path else None
            body = SAMPLE_BODIES.get(path)
            for who in ("other", "analyst"):
                async with s.request(
                    method, url, json=body, params=params, headers=bearer(world.tokens[who])
                ) as r:
                    if r.content_type == "text/event-stream":
                        # A stream never ends; only routes naming no object may stream to
                        # another tenant, scoped to that tenant like the inbox.
                        assert who == "other" and "{" not in path, (who, path)
                        continue
                    text_ = await r.text()
                    if r.status in (403, 404, 422):  # refused (422: before any data access)
                        continue
                    if who == "analyst" and (method, path) in ANALYST_READS:
                        assert r.status == 200, (method, path, r.status)
                        continue
                    # Tenant B may use routes that name no object, on its own tenant only:
                    # nothing of tenant A may appear in what it gets back.
                    assert who == "other" and "{" not in path and r.status in (200, 201), (
                        who,
                        method,
                        path,
                        r.status,
                        text_,
                    )
                    for secret in leaks:
                        assert secret not in text_, (method, path, secret)
            checked += 1
    assert checked == len(routes) - len(SELF_SERVICE)
    async with aiohttp.ClientSession(headers=bearer(world.tokens["analyst"])) as s:
        for path in ("/audit/entries", "/audit/head", "/audit/verify"):
            async with s.get(world.api + path) as r:
                assert r.status == 403
        async with s.get(f"{world.api}/conversations/{world.ids['conv']}/messages") as r:
            assert r.status in (403, 404)  # aggregates only, never message bodies
    # Unauthenticated: 401 everywhere but the self-service sign-in endpoints.
    async with aiohttp.ClientSession() as s:
        for method, path in routes:
            if (method, path) in SELF_SERVICE:
                continue
            async with s.request(
                method, world.api + path.format(**values), json=SAMPLE_BODIES.get(path)
            ) as r:
                assert r.status == 401, (method, path, r.status)
    await asyncio.sleep(0)
