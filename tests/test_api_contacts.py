"""The contacts endpoints over real HTTP: upsert, masked lists, audited reads and exports,
tags and fields, CSV import with a bad row, merge, and refusals across tenants and scopes."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aman.accounts.scope import TenantScope
from aman.demo import DemoStack

pytestmark = pytest.mark.anyio
FULL = "6281234567890"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class World:
    st: DemoStack
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.st.url}/api/v1"

    def token(self, tenant: str, scopes: list[str]) -> str:
        created = self.st.runtime.accounts.tokens.create(
            TenantScope.system(tenant, "test"), f"t-{len(self.tokens)}", scopes
        )
        return created.secret

    def session(self, who: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.tokens[who]}"})


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fast = {"argon2_memory_kib": 19 * 1024, "argon2_time_cost": 2}  # OWASP minimum
    async with DemoStack(tmp_path, bot="echo", statuses=False, settings_overrides=fast) as st:
        w = World(st)
        st.runtime.accounts.tenants.create("other", "Other Bank")
        w.tokens["writer"] = w.token("default", ["contacts:write"])
        w.tokens["reader"] = w.token("default", ["contacts:read"])
        w.tokens["auditor"] = w.token("default", ["audit:read"])
        w.tokens["analyst"] = w.token("default", ["analytics:read", "messages:read"])
        w.tokens["other"] = w.token("other", ["admin"])
        yield w


async def _create(s: aiohttp.ClientSession, api: str, body: dict[str, Any]) -> dict[str, Any]:
    async with s.post(f"{api}/contacts", json=body) as r:
        assert r.status == 201, await r.text()
        out: dict[str, Any] = await r.json()
        return out


async def _big() -> AsyncIterator[bytes]:
    yield b"phone\n"
    for _ in range(6 * 16):
        yield b"x" * 65536


async def _audit_actions(world: World) -> list[dict[str, Any]]:
    async with world.session("auditor") as s, s.get(f"{world.api}/audit/entries") as r:
        assert r.status == 200
        items: list[dict[str, Any]] = (await r.json())["items"]
        return items


async def test_create_list_get_tags_fields(world: World) -> None:
    api = world.api
    async with world.session("writer") as s:
        ani = await _create(
            s,
            api,
            {
                "wa_id": "0812-3456-7890",  # Indonesian local format
                "name": "Ani",
                "tags": ["VIP", "jakarta"],
                "fields": {"kota": "Bandung", "poin": 12},
                "marketing_consent": True,
                "consent_source": "form:toko",
            },
        )
        assert ani["wa_id"] == FULL and ani["tags"] == ["jakarta", "vip"]
        assert ani["marketing"] == "granted" and ani["fields"] == {"kota": "Bandung", "poin": 12}
        budi = await _create(s, api, {"wa_id": "+65 9123 4567", "tags": ["sg"]})
        # The same number again (E.164 this time) updates: 200, same id.
        async with s.post(f"{api}/contacts", json={"wa_id": "+6281234567890"}) as r:
            assert r.status == 200 and (await r.json())["id"] == ani["id"]
        async with s.post(f"{api}/contacts", json={"wa_id": "12345"}) as r:
            assert r.status == 400 and r.content_type == "application/problem+json"

        async with s.get(f"{api}/contacts", params={"limit": 1}) as r:
            page = await r.json()
            text = await r.text()
        assert [c["id"] for c in page["items"]] == [ani["id"]]
        assert page["items"][0]["number_masked"] == "62*********90"
        # Lists show names (contacts:read) but never full numbers nor custom fields.
        assert FULL not in text and "Bandung" not in text
        async with s.get(f"{api}/contacts", params={"cursor": page["next_cursor"]}) as r:
            page2 = await r.json()
        assert [c["id"] for c in page2["items"]] == [budi["id"]] and page2["next_cursor"] is None
        assert "91234567" not in await r.text()
        async with s.get(f"{api}/contacts", params={"tag": "vip"}) as r:
            assert [c["id"] for c in (await r.json())["items"]] == [ani["id"]]
        async with s.get(f"{api}/contacts", params={"tag": "bad tag!"}) as r:
            assert r.status == 400

        # Tags and fields are replaced as a whole.
        async with s.put(f"{api}/contacts/{ani['id']}/tags", json={"tags": ["vip", "gold"]}) as r:
            assert r.status == 200 and (await r.json())["tags"] == ["gold", "vip"]
        body = {"fields": {"kota": "Surabaya", "tier": "emas"}}
        async with s.put(f"{api}/contacts/{ani['id']}/fields", json=body) as r:
            out = await r.json()
            assert r.status == 200 and out == {"keys": ["kota", "tier"]}
            assert "Surabaya" not in await r.text()  # values are not echoed
        async with s.put(f"{api}/contacts/999999/tags", json={"tags": []}) as r:
            assert r.status == 404

    async with world.session("reader") as s:
        async with s.get(f"{api}/contacts/{ani['id']}") as r:
            full = await r.json()
        assert r.status == 200 and full["wa_id"] == FULL and full["name"] == "Ani"
        assert full["tags"] == ["gold", "vip"]
        assert full["fields"] == {"kota": "Surabaya", "tier": "emas"}
        async with s.put(f"{api}/contacts/{ani['id']}/tags", json={"tags": []}) as r:
            assert r.status == 403  # contacts:read cannot write
        async with s.get(f"{api}/contacts/999999") as r:
            assert r.status == 404

    entries = await _audit_actions(world)
    reads = [e for e in entries if e["action"] == "contact_read"]
    assert reads and reads[-1]["actor"].startswith("token:")
    assert any(e["action"] == "contact_consent" for e in entries)
    assert all(FULL not in str(e) for e in entries) and world.tokens["reader"] not in str(entries)


async def test_consent_never_overrides_a_stop(world: World) -> None:
    async with world.session("writer") as s:
        c = await _create(s, world.api, {"wa_id": "081299998888", "marketing_consent": False})
        assert c["marketing"] == "denied"
        again = {"wa_id": "081299998888", "marketing_consent": True}
        async with s.post(f"{world.api}/contacts", json=again) as r:
            assert r.status == 409
        async with s.get(f"{world.api}/contacts/{c['id']}") as r:
            assert (await r.json())["marketing"] == "denied"


async def test_import_export_and_merge(world: World) -> None:
    api = world.api
    data = (
        "nomor,nama,tags,consent,kota\n"
        "081211112222,Citra,vip;bandung,ya,Bandung\n"
        "0712345,Salah,,,\n"  # not a mobile number: rejected, masked in the report
        "+62 812-1111-2222,Citra lagi,,,\n"  # duplicate of line 2
        "081233334444,Dewi,,tidak,Medan\n"
    )
    headers = {"Content-Type": "text/csv"}
    async with world.session("writer") as s:
        async with s.post(
            f"{api}/contacts/import", data=data, headers=headers, params={"filename": "toko.csv"}
        ) as r:
            report = await r.json()
            assert r.status == 200, report
        assert (report["rows"], report["created"], report["updated"]) == (4, 2, 0)
        assert report["consent_recorded"] == 2 and report["file"] == "toko.csv"
        assert [(i["line"], i["value"]) for i in report["rejected"]] == [(3, "07***45")]
        assert [i["line"] for i in report["duplicates"]] == [4]
        assert "0712345" not in str(report) and "081211112222" not in str(report)

        async with s.post(f"{api}/contacts/import", data="a,b\n1,2\n", headers=headers) as r:
            assert r.status == 400  # no phone column
        async with s.post(f"{api}/contacts/import", json={"phone": "0812"}) as r:
            assert r.status == 415
        async with s.post(f"{api}/contacts/import", data=_big(), headers=headers) as r:
            assert r.status == 413  # streamed without a length: cut off at 5 MiB

        async with s.get(f"{api}/contacts", params={"tag": "vip"}) as r:
            citra = (await r.json())["items"][0]
        async with s.get(f"{api}/contacts", params={"limit": 10}) as r:
            dewi = next(c for c in (await r.json())["items"] if c["id"] != citra["id"])
        assert dewi["marketing"] == "denied"

        async with s.post(
            f"{api}/contacts/{citra['id']}/merge", json={"source_id": dewi["id"]}
        ) as r:
            merged = await r.json()
            assert r.status == 200, merged
        assert merged["target_id"] == citra["id"] and merged["fields"] == 1
        async with s.get(f"{api}/contacts/{citra['id']}") as r:
            target = await r.json()
        assert target["marketing"] == "denied"  # the more restrictive consent wins
        assert target["fields"] == {"kota": "Bandung"}  # the target's value is kept
        async with s.get(f"{api}/contacts/{dewi['id']}") as r:
            assert r.status == 404
        async with s.post(
            f"{api}/contacts/{citra['id']}/merge", json={"source_id": citra["id"]}
        ) as r:
            assert r.status == 400

    async with world.session("reader") as s, s.get(f"{api}/contacts/export") as r:
        assert r.status == 200 and r.content_type == "text/csv"
        assert r.headers["Cache-Control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [(row["phone"], row["name"], row["kota"]) for row in rows] == [
        ("+6281211112222", "Citra", "Bandung")
    ]
    actions = [e["action"] for e in await _audit_actions(world)]
    for action in ("contacts_import", "contact_merge", "contacts_export"):
        assert action in actions


async def test_other_tenants_and_other_scopes_are_refused(world: World) -> None:
    async with world.session("writer") as s:
        c = await _create(s, world.api, {"wa_id": "081255556666", "name": "Eka"})
    base = f"{world.api}/contacts"
    calls: list[tuple[str, str, Any]] = [
        ("GET", base, None),
        ("GET", f"{base}/{c['id']}", None),
        ("GET", f"{base}/export", None),
        ("POST", base, {"wa_id": "081277778888"}),
        ("PUT", f"{base}/{c['id']}/tags", {"tags": ["x"]}),
        ("PUT", f"{base}/{c['id']}/fields", {"fields": {"a": 1}}),
        ("POST", f"{base}/{c['id']}/merge", {"source_id": c["id"]}),
        ("POST", f"{base}/import", None),
    ]
    for who, expected in (("other", 404), ("analyst", 403)):
        async with world.session(who) as s:
            for method, url, body in calls:
                async with s.request(method, url, json=body) as r:
                    text = await r.text()
                    assert r.status == expected, (who, method, url, r.status)
                    assert "Eka" not in text and "6281255556666" not in text
    async with aiohttp.ClientSession() as s, s.get(base) as r:
        assert r.status == 401
    # Nothing was changed by the refused calls.
    async with world.session("reader") as s, s.get(f"{base}/{c['id']}") as r:
        assert (await r.json())["tags"] == []
    async with world.session("reader") as s, s.get(base) as r:
        assert [x["id"] for x in (await r.json())["items"]] == [c["id"]]
