"""Broadcasts: exclusions, opt-out at send time, tiers, pause/resume/cancel, statuses, audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aman.campaigns import (
    CampaignService,
    CampaignStateError,
    ContactBook,
    SegmentService,
    SettingsService,
    TemplateRegistry,
    TemplateUnusableError,
    run_due,
)
from aman.campaigns.scheduler import fire_schedules
from aman.contacts.repository import ContactRepository
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

DAY = 86400.0


def register(ctx: Any, name: str = "promo", category: str = "marketing") -> None:
    TemplateRegistry(ctx).register(
        "staff:ani",
        name=name,
        language="id",
        category=category,
        status="APPROVED",
        components=[{"type": "BODY", "text": "Halo {{1}}"}],
    )


def campaign(
    ctx: Any,
    seg: int,
    *,
    name: str = "Promo",
    template: str | None = "promo",
    text_: str | None = None,
    body: str = "{first_name|Kak}",
) -> int:
    return CampaignService(ctx).create(
        "staff:ani",
        name=name,
        segment_id=seg,
        phone_number_id=PNID,
        template=(template, "id") if template else None,
        variables={"body": [body]} if template else None,
        text=text_,
    )


def ids_by_number(ctx: Any, nums: list[str]) -> list[int]:
    book = ContactBook(ctx)
    return [book.find(n) or 0 for n in nums]


def test_exclusions_and_message_choice(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        nums = numbers(8)
        import_contacts(ctx, tmp_path, [f"{n},Budi {i},all,ya" for i, n in enumerate(nums)])
        SettingsService(ctx).update("staff:ani", quiet_hours="off", tier_limit=None)
        register(ctx)
        c = ids_by_number(ctx, nums)
        book = ContactBook(ctx)
        with ctx.engine.begin() as conn:
            ContactRepository().set_opt_out(
                conn,
                tenant="default",
                contact_ix=book.repo.get(conn, c[0]).contact_ix,  # type: ignore[union-attr]
                opted_out=True,
                source="chat",
                now=T0 - 10,
            )
            book.repo.set_number_valid(conn, c[2], False, T0)
            conn.execute(
                text("update contacts set last_inbound_at = :t where id = :i"),
                {"t": T0 - 3600, "i": c[3]},
            )  # inside the 24-hour window
            conn.execute(text("update contacts set name_enc = null where id = :i"), {"i": c[4]})
        book.set_marketing_consent("customer", c[1], False, source="chat:STOP PROMO")
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        other = campaign(ctx, seg.id, name="Sebelumnya")
        svc = CampaignService(ctx)
        with ctx.engine.begin() as conn:  # contact 5 got another campaign an hour ago
            conn.execute(
                text(
                    "insert into campaign_runs (tenant, campaign_id, scheduled_for, state, "
                    "cursor, exhausted, not_before, lease_until, queued, excluded, consent_seen, "
                    "started_at) "
                    "values ('default', :c, :t, 'done', 0, :y, 0, 0, 1, 0, 0, :t)"
                ),
                {"c": other, "t": T0 - 3600, "y": True},
            )
            conn.execute(
                text(
                    "insert into campaign_recipients (run_id, contact_id, tenant, campaign_id, "
                    "contact_ix, state, kind, ref, queued_at) values (1, :i, 'default', :c, 'x', "
                    "'queued', 'template', 'old', :t)"
                ),
                {"i": c[5], "c": other, "t": T0 - 3600},
            )
        cid = campaign(ctx, seg.id, text_="Hai {first_name}, ada promo!", body="{name}")
        svc.start("staff:ani", cid)
        run_due(ctx.engine, ctx.vault, T0)
        reasons = dict(
            q(
                ctx,
                "select contact_id, reason from campaign_recipients "
                "where campaign_id = :c and state = 'excluded'",
                c=cid,
            )
        )
        assert reasons == {
            c[0]: "opted_out",
            c[1]: "marketing_opt_out",
            c[2]: "invalid_number",
            c[4]: "bad_variables",
            c[5]: "recent_campaign",
        }
        rows = {r[0]: r[3] for r in outbox(ctx)}
        assert set(rows) == {f"b2.{c[3]}", f"b2.{c[6]}", f"b2.{c[7]}"}
        in_window = rows[f"b2.{c[3]}"]
        assert in_window["msg"]["text"]["body"] == "Hai Budi, ada promo!"
        assert in_window["fallback"]["type"] == "template"  # if the window closed meanwhile
        outside = rows[f"b2.{c[6]}"]
        assert outside["msg"]["type"] == "template" and outside["fallback"] is None
        assert outside["msg"]["template"]["components"][0]["parameters"][0]["text"] == "Budi 6"
        # A text-only campaign cannot reach contacts outside the window.
        cid2 = campaign(ctx, seg.id, name="Teks", template=None, text_="Hai!")
        with ctx.engine.begin() as conn:
            conn.execute(
                text("delete from campaign_recipients where campaign_id = :c"), {"c": cid}
            )  # no frequency cap interference
        svc.start("staff:ani", cid2)
        run_due(ctx.engine, ctx.vault, T0 + 1)
        reasons2 = q(
            ctx,
            "select reason, count(*) from campaign_recipients where "
            "campaign_id = :c group by reason order by reason",
            c=cid2,
        )
        assert dict(reasons2) == {
            None: 1,
            "invalid_number": 1,
            "needs_template": 3,
            "opted_out": 1,
            "marketing_opt_out": 1,
            "recent_campaign": 1,
        }


def test_opt_out_after_queueing_is_honoured_at_send_time(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        nums = numbers(6)
        import_contacts(ctx, tmp_path, [f"{n},Sari,all,ya" for n in nums])
        SettingsService(ctx).update("staff:ani", quiet_hours="off", tier_limit=None)
        register(ctx)
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        cid = campaign(ctx, seg.id)
        CampaignService(ctx).start("staff:ani", cid)
        assert run_due(ctx.engine, ctx.vault, T0).queued == 6
        c = ids_by_number(ctx, nums)
        ix = {cid_: one(ctx, "select contact_ix from contacts where id = :i", i=cid_) for cid_ in c}
        with ctx.engine.begin() as conn:  # what the inbox worker does on "STOP"
            ContactRepository().set_opt_out(
                conn,
                tenant="default",
                contact_ix=ix[c[2]],
                opted_out=True,
                source="chat",
                now=T0 + 1,
            )
            conn.execute(
                text("update outbox set state = 'sending', attempts = 1 where ref = :r"),
                {"r": f"b1.{c[4]}"},
            )  # already with the sender
        book = ContactBook(ctx)
        book.set_marketing_consent("customer", c[3], False, source="webhook:user_preferences")
        book.set_marketing_consent("customer", c[4], False, source="webhook:user_preferences")
        report = run_due(ctx.engine, ctx.vault, T0 + 2)
        assert report.excluded == 2
        left = {r[0] for r in outbox(ctx)}
        assert f"b1.{c[2]}" not in left and f"b1.{c[3]}" not in left
        assert f"b1.{c[4]}" in left  # the sender had it: never pulled from under it
        status = CampaignService(ctx).status(cid).runs[0]
        assert status.statuses.get("excluded") == 2
        assert status.excluded_reasons == {"opted_out": 2}


def test_messaging_limit_tier_counts_unique_recipients(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        nums = numbers(260)
        import_contacts(
            ctx, tmp_path, [f"{n},Sari,{'a' if i < 200 else 'b'},ya" for i, n in enumerate(nums)]
        )
        SettingsService(ctx).update(
            "staff:ani", quiet_hours="off", tier_limit=250, frequency_cap_hours=0
        )
        register(ctx)
        segs = SegmentService(ctx)
        every = segs.create("staff:ani", "all", {"any": [{"tag": "a"}, {"tag": "b"}]})
        first = campaign(ctx, every.id)
        svc = CampaignService(ctx)
        svc.start("staff:ani", first)
        kw: dict[str, Any] = {"send_rate": 1000}
        assert run_due(ctx.engine, ctx.vault, T0, **kw).queued == 250
        assert q(ctx, "select hold_reason, not_before from campaign_runs") == [
            ("tier_limit", T0 + DAY)
        ]
        send_all(ctx, T0 + 60)
        # Contacts already messaged today do not count again: a second campaign to them is fine.
        again = campaign(ctx, segs.create("staff:ani", "a", {"tag": "a"}).id, name="Lagi")
        svc.start("staff:ani", again)
        assert run_due(ctx.engine, ctx.vault, T0 + 100, **kw).queued == 200
        send_all(ctx, T0 + 160)
        assert run_due(ctx.engine, ctx.vault, T0 + DAY - 1, **kw).queued == 0
        assert run_due(ctx.engine, ctx.vault, T0 + DAY, **kw).queued == 10  # the window rolled
        assert one(ctx, "select count(distinct contact_ix) from outbox") == 260


def test_pause_resume_cancel(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        nums = numbers(30)
        import_contacts(ctx, tmp_path, [f"{n},Sari,all,ya" for n in nums])
        SettingsService(ctx).update("staff:ani", quiet_hours="off", tier_limit=None)
        register(ctx)
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        cid = campaign(ctx, seg.id)
        svc = CampaignService(ctx)
        with pytest.raises(CampaignStateError):
            svc.pause("staff:ani", cid)  # a draft is not running
        svc.start("staff:ani", cid)
        kw: dict[str, Any] = {"send_rate": 10, "lead_seconds": 2.0, "batch": 10}  # lead 50
        assert run_due(ctx.engine, ctx.vault, T0, **kw).queued == 30
        with ctx.engine.begin() as conn:  # three rows already with the sender
            conn.execute(
                text(
                    "update outbox set state = 'sending', attempts = 1 "
                    "where id in (select id from outbox order by id limit 3)"
                )
            )
        assert svc.pause("staff:ani", cid) == 27
        assert one(ctx, "select count(*) from outbox") == 3
        assert run_due(ctx.engine, ctx.vault, T0 + 1, **kw).queued == 0  # paused: nothing
        paused = CampaignService(ctx).status(cid).runs[0]
        assert paused.statuses == {"queued": 3, "held": 27} and paused.queued == 3
        svc.resume("staff:ani", cid)
        with pytest.raises(CampaignStateError):
            svc.resume("staff:ani", cid)
        assert run_due(ctx.engine, ctx.vault, T0 + 2, **kw).queued == 27
        assert one(ctx, "select count(distinct ref) from outbox") == 30
        assert svc.status(cid).runs[0].queued == 30
        assert svc.cancel("staff:ani", cid) == 27
        assert one(ctx, "select count(*) from outbox") == 3
        st = svc.status(cid)
        assert st.state == "cancelled" and st.runs[0].state == "cancelled"
        assert st.runs[0].statuses == {"queued": 3, "cancelled": 27}
        with pytest.raises(CampaignStateError):
            svc.cancel("staff:ani", cid)
        assert run_due(ctx.engine, ctx.vault, T0 + 3, **kw).queued == 0
        actions = [
            r[0]
            for r in q(
                ctx,
                "select action from audit_entries where target = :t order by seq",
                t=f"campaign:{cid}",
            )
        ]
        assert actions == [
            "campaign_create",
            "campaign_start",
            "campaign_pause",
            "campaign_resume",
            "campaign_cancel",
        ]
        assert "812" not in str(q(ctx, "select target, details from audit_entries"))


def test_paused_template_stops_a_run_and_blocks_resume(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        import_contacts(ctx, tmp_path, [f"{n},Sari,all,ya" for n in numbers(12)])
        SettingsService(ctx).update("staff:ani", quiet_hours="off", tier_limit=None)
        register(ctx)
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        cid = campaign(ctx, seg.id)
        svc = CampaignService(ctx)
        svc.start("staff:ani", cid)
        run_due(ctx.engine, ctx.vault, T0, send_rate=1, lead_seconds=1, batch=5)  # lead 50
        with ctx.engine.begin() as conn:
            conn.execute(text("update message_templates set status = 'PAUSED'"))
        run_due(ctx.engine, ctx.vault, T0 + 1, audit=ctx.audit)
        assert q(ctx, "select state, hold_reason from campaign_runs") == [
            ("paused", "template_paused")
        ]
        assert one(ctx, "select count(*) from outbox") == 0
        with pytest.raises(TemplateUnusableError):
            svc.resume("staff:ani", cid)
        with ctx.engine.begin() as conn:
            conn.execute(text("update message_templates set status = 'APPROVED'"))
        svc.resume("staff:ani", cid)
        assert run_due(ctx.engine, ctx.vault, T0 + 2).queued == 12
        assert "campaign_auto_pause" in [r[0] for r in q(ctx, "select action from audit_entries")]
        # A draft with a paused template cannot start at all.
        with ctx.engine.begin() as conn:
            conn.execute(text("update message_templates set status = 'REJECTED'"))
        other = campaign(ctx, seg.id, name="Lain")
        with pytest.raises(TemplateUnusableError, match="REJECTED"):
            svc.start("staff:ani", other)


def test_recipient_statuses_are_derived(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url, Clock(T0)) as ctx:
        nums = numbers(7)
        import_contacts(ctx, tmp_path, [f"{n},Sari,all,ya" for n in nums])
        SettingsService(ctx).update("staff:ani", quiet_hours="off", tier_limit=None)
        register(ctx)
        seg = SegmentService(ctx).create("staff:ani", "all", {"tag": "all"})
        cid = campaign(ctx, seg.id)
        CampaignService(ctx).start("staff:ani", cid)
        run_due(ctx.engine, ctx.vault, T0)
        c = ids_by_number(ctx, nums)
        plan = {
            c[0]: ("sent", "sent", None),
            c[1]: ("sent", "delivered", None),
            c[2]: ("sent", "read", None),
            c[3]: ("failed", "failed", 131026),
            c[4]: ("sent", "read", None),
            c[5]: ("sent", "delivered", None),
        }
        with ctx.engine.begin() as conn:
            for contact, (state, status, code) in plan.items():
                conn.execute(
                    text(
                        "update outbox set state = :s, delivery_status = :d, "
                        "error_code = :e, sent_at = :t where ref = :r"
                    ),
                    {"s": state, "d": status, "e": code, "t": T0 + 5, "r": f"b1.{contact}"},
                )
            ix4 = conn.execute(
                text("select contact_ix from contacts where id = :i"), {"i": c[4]}
            ).scalar()
            ix5 = conn.execute(
                text("select contact_ix from contacts where id = :i"), {"i": c[5]}
            ).scalar()
            conn.execute(
                text(
                    "insert into inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
                    "payload_enc, msg_ts, received_at, status, attempts, not_before) values "
                    "('default', :p, 'wamid.R', :ix, 'text', :b, 0, :t, 'done', 0, 0)"
                ),
                {"p": PNID, "ix": ix4, "b": b"x", "t": T0 + 60},
            )
            ContactRepository().set_opt_out(
                conn, tenant="default", contact_ix=ix5, opted_out=True, source="chat", now=T0 + 90
            )
        svc = CampaignService(ctx)
        run = svc.status(cid).runs[0]
        assert run.statuses == {
            "sent": 1,
            "delivered": 1,
            "read": 1,
            "failed": 1,
            "replied": 1,
            "opted_out": 1,
            "queued": 1,
        }
        assert run.error_codes == {131026: 1}
        listed = dict((cid_, st) for cid_, st, _ in svc.recipients(run.id))
        assert listed[c[4]] == "replied" and listed[c[6]] == "queued"
        # The page endpoint's service: filtered by status, masked numbers, cursor paging.
        failed = svc.recipient_page(cid, status="failed")
        assert failed.run_id == run.id and failed.next_cursor is None
        [f] = failed.items
        assert (f.contact_id, f.status, f.error_code) == (c[3], "failed", 131026)
        assert f.number_masked == "62*********" + nums[3][-2:]
        seen, cursor = [], 0
        while True:
            page = svc.recipient_page(cid, after=cursor, limit=3)
            seen += [(r.contact_id, r.status) for r in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == sorted(listed.items())
        assert svc.recipient_page(cid, status="held").items == []
        send_all(ctx, T0 + 100)
        run_due(ctx.engine, ctx.vault, T0 + 200)  # finishing marks 131026 numbers invalid
        assert ContactBook(ctx).get("staff:ani", c[3]).number_valid is False
        assert fire_schedules(ctx.engine, ctx.vault, T0 + 300) == 0
