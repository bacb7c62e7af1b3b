"""Flow switches: a switched-off flow does not start; changes are audited and reach the engine.

Engine: ``FlowBot.without`` on the bank bot.  Storage: ``FlowSwitches`` on SQLite
and PostgreSQL (cache, audit, two processes).  API: admins switch flows of the
running bot over HTTP; the runtime's bot honours it on the next message.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, text

from aman.accounts.scope import TenantScope
from aman.audit.service import AuditService
from aman.engine.bot import Incoming
from aman.engine.builtin import load_builtin_bot
from aman.engine.flows import FlowBot, builtin_bot_dir, load_bot
from aman.engine.flows.switches import FlowSwitches, SwitchedBot
from aman.engine.router import BotRouter
from aman.nlu import load_bot_nlu
from aman.runtime import Runtime
from helpers import api_client
from test_flows_support import Chat, joined

ADMIN = TenantScope.system("default", "test")
PNID = "106540352242922"


@pytest.fixture(scope="module")
def bank() -> FlowBot:
    directory = builtin_bot_dir("bank")
    return FlowBot(load_bot(directory), nlu=load_bot_nlu(directory, disk_cache=False))


def frame_flow(chat: Chat) -> str | None:
    frame = chat.state.get("frame")
    return str(frame[0]) if frame else None


def test_a_switched_off_flow_is_not_started_by_its_triggers(bank: FlowBot) -> None:
    on = Chat(bank)
    on.say("halo")
    on.tap("menu_transfer")
    assert frame_flow(on) == "transfer"
    off_bot = bank.without(frozenset({"transfer"}))
    assert bank.without(frozenset()) is bank and off_bot.disabled == {"transfer"}
    off = Chat(off_bot)
    off.say("halo")
    result = off.tap("menu_transfer")  # the button no longer starts it: the fallback answers
    assert frame_flow(off) is None and "belum mengerti" in joined(result)
    off.say("saya mau transfer uang 50rb ke rekening adik")
    assert frame_flow(off) != "transfer"
    off.tap("menu_balance")  # other flows are untouched
    assert frame_flow(off) == "balance"


def test_commands_schedules_and_reminders_skip_switched_off_flows(bank: FlowBot) -> None:
    no_menu = Chat(bank.without(frozenset({"menu"})))
    no_menu.say("halo")
    no_menu.tap("menu_balance")
    assert frame_flow(no_menu) == "balance"
    result = no_menu.say("batal")  # cancel still cancels, without starting the menu
    assert frame_flow(no_menu) is None and "dibatalkan" in joined(result)
    result = no_menu.say("menu")  # the menu command is gone: the fallback answers
    assert frame_flow(no_menu) is None and "belum mengerti" in joined(result)
    for bot, expect in ((bank, True), (bank.without(frozenset({"appointment_reminder"})), False)):
        chat = Chat(bot)
        chat.say("halo")
        scheduled = chat.event("timer", {"name": "appointment"})
        reminder = chat.event(
            "timer", {"name": "reminder:appointment", "flow": "appointment_reminder"}
        )
        assert bool(scheduled.replies) is expect and bool(reminder.replies) is expect


class Tick:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _audit(engine: Engine) -> list[tuple[str, str, str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action, target, details FROM audit_entries ORDER BY seq")
        ).all()
    return [(r.actor, r.action, r.target, orjson.loads(r.details)) for r in rows]


def test_switches_are_audited_scoped_and_reach_other_processes(engine: Engine) -> None:
    audit = AuditService(secrets.token_bytes(32))
    tick = Tick()
    here = FlowSwitches(engine, audit, ttl=2.0, clock=tick)
    there = FlowSwitches(engine, audit, ttl=2.0, clock=tick)  # another process
    assert here.disabled("default", "bank") == there.disabled("default", "bank") == frozenset()
    assert here.set_enabled(ADMIN, "bank", "transfer", False) is True
    assert here.set_enabled(ADMIN, "bank", "transfer", False) is False  # no-op: no audit
    assert here.disabled("default", "bank") == {"transfer"}  # this process: at once
    assert there.disabled("default", "bank") == frozenset()  # cached ...
    tick.now += 2.0
    assert there.disabled("default", "bank") == {"transfer"}  # ... for at most ttl
    assert here.disabled("other", "bank") == frozenset()  # per tenant
    assert here.disabled("default", "shop") == frozenset()  # per bot
    assert here.set_enabled(ADMIN, "bank", "transfer", True) is True
    assert here.disabled("default", "bank") == frozenset()
    assert here.set_enabled(ADMIN, "bank", "menu", True) is False  # enabled already
    entries = [(a, act, t, d) for a, act, t, d in _audit(engine) if act.startswith("flow_")]
    assert entries == [
        ("cli:test", "flow_disabled", "flow:bank/transfer", {"bot": "bank", "flow": "transfer"}),
        ("cli:test", "flow_enabled", "flow:bank/transfer", {"bot": "bank", "flow": "transfer"}),
    ]


def test_switched_bot_routes_by_number_and_applies_the_switches(
    engine: Engine, bank: FlowBot
) -> None:
    switches = FlowSwitches(engine, AuditService(secrets.token_bytes(32)))
    shop = load_builtin_bot("shop")
    routed = SwitchedBot(BotRouter(shop, {"109876543210987": bank}), switches, "default")
    switches.set_enabled(ADMIN, "bank", "transfer", False)
    switches.set_enabled(ADMIN, "shop", "faq", False)
    chat = Chat(routed)  # Chat's messages go to 109876543210987: the bank bot
    chat.say("halo")
    chat.tap("menu_transfer")
    assert frame_flow(chat) is None
    chat.tap("menu_balance")
    assert frame_flow(chat) == "balance"
    switches.set_enabled(ADMIN, "bank", "transfer", True)
    chat.tap("menu_transfer")
    assert frame_flow(chat) == "transfer"


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with api_client(db_url, load_builtin_bot("bank"), bot="bank") as pair:
        yield pair


def _bearer(runtime: Runtime, tenant: str, scopes: list[str]) -> dict[str, str]:
    created = runtime.accounts.tokens.create(TenantScope.system(tenant, "test"), "t", scopes)
    return {"Authorization": f"Bearer {created.secret}"}


def _tap(runtime: Runtime, reply_id: str, state: dict[str, Any]) -> dict[str, Any]:
    msg = Incoming(
        wamid=f"wamid.{secrets.token_hex(4)}",
        phone_number_id=PNID,
        wa_id="6281234500001",
        profile_name=None,
        type="interactive",
        text=None,
        reply_id=reply_id,
        timestamp=0,
    )
    return dict(runtime.bot.handle(msg, state).state)


@pytest.mark.anyio
async def test_admins_switch_flows_over_the_api_and_the_bot_follows(
    api: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = api
    admin = _bearer(runtime, "default", ["admin"])
    url = "/flows/bank/transfer"
    for headers, status in (
        (_bearer(runtime, "default", ["analytics:read"]), 403),
        (_bearer(runtime, "default", ["campaigns:write", "contacts:write"]), 403),
        (_bearer(runtime, "other", ["admin"]), 404),
        ({}, 401),
    ):
        r = await client.post(f"{url}/disable", headers=headers)
        assert r.status_code == status
    assert runtime.flow_switches.disabled("default", "bank") == frozenset()
    for path, status in (
        ("/flows/bank/nope/disable", 404),
        ("/flows/shop/menu/disable", 404),  # not a bot this server runs
        ("/flows/bank/fallback/disable", 409),
    ):
        r = await client.post(path, headers=admin)
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert _tap(runtime, "menu_transfer", {})["frame"][0] == "transfer"
    r = await client.post(f"{url}/disable", headers=admin)
    assert r.status_code == 200
    assert r.json() == {"bot": "bank", "flow": "transfer", "enabled": False, "changed": True}
    assert _tap(runtime, "menu_transfer", {})["frame"] is None  # the next message: at once
    r = await client.get("/flows", headers=admin)
    bots = {b["name"]: b for b in r.json()}
    assert bots["bank"]["running"] is True
    enabled = {f["name"]: f["enabled"] for f in bots["bank"]["flows"]}
    assert enabled["transfer"] is False and enabled["balance"] is True
    r = await client.post(f"{url}/enable", headers=admin)
    assert r.json()["enabled"] is True and r.json()["changed"] is True
    assert _tap(runtime, "menu_transfer", {})["frame"][0] == "transfer"
    r = await client.get("/audit/entries", headers=admin)
    actions = [(e["action"], e["target"]) for e in r.json()["items"]]
    assert ("flow_disabled", "flow:bank/transfer") in actions
    assert ("flow_enabled", "flow:bank/transfer") in actions
