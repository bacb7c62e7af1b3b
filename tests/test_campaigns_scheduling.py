"""Scheduling with a controllable clock: once, cron, quiet hours, lead, several schedulers."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aman.campaigns import (
    CampaignInputError,
    CampaignService,
    CampaignStateError,
    SegmentService,
    SettingsService,
    TemplateRegistry,
    run_due,
)
from aman.campaigns.schedule import next_quiet_start, parse_hhmm, quiet_until
from test_campaigns_support import (
    PNID,
    T0,
    Clock,
    campaign_ctx,
    import_contacts,
    numbers,
    one,
    outbox,
    q,
    send_all,
)

JKT = ZoneInfo("Asia/Jakarta")


def local(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> float:
    return datetime(y, m, d, hh, mm, ss, tzinfo=JKT).timestamp()


def setup_campaign(
    ctx: Any,
    tmp_path: Path,
    n: int,
    *,
    category: str = "marketing",
    quiet: str = "off",
    tier: int | str | None = None,
) -> int:
    import_contacts(
        ctx, tmp_path, [f"{p},Pelanggan {i},promo,ya" for i, p in enumerate(numbers(n))]
    )
    SettingsService(ctx).update("staff:ani", quiet_hours=quiet, tier_limit=tier)
    TemplateRegistry(ctx).register(
        "staff:ani",
        name="promo",
        language="id",
        category=category,
        status="APPROVED",
        components=[{"type": "BODY", "text": "Halo {{1}}"}],
    )
    seg = SegmentService(ctx).create("staff:ani", "promo", {"tag": "promo"})
    return CampaignService(ctx).create(
        "staff:ani",
        name="Promo",
        segment_id=seg.id,
        phone_number_id=PNID,
        template=("promo", "id"),
        variables={"body": ["{first_name|Kak}"]},
    )


def test_quiet_hours_arithmetic() -> None:
    start, end = parse_hhmm("21:00"), parse_hhmm("08:00")
    assert quiet_until(local(2026, 1, 1, 20, 59, 59), JKT, start, end) is None
    assert quiet_until(local(2026, 1, 1, 21), JKT, start, end) == local(2026, 1, 2, 8)
    assert quiet_until(local(2026, 1, 2, 3), JKT, start, end) == local(2026, 1, 2, 8)
    assert quiet_until(local(2026, 1, 2, 8), JKT, start, end) is None
    assert next_quiet_start(local(2026, 1, 2, 8), JKT, start, end) == local(2026, 1, 2, 21)
    day = (parse_hhmm("12:00"), parse_hhmm("13:00"))
    assert quiet_until(local(2026, 1, 2, 12, 30), JKT, *day) == local(2026, 1, 2, 13)
    assert quiet_until(local(2026, 1, 2, 13, 30), JKT, *day) is None
    assert quiet_until(local(2026, 1, 2, 12), JKT, None, None) is None
    with pytest.raises(CampaignInputError):
        parse_hhmm("25:00")


def test_one_off_campaign_runs_once_at_its_time(tmp_path: Path, db_url: str) -> None:
    clock = Clock(T0)
    with campaign_ctx(db_url, clock) as ctx:
        cid = setup_campaign(ctx, tmp_path, 5)
        svc = CampaignService(ctx)
        assert svc.start("staff:ani", cid, at=T0 + 3600) == T0 + 3600
        with pytest.raises(CampaignStateError):
            svc.start("staff:ani", cid)
        assert run_due(ctx.engine, ctx.vault, T0 + 3599).queued == 0
        assert one(ctx, "select count(*) from campaign_runs") == 0
        report = run_due(ctx.engine, ctx.vault, T0 + 3600)
        assert (report.runs_started, report.queued) == (1, 5)
        rows = outbox(ctx)
        assert [r[0] for r in rows] == [f"b1.{i}" for i in range(1, 6)]
        body = rows[0][3]["msg"]
        assert body["to"] == "6281200000000" and body["type"] == "template"
        assert body["template"]["components"][0]["parameters"][0]["text"] == "Pelanggan"
        for later in (T0 + 3601, T0 + 7200, T0 + 86400):
            assert run_due(ctx.engine, ctx.vault, later).queued == 0
        assert one(ctx, "select count(*) from campaign_runs") == 1
        assert one(ctx, "select state from campaigns") == "active"
        send_all(ctx, T0 + 3700)
        assert run_due(ctx.engine, ctx.vault, T0 + 3800).runs_finished == 1
        assert one(ctx, "select state from campaigns") == "done"
        assert one(ctx, "select count(*) from outbox") == 5


def test_cron_campaign_recurs_and_never_catches_up(tmp_path: Path, db_url: str) -> None:
    clock = Clock(local(2026, 1, 1, 9))  # a Thursday
    with campaign_ctx(db_url, clock) as ctx:
        cid = setup_campaign(ctx, tmp_path, 3)
        svc = CampaignService(ctx)
        first = svc.start("staff:ani", cid, cron="0 10 * * 1")  # Mondays 10:00 Jakarta
        assert first == local(2026, 1, 5, 10)
        assert run_due(ctx.engine, ctx.vault, local(2026, 1, 5, 9, 59)).runs_started == 0
        assert run_due(ctx.engine, ctx.vault, local(2026, 1, 5, 10)).queued == 3
        assert one(ctx, "select next_run_at from campaigns") == local(2026, 1, 12, 10)
        send_all(ctx, local(2026, 1, 5, 10, 5))
        # The scheduler is down for three weeks: one run, then the next future Monday.
        report = run_due(ctx.engine, ctx.vault, local(2026, 1, 28, 15))
        assert report.runs_started == 1 and report.queued == 3
        assert one(ctx, "select next_run_at from campaigns") == local(2026, 2, 2, 10)
        assert one(ctx, "select count(*) from campaign_runs") == 2
        assert one(ctx, "select state from campaigns") == "active"  # recurring: never done
        with pytest.raises(CampaignInputError, match="five-field"):
            c2 = svc.create(
                "staff:ani",
                name="x",
                segment_id=1,
                phone_number_id=PNID,
                template=("promo", "id"),
                variables={"body": ["a"]},
            )
            svc.start("staff:ani", c2, cron="*/5 * * * * *")


def test_quiet_hours_defer_marketing_and_withdraw_queued(tmp_path: Path, db_url: str) -> None:
    start = local(2026, 1, 1, 20, 59, 58)
    clock = Clock(start)
    with campaign_ctx(db_url, clock) as ctx:
        cid = setup_campaign(ctx, tmp_path, 30, quiet="21:00-08:00")
        CampaignService(ctx).start("staff:ani", cid)
        # Two seconds before 21:00 at 5 messages/s: only what can go out before 21:00.
        assert run_due(ctx.engine, ctx.vault, start, send_rate=5).queued == 10
        assert run_due(ctx.engine, ctx.vault, local(2026, 1, 1, 21), send_rate=5).queued == 0
        assert one(ctx, "select count(*) from outbox") == 0  # withdrawn: nothing at night
        assert q(ctx, "select state, count(*) from campaign_recipients group by state") == [
            ("held", 10)
        ]
        assert q(ctx, "select hold_reason, not_before from campaign_runs") == [
            ("quiet_hours", local(2026, 1, 2, 8))
        ]
        assert run_due(ctx.engine, ctx.vault, local(2026, 1, 2, 3), send_rate=100).queued == 0
        morning = run_due(ctx.engine, ctx.vault, local(2026, 1, 2, 8), send_rate=100)
        assert morning.queued == 30  # the held ten first, then the rest
        refs = sorted(r[0] for r in outbox(ctx))
        assert refs == sorted(f"b1.{i}" for i in range(1, 31))


def test_quiet_hours_do_not_hold_utility_messages(tmp_path: Path, db_url: str) -> None:
    night = local(2026, 1, 1, 23)
    with campaign_ctx(db_url, Clock(night)) as ctx:
        cid = setup_campaign(ctx, tmp_path, 4, category="utility", quiet="21:00-08:00")
        CampaignService(ctx).start("staff:ani", cid)
        assert run_due(ctx.engine, ctx.vault, night).queued == 4


def test_materialisation_stays_a_bounded_lead_ahead(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        cid = setup_campaign(ctx, tmp_path, 260)
        CampaignService(ctx).start("staff:ani", cid)
        kw: dict[str, Any] = {"send_rate": 100, "lead_seconds": 1.0, "batch": 40}
        assert run_due(ctx.engine, ctx.vault, T0, **kw).queued == 100
        assert run_due(ctx.engine, ctx.vault, T0 + 1, **kw).queued == 0  # the sender is behind
        send_all(ctx, T0 + 1)
        assert run_due(ctx.engine, ctx.vault, T0 + 2, **kw).queued == 100
        send_all(ctx, T0 + 3)
        assert run_due(ctx.engine, ctx.vault, T0 + 4, **kw).queued == 60
        send_all(ctx, T0 + 5)
        assert run_due(ctx.engine, ctx.vault, T0 + 6, **kw).runs_finished == 1
        assert one(ctx, "select count(distinct ref) from outbox") == 260


def test_several_schedulers_never_send_twice(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        cid = setup_campaign(ctx, tmp_path, 120)
        CampaignService(ctx).start("staff:ani", cid, at=T0 + 10)
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def worker(n: int) -> None:
            try:
                barrier.wait()
                for step in range(3):
                    run_due(
                        ctx.engine,
                        ctx.vault,
                        T0 + 10 + step,
                        owner=f"w{n}",
                        batch=25,
                        send_rate=1000,
                    )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert one(ctx, "select count(*) from campaign_runs") == 1
        assert one(ctx, "select count(*) from outbox") == 120
        assert one(ctx, "select count(distinct contact_ix) from outbox") == 120
        assert one(ctx, "select count(*) from campaign_recipients where state = 'queued'") == 120
        # A repeated step after a "crash" (cursor rewound) queues nobody twice.
        with ctx.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("update campaign_runs set cursor = 0, exhausted = :f"), {"f": False})
        run_due(ctx.engine, ctx.vault, T0 + 20, send_rate=1000)
        assert one(ctx, "select count(*) from outbox") == 120
