"""The console's campaign and contact API gaps: template parts and slots, broadcast status
from one aggregate (hold and exclusion reasons), per-recipient pages, contact search by
whole number or name, campaign settings, and POST /contacts audited as a write only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aman.api.v1 import contacts as contacts_api
from aman.campaigns import ContactBook, ContactImporter, TemplateRegistry, run_due
from aman.campaigns.context import CampaignContext
from aman.runtime import Runtime
from helpers import api_client, token_headers

pytestmark = pytest.mark.anyio
Api = tuple[Runtime, httpx.AsyncClient]


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    async with api_client(db_url) as pair:
        yield pair


def bearer(runtime: Runtime, tenant: str, scopes: list[str]) -> dict[str, str]:
    return token_headers(runtime, tenant, scopes)


def ctx_of(runtime: Runtime) -> CampaignContext:
    return CampaignContext(runtime.engine, runtime.vault, runtime.audit)


def import_rows(runtime: Runtime, tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone,name,tags,consent\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = ContactImporter(ctx_of(runtime)).import_file("staff:test", path)
    assert not report.rejected


async def audit_actions(runtime: Runtime, client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/audit/entries", headers=bearer(runtime, "default", ["audit:read"]))
    assert r.status_code == 200
    items: list[dict[str, Any]] = r.json()["items"]
    return items


PROMO = [
    {"type": "HEADER", "format": "TEXT", "text": "Promo {{1}}"},
    {"type": "BODY", "text": "Halo {{1}}, diskon {{2}} untuk Anda."},
    {"type": "FOOTER", "text": "Balas STOP untuk berhenti"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Mau"},
            {"type": "URL", "text": "Lihat", "url": "https://toko.example/p/{{1}}"},
        ],
    },
]


async def test_templates_show_parts_and_slots(api: Api) -> None:
    runtime, client = api
    TemplateRegistry(ctx_of(runtime)).register(
        "staff:ani", name="promo", language="id", category="marketing", components=PROMO
    )
    r = await client.get("/templates", headers=bearer(runtime, "default", ["campaigns:write"]))
    assert r.status_code == 200, r.text
    [tpl] = r.json()
    assert (tpl["status"], tpl["usable"], tpl["reason"]) == ("PENDING", False, None)
    parts = {c["type"]: c for c in tpl["components"]}
    assert parts["HEADER"]["format"] == "TEXT" and parts["HEADER"]["text"] == "Promo {{1}}"
    assert parts["BODY"]["text"] == "Halo {{1}}, diskon {{2}} untuk Anda."
    assert parts["FOOTER"]["text"] == "Balas STOP untuk berhenti"
    assert parts["BUTTONS"]["buttons"] == [
        {"type": "QUICK_REPLY", "text": "Mau", "url": None, "phone_number": None},
        {"type": "URL", "text": "Lihat", "url": "https://toko.example/p/{{1}}",
         "phone_number": None},
    ]
    assert [(s["key"], s["name"], s["kind"], s["sub_type"]) for s in tpl["slots"]] == [
        ("header", "1", "text", ""),
        ("body", "1", "text", ""),
        ("body", "2", "text", ""),
        ("button:1", "1", "text", "url"),
    ]


async def test_broadcast_status_reasons_and_recipient_pages(api: Api, tmp_path: Path) -> None:
    runtime, client = api
    writer = bearer(runtime, "default", ["campaigns:write"])
    nums = [f"0812000000{i:02d}" for i in range(6)]
    import_rows(runtime, tmp_path, [f"{n},Sari {i},all,ya" for i, n in enumerate(nums)])
    ctx = ctx_of(runtime)
    book = ContactBook(ctx)
    ids = [book.find(n) or 0 for n in nums]
    book.set_marketing_consent("customer", ids[1], False, source="chat:STOP")
    r = await client.put(
        "/campaign-settings",
        json={"tz": "Asia/Jakarta", "quiet_hours": "off", "tier_limit": None,
              "frequency_cap_hours": 24},
        headers=bearer(runtime, "default", ["admin"]),
    )
    assert r.status_code == 200, r.text
    r = await client.post("/segments", json={"name": "all", "rules": {"tag": "all"}},
                          headers=writer)
    seg = r.json()["id"]
    TemplateRegistry(ctx).register(
        "staff:ani", name="halo", language="id", category="marketing", status="APPROVED",
        components=[{"type": "BODY", "text": "Halo {{1}}"}],
    )
    body = {"name": "p", "segment_id": seg, "template": "halo", "language": "id",
            "variables": {"body": ["{first_name|Kak}"]}}
    r = await client.post("/broadcasts", json=body, headers=writer)
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    run_due(runtime.engine, runtime.vault, ctx.now())

    r = await client.get(f"/broadcasts/{bid}", headers=writer)
    out = r.json()
    assert out["statuses"] == {"queued": 5, "excluded": 1}
    assert out["excluded_reasons"] == {"marketing_opt_out": 1}
    assert out["hold_reason"] is None and [x["state"] for x in out["runs"]] == ["running"]
    r = await client.post(f"/broadcasts/{bid}/pause", headers=writer)
    out = r.json()
    assert out["hold_reason"] == "paused" and out["runs"][0]["hold_reason"] == "paused"
    assert out["statuses"] == {"held": 5, "excluded": 1}

    r = await client.get(f"/broadcasts/{bid}/recipients", params={"state": "excluded"},
                         headers=writer)
    page = r.json()
    assert r.status_code == 200 and page["next_cursor"] is None
    assert page["run_id"] == out["runs"][0]["id"]
    assert page["items"] == [{"contact_id": ids[1], "number_masked": "62*********01",
                              "status": "excluded", "reason": "marketing_opt_out",
                              "error_code": None}]
    seen: list[int] = []
    cursor = 0
    while True:
        r = await client.get(f"/broadcasts/{bid}/recipients",
                             params={"limit": 4, "cursor": cursor}, headers=writer)
        page = r.json()
        assert "6281200000" not in r.text  # masked numbers only
        seen += [x["contact_id"] for x in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == sorted(ids)
    r = await client.get(f"/broadcasts/{bid}/recipients", params={"state": "nope"},
                         headers=writer)
    assert r.status_code == 422
    r = await client.get(f"/broadcasts/{bid}/recipients", params={"run": 999},
                         headers=writer)
    assert r.status_code == 404
    r = await client.get(f"/broadcasts/{bid}/recipients",
                         headers=bearer(runtime, "default", ["contacts:read"]))
    assert r.status_code == 403
    r = await client.get(f"/broadcasts/{bid}/recipients",
                         headers=bearer(runtime, "other", ["admin"]))
    assert r.status_code == 404


async def test_contact_search_by_whole_number_or_name(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, client = api
    reader = bearer(runtime, "default", ["contacts:read"])
    names = ["Ani Lestari", "Budi", "ani kecil", "Citra", "ANIsa", "Dewi", "Eko"]
    import_rows(runtime, tmp_path,
                [f"0812111100{i:02d},{n},{'vip' if i % 2 else 'biasa'},"
                 for i, n in enumerate(names)])

    async def search(**params: Any) -> dict[str, Any]:
        r = await client.get("/contacts", params=params, headers=reader)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    got = await search(q="ani")
    assert [c["name"] for c in got["items"]] == ["Ani Lestari", "ani kecil", "ANIsa"]
    assert got["next_cursor"] is None
    got = await search(q="ani", tag="vip")
    assert [c["name"] for c in got["items"]] == []
    got = await search(q="ani", limit=2)
    assert [c["name"] for c in got["items"]] == ["Ani Lestari", "ani kecil"]
    rest = await search(q="ani", cursor=got["next_cursor"])
    assert [c["name"] for c in rest["items"]] == ["ANIsa"]
    # Any accepted format of a whole number finds the contact by its blind index.
    for q in ("+62 812-1111-0003", "081211110003", "6281211110003"):
        got = await search(q=q)
        assert [c["name"] for c in got["items"]] == ["Citra"], q
        assert got["items"][0]["number_masked"] == "62*********03"
    assert (await search(q="081299999999"))["items"] == []
    r = await client.get("/contacts", params={"q": "0812"}, headers=reader)
    assert r.status_code == 422 and "whole" in r.json()["detail"]
    # The name scan stops at the cap; next_cursor continues where it stopped.
    monkeypatch.setattr(contacts_api, "NAME_SCAN_CAP", 2)
    got = await search(q="eko")
    assert got["items"] == [] and got["next_cursor"] is not None
    found: list[str] = []
    while got["next_cursor"] is not None:
        got = await search(q="eko", cursor=got["next_cursor"])
        found += [c["name"] for c in got["items"]]
    assert found == ["Eko"]


async def test_upsert_is_audited_as_a_write_not_a_read(api: Api) -> None:
    runtime, client = api
    writer = bearer(runtime, "default", ["contacts:write", "contacts:read"])
    r = await client.post("/contacts", json={"wa_id": "081234567890", "name": "Ani"},
                          headers=writer)
    assert r.status_code == 201
    r = await client.post("/contacts", json={"wa_id": "081234567890", "tags": ["vip"]},
                          headers=writer)
    assert r.status_code == 200 and r.json()["name"] == "Ani"
    actions = [e["action"] for e in await audit_actions(runtime, client)]
    assert actions.count("contact_upsert") == 2 and "contact_read" not in actions
    await client.get(f"/contacts/{r.json()['id']}", headers=writer)
    actions = [e["action"] for e in await audit_actions(runtime, client)]
    assert actions.count("contact_read") == 1


async def test_campaign_settings(api: Api) -> None:
    runtime, client = api
    admin = bearer(runtime, "default", ["admin"])
    marketer = bearer(runtime, "default", ["campaigns:write"])
    r = await client.get("/campaign-settings", headers=marketer)
    assert r.json() == {"tz": "Asia/Jakarta", "quiet_hours": "21:00-08:00", "tier_limit": 250,
                        "frequency_cap_hours": 24.0}
    new = {"tz": "Asia/Makassar", "quiet_hours": "22:30-07:00", "tier_limit": 10000,
           "frequency_cap_hours": 48}
    r = await client.put("/campaign-settings", json=new, headers=marketer)
    assert r.status_code == 403
    r = await client.put("/campaign-settings", json=new, headers=admin)
    assert r.status_code == 200 and r.json() == {**new, "frequency_cap_hours": 48.0}
    r = await client.get("/campaign-settings", headers=admin)
    assert r.json()["quiet_hours"] == "22:30-07:00"
    r = await client.put("/campaign-settings", json={**new, "quiet_hours": "off",
                                                     "tier_limit": None}, headers=admin)
    assert r.json()["quiet_hours"] is None and r.json()["tier_limit"] is None
    entries = [e for e in await audit_actions(runtime, client)
               if e["action"] == "campaign_settings"]
    assert len(entries) == 2 and entries[0]["actor"].startswith("token:")
    for bad, where in (
        ({"quiet_hours": "25:00-07:00"}, "quiet_hours"),
        ({"tier_limit": 300}, "tier_limit"),
        ({"frequency_cap_hours": -1}, "frequency_cap_hours"),
        ({"tz": "Asia"}, "tz"),
        ({"tz": "Mars/Olympus"}, "tz"),
    ):
        r = await client.put("/campaign-settings", json={**new, **bad}, headers=admin)
        problem = r.json()
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json"), (bad, r.text)
        assert where in str(problem), (bad, problem)
    r = await client.get("/campaign-settings", headers=bearer(runtime, "default",
                                                               ["contacts:read"]))
    assert r.status_code == 403
    r = await client.get("/campaign-settings", headers=bearer(runtime, "other", ["admin"]))
    assert r.status_code == 404
