"""A broadcast through the real pipeline: scheduler -> outbox -> sender -> simulator -> statuses."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aman.campaigns import (
    CampaignContext,
    CampaignService,
    ContactBook,
    SegmentService,
    SettingsService,
    TemplateRegistry,
    run_due,
)
from aman.demo import DemoStack
from helpers import scalar, until
from test_campaigns_support import import_contacts, numbers

pytestmark = pytest.mark.anyio


async def test_broadcast_reaches_phones_and_statuses_come_back(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(tmp_path, bot="echo", settings_overrides={"database_url": db_url}) as st:
        rt = st.runtime
        ctx = CampaignContext(rt.engine, rt.vault, rt.audit)
        nums = numbers(12)
        import_contacts(ctx, tmp_path, [f"{n},Pelanggan {i},promo,ya" for i, n in enumerate(nums)])
        wa = ["62" + n[1:] for n in nums]
        await st.phone.send_text(wa[3], "STOP")  # opts out through the bot pipeline
        await until(
            lambda: scalar(st, "select count(*) from contacts where opted_out = :t", t=True) == 1,
            what="opt-out",
        )
        SettingsService(ctx).update("staff:ani", quiet_hours="off", tier_limit=None)
        TemplateRegistry(ctx).register(
            "staff:ani",
            name="promo_bulanan",
            language="id",
            category="marketing",
            status="APPROVED",
            components=[
                {"type": "HEADER", "format": "TEXT", "text": "Promo {{1}}"},
                {"type": "BODY", "text": "Halo {{1}}, ada promo."},
            ],
        )
        seg = SegmentService(ctx).create("staff:ani", "promo", {"tag": "promo"})
        svc = CampaignService(ctx)
        cid = svc.create(
            "staff:ani",
            name="Promo",
            segment_id=seg.id,
            phone_number_id=st.settings.phone_number_id,
            template=("promo_bulanan", "id"),
            variables={"header": ["Januari"], "body": ["{first_name|Kak}"]},
        )
        svc.start("staff:ani", cid)
        report = run_due(
            rt.engine, rt.vault, time.time(), audit=rt.audit, send_rate=st.settings.send_rate
        )
        assert (report.queued, report.excluded) == (11, 1)
        if rt.sender is not None:
            rt.sender.wake.set()
        await st.simulator.wait_for_sent(12, 20)  # 11 promos + the STOP confirmation
        promos = [m for m in st.simulator.sent if m.type == "template"]
        assert len(promos) == 11 and wa[3] not in {m.to for m in promos}
        assert promos[0].body["template"]["components"][1]["parameters"][0]["text"] == "Pelanggan"
        assert not st.simulator.state.rejected

        def statuses() -> dict[str, int]:
            return svc.status(cid).runs[0].statuses

        await until(lambda: statuses().get("read") == 11, timeout=20, what="read statuses")
        await st.phone.send_text(wa[0], "terima kasih!")
        await until(lambda: statuses().get("replied") == 1, timeout=20, what="a reply")
        assert statuses() == {"read": 10, "replied": 1, "excluded": 1}
        book = ContactBook(ctx)
        assert book.get("staff:ani", book.find(nums[3]) or 0).opted_out
