"""The outbound guard at broadcast save time: bad links, PIN/OTP requests and account
numbers in a broadcast's text, template or variables are refused and audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import text

from aman.accounts.scope import TenantScope
from aman.campaigns import CampaignService, SegmentService, TemplateRegistry
from aman.campaigns.context import CampaignContext
from aman.demo import DemoStack
from aman.guard import OutboundBlocked
from test_campaigns_support import PNID, Clock, campaign_ctx

ALLOWED = ("bankaman.co.id",)


def audit(ctx: CampaignContext) -> list[tuple[str, str, dict[str, Any]]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, target, details FROM audit_entries ORDER BY seq")
        ).all()
    return [(r.action, r.target, orjson.loads(r.details)) for r in rows]


def campaigns(ctx: CampaignContext) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM campaigns")).scalar_one())


def register(ctx: CampaignContext, components: list[dict[str, Any]], name: str = "info") -> None:
    TemplateRegistry(ctx).register(
        "staff:ani",
        name=name,
        language="id",
        category="utility",
        status="APPROVED",
        components=components,
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Promo! Klaim di https://bankaman-promo.xyz/klaim", "link_not_allowed"),
        ("Info resmi: https://bankaman.co.id@evil.example/login", "link_userinfo"),
        ("Cek di http://bankaman.co.id/promo", "link_insecure"),
        ("Untuk verifikasi, balas dengan kode OTP dan PIN Anda.", "asks_secret"),
        ("Please reply with your card PIN to keep your account.", "asks_secret"),
        ("Dana masuk ke rekening 1234567890123 atas nama Anda.", "account_number"),
    ],
)
def test_bad_broadcast_text_is_refused_and_audited(db_url: str, body: str, code: str) -> None:
    with campaign_ctx(db_url, Clock()) as ctx:
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        svc = CampaignService(ctx, allowed_domains=ALLOWED)
        with pytest.raises(OutboundBlocked) as err:
            svc.create(
                "staff:ani", name="Promo", segment_id=seg.id, phone_number_id=PNID, text=body
            )
        assert code in [v.code for v in err.value.violations]
        assert campaigns(ctx) == 0
        action, target, details = audit(ctx)[-1]
        assert (action, target) == ("campaign_blocked", "campaign:new")
        assert code in details["violations"] and details["name"] == "Promo"
        assert body not in orjson.dumps(details).decode()  # codes only, never the text


def test_clean_broadcast_with_allowed_link_is_saved(db_url: str) -> None:
    with campaign_ctx(db_url, Clock()) as ctx:
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        register(
            ctx,
            [
                {"type": "BODY", "text": "Halo {{1}}, jangan pernah berikan PIN atau OTP."},
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {
                            "type": "URL",
                            "text": "Info",
                            "url": "https://www.bankaman.co.id/aman/{{1}}",
                        }
                    ],
                },
            ],
        )
        svc = CampaignService(ctx, allowed_domains=ALLOWED)
        cid = svc.create(
            "staff:ani",
            name="Edukasi",
            segment_id=seg.id,
            phone_number_id=PNID,
            template=("info", "id"),
            variables={"body": ["{first_name|Kak}"], "button:0": ["tips"]},
            text="Halo {first_name|Kak}, info resmi hanya di https://bankaman.co.id/aman",
        )
        svc.start("staff:ani", cid)
        assert [a for a, _, _ in audit(ctx)][-2:] == ["campaign_create", "campaign_start"]
        # Without an allow-list (deny by default) the same link is refused.
        with pytest.raises(OutboundBlocked):
            CampaignService(ctx).create(
                "staff:ani",
                name="Lagi",
                segment_id=seg.id,
                phone_number_id=PNID,
                text="Info resmi https://bankaman.co.id/aman",
            )


@pytest.mark.parametrize(
    ("components", "variables", "code"),
    [
        (
            [{"type": "BODY", "text": "Akun Anda diblokir, buka https://bit.ly/x1 sekarang"}],
            None,
            "link_not_allowed",
        ),
        (
            [
                {"type": "BODY", "text": "Halo {{1}}"},
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {"type": "URL", "text": "Buka", "url": "https://bankaman-co.id/{{1}}"}
                    ],
                },
            ],
            {"body": ["Kak"], "button:0": ["x"]},
            "link_not_allowed",
        ),
        (
            [{"type": "BODY", "text": "Halo {{1}}"}],
            {"body": ["kirim kode OTP ke nomor ini"]},
            "asks_secret",
        ),
        (
            [{"type": "BODY", "text": "Halo {{1}}"}],
            {"body": ["cek https://bankaman.co.id.evil.example/"]},
            "link_not_allowed",
        ),
    ],
)
def test_bad_template_or_variable_is_refused(
    db_url: str, components: list[dict[str, Any]], variables: dict[str, Any] | None, code: str
) -> None:
    with campaign_ctx(db_url, Clock()) as ctx:
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        register(ctx, components)
        with pytest.raises(OutboundBlocked) as err:
            CampaignService(ctx, allowed_domains=ALLOWED).create(
                "staff:ani",
                name="T",
                segment_id=seg.id,
                phone_number_id=PNID,
                template=("info", "id"),
                variables=variables,
            )
        assert code in [v.code for v in err.value.violations]
        assert campaigns(ctx) == 0 and audit(ctx)[-1][0] == "campaign_blocked"


def test_template_changed_after_the_draft_is_refused_when_scheduled(db_url: str) -> None:
    with campaign_ctx(db_url, Clock()) as ctx:
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        register(ctx, [{"type": "BODY", "text": "Halo {{1}}, ada info."}])
        svc = CampaignService(ctx, allowed_domains=ALLOWED)
        cid = svc.create(
            "staff:ani",
            name="T",
            segment_id=seg.id,
            phone_number_id=PNID,
            template=("info", "id"),
            variables={"body": ["Kak"]},
        )
        register(ctx, [{"type": "BODY", "text": "Halo {{1}}, login di https://evil.example"}])
        with pytest.raises(OutboundBlocked):
            svc.start("staff:ani", cid)
        assert svc.status(cid).state == "draft"
        action, target, details = audit(ctx)[-1]
        assert (action, target, details["violations"]) == (
            "campaign_blocked",
            f"campaign:{cid}",
            ["link_not_allowed"],
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DemoStack]:
    fast = {"argon2_memory_kib": 19 * 1024, "argon2_time_cost": 2, "allowed_domains": ALLOWED}
    async with DemoStack(tmp_path, bot="echo", statuses=False, settings_overrides=fast) as st:
        yield st


@pytest.mark.anyio
async def test_api_refuses_a_phishing_broadcast_with_a_problem(stack: DemoStack) -> None:
    rt = stack.runtime
    token = rt.accounts.tokens.create(
        TenantScope.system("default", "test"), "writer", ["admin"]
    ).secret
    ctx = CampaignContext(rt.engine, rt.vault, rt.audit)
    seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
    api = f"{stack.url}/api/v1/broadcasts"
    headers = {"Authorization": f"Bearer {token}"}
    bad = {
        "name": "Promo",
        "segment_id": seg.id,
        "text": "Akun diblokir! Verifikasi di https://bankaman-verify.xyz dan kirim OTP",
    }
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(api, json=bad) as r:
            assert r.status == 422
            assert r.headers["Content-Type"].startswith("application/problem+json")
            problem = await r.json()
        assert problem["title"] == "message blocked by the outbound guard"
        assert set(problem["violations"]) == {"link_not_allowed", "asks_secret"}
        good = {
            "name": "Info",
            "segment_id": seg.id,
            "text": "Info resmi hanya di https://bankaman.co.id",
        }
        async with s.post(api, json=good) as r:
            assert r.status == 201, await r.text()
    actions = [a for a, _, _ in audit(ctx)]
    assert "campaign_blocked" in actions and actions[-2:] == ["campaign_create", "campaign_start"]
