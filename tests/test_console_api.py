"""The console's endpoints over HTTP: live feed (SSE), conversation timeline and contact,
flows and NLU, the page shell and its headers, and the demo phone's proxy."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aman.accounts.scope import TenantScope
from aman.api.v1 import events as events_api
from aman.config import Settings
from aman.console import STATIC_DIR, console_routes
from aman.console.feed import LiveFeed, parse_event_id
from aman.demo import DemoStack
from helpers import scalar, until
from test_console_support import FAST, HandoffBot, enrol, sign_in

pytestmark = pytest.mark.anyio
CUSTOMER = "6281234577777"
Event = tuple[str, Any, str]


@pytest.fixture
async def st(tmp_path: Path) -> AsyncIterator[DemoStack]:
    async with DemoStack(tmp_path, bot=HandoffBot(), settings_overrides=FAST) as stack:
        stack.runtime.accounts.tenants.create("other", "Other Bank")
        yield stack


def token(st: DemoStack, scopes: list[str], tenant: str = "default") -> dict[str, str]:
    secret = st.runtime.accounts.tokens.create(
        TenantScope.system(tenant, "test"), f"t{len(scopes)}{tenant}{scopes[0]}", scopes
    ).secret
    return {"Authorization": f"Bearer {secret}"}


async def read_events(
    resp: aiohttp.ClientResponse, done: Callable[[list[Event]], bool], timeout: float = 12.0
) -> tuple[list[Event], bytes]:
    """Parse text/event-stream frames until ``done(events)`` (or the stream ends)."""
    events: list[Event] = []
    raw = b""
    buf = b""
    async with asyncio.timeout(timeout):
        async for chunk in resp.content.iter_any():
            raw += chunk
            buf += chunk
            while b"\n\n" in buf:
                frame, buf = buf.split(b"\n\n", 1)
                fields = dict(
                    line.split(": ", 1) for line in frame.decode().splitlines()
                    if ": " in line and not line.startswith(":")
                )
                if "event" in fields:
                    events.append((fields["event"], json.loads(fields["data"]), fields["id"]))
            if done(events):
                break
    return events, raw


def named(events: list[Event], name: str) -> list[Any]:
    return [data for ev, data, _ in events if ev == name]


async def handoff(st: DemoStack, wa_id: str = CUSTOMER, name: str = "Siti") -> str:
    await st.phone.send_text(wa_id, "agent", name=name)
    admin = TenantScope.system("default", "test")
    convs = await until(lambda: st.runtime.team.conversations(admin), what="handoff")
    return str(convs[0].id)


async def test_live_feed_pushes_handoffs_messages_and_statuses_without_bodies(
    st: DemoStack,
) -> None:
    secret = enrol(st, "default", "admin@bank.test", "admin")
    session, csrf = await sign_in(st, "admin@bank.test", secret)
    async with session, session.get(f"{st.url}/api/v1/events") as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["cache-control"] == "no-store"
        first, raw = await read_events(resp, lambda ev: bool(named(ev, "snapshot")))
        assert named(first, "snapshot")[0]["conversations"] == []
        assert raw.startswith(b"retry: ")

        conv = await handoff(st)
        got, raw2 = await read_events(resp, lambda ev: bool(named(ev, "handoff")))
        assert named(got, "handoff")[0]["conversation"] == conv
        await st.phone.send_text(CUSTOMER, "nomor rekening saya 1234567890", name="Siti")
        got3, raw3 = await read_events(resp, lambda ev: bool(named(ev, "message")))
        msg = named(got3, "message")[0]
        assert msg["conversation"] == conv and msg["wamid"].startswith("wamid.")
        async with session.post(f"{st.url}/api/v1/conversations/{conv}/reply",
                                json={"text": "Baik Kak, kami cek"},
                                headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 202
            ref = (await r.json())["ref"]

        def delivered(ev: list[Event]) -> bool:
            return any(d["ref"] == ref and d["status"] in ("delivered", "read")
                       for d in named(ev, "outbound"))

        got4, raw4 = await read_events(resp, delivered)
    states = [d["state"] for d in named(got4, "outbound") if d["ref"] == ref]
    assert "sent" in states
    stream = raw + raw2 + raw3 + raw4
    # Only ids, states and timestamps: no body, no number, no name.
    for secret_text in (b"1234567890", b"kami cek", b"agent", CUSTOMER.encode(), b"Siti",
                        CUSTOMER[-8:].encode()):
        assert secret_text not in stream
    # Every frame carries a resumable id: <inbox mark>.<outbox base>.
    assert all(parse_event_id(i) is not None for _, _, i in got4)


async def test_feed_resumes_from_last_event_id_and_streams_end(
    st: DemoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_api, "STREAM_SECONDS", 1.2)
    monkeypatch.setattr(events_api, "POLL_SECONDS", 0.3)
    headers = token(st, ["messages:read"])
    conv = await handoff(st)
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.get(f"{st.url}/api/v1/events") as resp:
            events, _ = await read_events(resp, lambda ev: False)  # to the end
        assert events[-1][0] == "bye" and events[0][0] == "snapshot"
        assert [c["conversation"] for c in events[0][1]["conversations"]] == [conv]
        last_id = events[-1][2]
        # Disconnected while the customer writes: the next connection catches up.
        await st.phone.send_text(CUSTOMER, "halo, masih di sana?")
        await until(lambda: scalar(st, "SELECT count(*) FROM inbox") >= 2, what="stored")
        async with s.get(f"{st.url}/api/v1/events", headers={"Last-Event-ID": last_id}) as resp:
            resumed, _ = await read_events(resp, lambda ev: bool(named(ev, "message")))
        assert named(resumed, "message")[0]["conversation"] == conv
        for bad in ("x", "1.2.3", "-1.0", "9" * 40):
            assert parse_event_id(bad) is None


async def test_feed_shows_agents_only_their_conversations(st: DemoStack) -> None:
    agent_id = st.runtime.accounts.users.create(
        TenantScope.system("default", "t"), "agent@bank.test", "agent", team="cs").user.id
    conv = await handoff(st)
    engine, team = st.runtime.engine, st.runtime.team
    agent = TenantScope.for_user("default", agent_id, "agent", "cs", None)
    other = TenantScope.system("other", "t")
    feeds = {who: LiveFeed(engine, team, scope) for who, scope in
             (("agent", agent), ("other", other), ("admin", TenantScope.system("default")))}
    snaps = {who: f.prime()[0].data["conversations"] for who, f in feeds.items()}
    assert [c["conversation"] for c in snaps["admin"]] == [conv]
    assert snaps["agent"] == [] and snaps["other"] == []
    team.assign(TenantScope.system("default", "t"), conv, user_id=None, team="cs")
    assert [e.name for e in feeds["agent"].poll()] == ["handoff"]
    assert feeds["other"].poll() == []
    team.assign(TenantScope.system("default", "t"), conv, user_id=None, team="sales")
    assert [(e.name, e.data) for e in feeds["agent"].poll()] == [
        ("closed", {"conversation": conv})]
    # An analyst may not list conversations at all: 403, not an empty stream.
    async with (
        aiohttp.ClientSession(headers=token(st, ["analytics:read"])) as s,
        s.get(f"{st.url}/api/v1/events") as r,
    ):
        assert r.status == 403
    async with aiohttp.ClientSession() as s, s.get(f"{st.url}/api/v1/events") as r:
        assert r.status == 401


async def test_timeline_and_contact_are_masked_scoped_and_audited(st: DemoStack) -> None:
    conv = await handoff(st, name="<img src=x onerror=alert(1)>")
    admin = token(st, ["admin"])
    async with aiohttp.ClientSession(headers=admin) as s:
        async with s.post(f"{st.url}/api/v1/conversations/{conv}/reply",
                          json={"text": "Halo Kak"}) as r:
            assert r.status == 202
        await st.simulator.wait_for_sent(2, 10)

        async def outbound() -> list[dict[str, Any]]:
            async with s.get(f"{st.url}/api/v1/conversations/{conv}/outbound") as r:
                assert r.status == 200
                return list(await r.json())

        out = await outbound()
        assert [m["text"] for m in out] == ["menghubungkan", "Halo Kak"]
        assert all(m["type"] == "text" and m["state"] in ("todo", "sending", "sent") for m in out)
        async with s.get(f"{st.url}/api/v1/conversations/{conv}/contact") as r:
            contact = await r.json()
        assert contact["name"] == "<img src=x onerror=alert(1)>"
        assert contact["number"] == "62*********77" and CUSTOMER not in json.dumps(contact)
        async with s.get(f"{st.url}/api/v1/audit/entries") as r:
            actions = [e["action"] for e in (await r.json())["items"]]
        assert "contact_viewed" in actions and "conversation_read" in actions
    for headers in (token(st, ["admin"], tenant="other"), token(st, ["analytics:read"])):
        async with aiohttp.ClientSession(headers=headers) as s:
            for path in ("outbound", "contact"):
                async with s.get(f"{st.url}/api/v1/conversations/{conv}/{path}") as r:
                    assert r.status == 404, path
    async with (
        aiohttp.ClientSession(headers=admin) as s,
        s.get(f"{st.url}/api/v1/conversations/nope/contact") as r,
    ):
        assert r.status == 404


async def test_flows_list_diagram_and_check(st: DemoStack) -> None:
    async with aiohttp.ClientSession(headers=token(st, ["analytics:read"])) as s:
        async with s.get(f"{st.url}/api/v1/flows") as r:
            bots = {b["name"]: b for b in await r.json()}
        assert {"bank", "shop"} <= set(bots) and not bots["shop"]["running"]
        flows = {f["name"]: f for f in bots["shop"]["flows"]}
        assert {"kind": "intent", "value": "cancel_order"} in flows["cancel_order"]["triggers"]
        async with s.get(f"{st.url}/api/v1/flows/shop/cancel_order?lang=en") as r:
            d = await r.json()
        ids = {n["id"] for n in d["nodes"]}
        assert {e["from"] for e in d["edges"]} | {e["to"] for e in d["edges"]} <= ids
        assert any(e["label"] == "already_shipped" for e in d["edges"])
        for path in ("/flows/shop/nope", "/flows/nobot/menu"):
            async with s.get(f"{st.url}/api/v1{path}") as r:
                assert r.status == 404
        async with s.post(f"{st.url}/api/v1/flows/check", json={"bot": "shop"}) as r:
            assert r.status == 403  # checking is for admins
    async with (
        aiohttp.ClientSession(headers=token(st, ["admin"], tenant="other")) as s,
        s.get(f"{st.url}/api/v1/flows") as r,
    ):
        assert r.status == 404  # the bots are this server's tenant's
    async with aiohttp.ClientSession(headers=token(st, ["admin"])) as s:

        async def check(files: dict[str, str]) -> tuple[int, Any]:
            async with s.post(f"{st.url}/api/v1/flows/check",
                              json={"bot": "shop", "files": files}) as r:
                return r.status, await r.json()

        status, ok = await check({})
        assert status == 200 and ok["ok"] and ok["flows"] >= 10 and ok["problems"] == []
        broken = "flow: menu\nsteps:\n  - id: a\n    goto: nowhere\n"
        status, bad = await check({"flows/menu.yaml": broken})
        assert status == 200 and not bad["ok"]
        assert any(p["file"] == "flows/menu.yaml" and p["line"] > 0 for p in bad["problems"])
        assert "antigravity" not in sys.modules
        for hook in ("flow: menu\nsteps:\n  - handler: {call: 'antigravity:fly'}\n",
                     "flow: menu\nsteps:\n  - handler: antigravity:fly\n"):
            status, refused = await check({"flows/menu.yaml": hook})
            assert [p["code"] for p in refused["problems"]] == ["handler"]
        assert "antigravity" not in sys.modules  # nothing was imported
        for name in ("../bot.yaml", "flows/../../x.yaml", "/etc/passwd"):
            status, _ = await check({name: "x: 1"})
            assert status == 422
        status, _ = await check({"flows/big.yaml": "#" * (256 * 1024 + 1)})
        assert status == 422


async def test_nlu_test_box(st: DemoStack) -> None:
    async with aiohttp.ClientSession(headers=token(st, ["analytics:read"])) as s:
        async with s.post(f"{st.url}/api/v1/nlu/predict",
                          json={"text": "sldo brp", "bot": "bank"}) as r:
            out = await r.json()
        assert r.status == 200 and out["intent"] == "check_balance"
        assert 0 < out["confidence"] <= 1 and out["bot"] == "bank"
        async with s.post(f"{st.url}/api/v1/nlu/predict",
                          json={"text": "tf 150rb ke rek 1234567890", "bot": "bank"}) as r:
            out = await r.json()
        assert "1234567890" not in json.dumps(out)  # account numbers come back masked
        async with s.post(f"{st.url}/api/v1/nlu/predict", json={"text": "x", "bot": "zz"}) as r:
            assert r.status == 404
        async with s.post(f"{st.url}/api/v1/nlu/predict", json={"text": ""}) as r:
            assert r.status == 422
    async with (
        aiohttp.ClientSession(headers=token(st, ["messages:read"])) as s,
        s.post(f"{st.url}/api/v1/nlu/predict", json={"text": "halo"}) as r,
    ):
        assert r.status == 403


async def test_console_pages_static_files_and_headers(st: DemoStack) -> None:
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/enrol/some-token", "/simulator"):
            async with s.get(st.url + path) as r:
                body = await r.text()
                assert r.status == 200 and r.content_type == "text/html"
                csp = r.headers["content-security-policy"]
                assert "script-src 'self'" in csp and "unsafe-inline" not in csp
                assert r.headers["cache-control"] == "no-store"
            # No inline script or style: every <script> has a src, no style attribute.
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
            assert "style=" not in body and "<style" not in body
        async with s.get(f"{st.url}/static/js/main.js") as r:
            assert r.status == 200 and "javascript" in r.headers["content-type"]
            assert r.headers["cache-control"] == "no-cache"
        for path in ("/static/../routes.py", "/static/%2e%2e/routes.py", "/static/nope.js"):
            async with s.get(st.url + path) as r:
                assert r.status == 404


async def test_simulator_phone_proxy(st: DemoStack) -> None:
    url = f"{st.url}/simulator/api"
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/numbers") as r:
            numbers = await r.json()
        assert [n["phone_number_id"] for n in numbers] == [st.settings.phone_number_id]
        send = {"from": CUSTOMER, "text": "halo", "to": st.settings.phone_number_id}
        async with s.post(f"{url}/send", data=json.dumps(send)) as r:
            assert r.status == 415  # a cross-site form cannot post JSON without a preflight
        for bad in ({"from": "abc", "text": "x"}, {"from": CUSTOMER},
                    {"from": CUSTOMER, "text": "x", "to": "999"},
                    {"from": CUSTOMER, "reply_id": "<x>", "title": "t"}, ["x"]):
            async with s.post(f"{url}/send", json=bad) as r:
                assert r.status == 400, bad
        async with s.post(f"{url}/send", json=send) as r:
            assert r.status == 200 and (await r.json())["status"] == 200
        await st.simulator.wait_for_sent(1, 10)
        async with s.get(f"{url}/messages", params={"to": CUSTOMER, "since": "0"}) as r:
            msgs = await r.json()
        assert [m["body"]["text"]["body"] for m in msgs] == ["echo halo"]
        assert set(msgs[0]) == {"index", "type", "body", "at"}
        async with s.get(f"{url}/messages", params={"to": "x", "since": "0"}) as r:
            assert r.status == 400


def test_the_phone_page_exists_only_in_demo_mode() -> None:
    def paths(settings: Settings) -> set[str]:
        return {getattr(r, "path", "") for r in console_routes(settings)}

    assert "/simulator" not in paths(Settings())
    demo = Settings(demo_simulator_url="http://127.0.0.1:9", demo_numbers=(("1", "shop"),))
    assert {"/simulator", "/simulator/api/send"} <= paths(demo)


def test_console_scripts_never_parse_data_as_html_and_both_languages_are_complete() -> None:
    scripts = {p.name: p.read_text() for p in (STATIC_DIR / "js").glob("*.js")}
    assert {"main.js", "inbox.js", "sim.js", "i18n.js"} <= set(scripts)
    for name, text in scripts.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                     "new Function", "setAttribute(\"on"):
            assert sink not in text, f"{name} uses {sink}"
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text  # nothing fetched from elsewhere
    i18n = scripts["i18n.js"]
    id_part = i18n.split("const ID = {")[1].split("};")[0]
    en_part = i18n.split("const EN = {")[1].split("};")[0]
    keys = re.compile(r'"([a-z_]+\.[a-z_0-9]+)":')
    assert set(keys.findall(id_part)) == set(keys.findall(en_part))
    used = set()
    for text in scripts.values():
        used |= set(re.findall(r'\bt\("([a-z_]+\.[a-z_0-9]+)"[,)]', text))
    assert used <= set(keys.findall(en_part))


async def test_demo_admin_bootstrap(st: DemoStack) -> None:
    from aman.accounts.errors import EnrolmentError
    from aman.console.bootstrap import DEMO_ADMIN, demo_admin_hint

    acc = st.runtime.accounts
    first = demo_admin_hint(acc, "default", st.url)
    assert first.startswith(f"set up the demo admin: {st.url}/enrol/")
    again = demo_admin_hint(acc, "default", st.url)
    assert "finish" in again and again.split("/enrol/")[1] != first.split("/enrol/")[1]
    link = again.split("/enrol/")[1]
    with pytest.raises(EnrolmentError):
        acc.users.enrolment(first.split("/enrol/")[1])  # the first link no longer works
    async with aiohttp.ClientSession() as s, s.get(f"{st.url}/api/v1/auth/enrolment/{link}") as r:
        assert r.status == 200 and (await r.json())["email"] == DEMO_ADMIN
