"""Analytics figures against a scripted set of conversations whose answers are worked out here."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from aman.analytics import analytics_report, render_csv, render_html, render_json
from aman.campaigns import (
    CampaignService,
    ContactBook,
    SegmentService,
    SettingsService,
    TemplateRegistry,
    run_due,
)
from test_campaigns_support import Clock, campaign_ctx

JKT = ZoneInfo("Asia/Jakarta")
P1, P2 = "106540352242922", "106540352242933"


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> float:
    """Local time on 2026-01-05 (day 1) / 2026-01-06 (day 2); day 0 is 2026-01-04."""
    return datetime(2026, 1, 4 + day, hh, mm, ss, tzinfo=JKT).timestamp()


W0, W1 = at(1, 0), at(3, 0)  # the report window: two whole days
NUM = {
    "A": "6281200000001",
    "B": "6281200000002",
    "C": "6281200000003",
    "D": "6281200000004",
    "E": "6281200000005",
    "F": "6281200000006",
}
PN = {"A": P1, "B": P1, "C": P2, "D": P2, "E": P1, "F": P1}
# (contact, time, kind, text or None, expected intent). kind: in | image | bot | agent |
# handoff | close.  Bot replies answer the contact's latest inbound message.
SCRIPT: list[tuple[str, float, str, str | None, str | None]] = [
    ("D", at(0, 23, 50), "in", "halo", "greeting"),
    ("D", at(0, 23, 51), "bot", None, None),
    ("D", at(1, 0, 5), "in", "ok", "fallback"),
    ("A", at(1, 9, 0, 0), "in", "halo", "greeting"),
    ("A", at(1, 9, 0, 2), "bot", None, None),
    ("A", at(1, 9, 5, 0), "in", "saldo brp", "check_balance"),
    ("A", at(1, 9, 5, 1), "bot", None, None),
    ("B", at(1, 13, 0, 0), "in", "halo", "greeting"),
    ("B", at(1, 13, 0, 1), "bot", None, None),
    ("B", at(1, 13, 0, 1), "handoff", None, None),
    ("B", at(1, 13, 4, 1), "agent", None, None),
    ("B", at(1, 13, 10), "in", "agen dong", "human_agent"),
    ("B", at(1, 13, 12), "agent", None, None),
    ("B", at(1, 14, 20), "in", "masih nunggu", "fallback"),
    ("B", at(1, 14, 30), "close", None, None),
    ("F", at(1, 15, 0, 0), "in", "cs", "human_agent"),
    ("F", at(1, 15, 0, 2), "bot", None, None),
    ("F", at(1, 15, 0, 2), "handoff", None, None),
    ("F", at(1, 15, 1), "image", None, None),
    ("C", at(1, 20, 0), "in", "stop promo", "opt_out"),
    ("A", at(2, 10, 0, 0), "in", "mau transfer", "transfer"),
    ("A", at(2, 10, 0, 3), "bot", None, None),
    ("E", at(2, 23, 59, 59), "in", "blokir kartu", "block_card"),
    ("E", at(3, 0, 0, 5), "bot", None, None),
]
LABELS = {t: label for _, _, kind, t, label in SCRIPT if kind == "in" and t and label}


def build(ctx: Any) -> dict[str, str]:
    """Write the script as the pipeline would have: inbox, outbox, ledger, states."""
    v = ctx.vault
    ix = {k: v.contact_index(n) for k, n in NUM.items()}
    book = ContactBook(ctx)
    for k, n in NUM.items():
        book.upsert("staff:test", n, name=f"Pelanggan {k}")
    campaign(ctx, ix)  # before the scripted ledger entries below
    last_in: dict[str, int] = {}
    seq = 100_000  # after the entries the contact book wrote
    with ctx.engine.begin() as conn:
        for n, (who, ts, kind, body, _) in enumerate(SCRIPT):
            if kind in ("in", "image"):
                wamid = f"wamid.{n}"
                payload = {
                    "wa": NUM[who],
                    "type": "text" if kind == "in" else "image",
                    "text": body,
                }
                row = conn.execute(
                    text(
                        "insert into inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
                        "payload_enc, msg_ts, received_at, status, attempts, not_before) values "
                        "('default', :p, :w, :ix, :t, :b, :ts, :r, 'done', 1, 0) returning id"
                    ),
                    {
                        "p": PN[who],
                        "w": wamid,
                        "ix": ix[who],
                        "t": payload["type"],
                        "b": v.seal_json("inbox", "payload", wamid, payload),
                        "ts": int(ts),
                        "r": ts,
                    },
                ).scalar_one()
                last_in[who] = int(row)
                conn.execute(
                    text(  # its read receipt: never counted as a message
                        "insert into outbox (tenant, phone_number_id, ref, inbox_id, seq, kind, "
                        "contact_ix, body_enc, state, attempts, next_attempt_at, status_rank, "
                        "created_at, sent_at) values ('default', :p, :ref, :i, 0, 'read', :ix, :b, "
                        "'sent', 1, 0, 0, :t, :t)"
                    ),
                    {"p": PN[who], "ref": f"r{row}", "i": row, "ix": ix[who], "b": b"x", "t": ts},
                )
            elif kind in ("bot", "agent"):
                inbox_id = last_in[who] if kind == "bot" else None
                ref = f"m{inbox_id}.{n}" if kind == "bot" else f"a{n}"
                conn.execute(
                    text(
                        "insert into outbox (tenant, phone_number_id, ref, inbox_id, seq, kind, "
                        "contact_ix, body_enc, state, attempts, next_attempt_at, status_rank, "
                        "created_at, sent_at) values ('default', :p, :ref, :i, :s, 'message', :ix, "
                        ":b, 'sent', 1, 0, 1, :t, :t)"
                    ),
                    {
                        "p": PN[who],
                        "ref": ref,
                        "i": inbox_id,
                        "s": n,
                        "ix": ix[who],
                        "b": b"x",
                        "t": ts,
                    },
                )
            else:
                conn.execute(
                    text(
                        "insert into audit_entries (seq, ts, tenant, actor, action, target, "
                        "details, leaf_hash) values "
                        "(:seq, :ts, 'default', 'bot:bank', :a, :t, '{}', :h)"
                    ),
                    {
                        "seq": seq,
                        "ts": ts,
                        "a": "handoff" if kind == "handoff" else "handoff_closed",
                        "t": f"contact:{ix[who][:12]}",
                        "h": b"h",
                    },
                )
                seq += 1
        conn.execute(
            text(  # a conversation event (timer): not a customer message
                "insert into inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
                "payload_enc, msg_ts, received_at, status, attempts, not_before) values "
                "('default', :p, 'ev.1', :ix, 'event', :b, 0, :r, 'done', 1, 0)"
            ),
            {"p": P1, "ix": ix["A"], "b": b"x", "r": at(1, 11)},
        )
        states = {
            "A": (["balance", "ask_pin", "ask"], at(1, 9, 5, 1)),
            "B": (["menu", "choose", "ask"], at(2, 23, 59)),
            "C": (None, at(1, 20, 0)),
            "E": (["block_card", "confirm", "ask"], at(2, 23, 59, 59)),
        }
        for who, (frame, updated) in states.items():
            conn.execute(
                text(
                    "insert into conversations (tenant, phone_number_id, contact_ix, state_enc, "
                    "updated_at, mode) values ('default', :p, :ix, :s, :u, 'bot')"
                ),
                {
                    "p": PN[who],
                    "ix": ix[who],
                    "u": updated,
                    "s": v.seal_json(
                        "conversations", "state", f"{PN[who]}:{ix[who]}", {"v": 1, "frame": frame}
                    ),
                },
            )
    return ix


def campaign(ctx: Any, ix: dict[str, str]) -> None:
    """A utility broadcast to A, B and C at 08:00 on day 1: delivered, failed, read."""
    SettingsService(ctx).update("staff:test", tier_limit=None, quiet_hours="off")
    TemplateRegistry(ctx).register(
        "staff:test",
        name="info",
        language="id",
        category="utility",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Info untuk Anda"}],
    )
    book = ContactBook(ctx)
    for who in "ABC":
        book.set_tags("staff:test", book.find(NUM[who]) or 0, add=["info"])
    seg = SegmentService(ctx).create("staff:test", "info", {"tag": "info"})
    svc = CampaignService(ctx)
    cid = svc.create(
        "staff:test",
        name="Info <b>Januari</b>",
        segment_id=seg.id,
        phone_number_id=P1,
        template=("info", "id"),
        variables={},
    )
    svc.start("staff:test", cid, at=at(1, 8))
    assert run_due(ctx.engine, ctx.vault, at(1, 8)).queued == 3
    plan = {
        "A": ("sent", "delivered", None, at(1, 8, 0, 10)),
        "B": ("failed", None, 131026, None),
        "C": ("sent", "read", None, at(1, 8, 0, 10)),
    }
    with ctx.engine.begin() as conn:
        for who, (state, status, code, sent) in plan.items():
            conn.execute(
                text(
                    "update outbox set state = :s, delivery_status = :d, "
                    "error_code = :e, sent_at = :t where contact_ix = :ix "
                    "and ref like 'b%'"
                ),
                {"s": state, "d": status, "e": code, "t": sent, "ix": ix[who]},
            )


def expected_volume() -> dict[str, Any]:
    """Volume worked out from the script alone."""
    days: dict[str, Counter[str]] = {}
    hours: Counter[tuple[int, str]] = Counter()
    numbers: dict[str, Counter[str]] = {}
    for who, ts, kind, _, _ in SCRIPT:
        if not W0 <= ts < W1 or kind not in ("in", "image", "bot", "agent"):
            continue
        way = "inbound" if kind in ("in", "image") else "outbound"
        local = datetime.fromtimestamp(ts, JKT)
        days.setdefault(local.date().isoformat(), Counter())[way] += 1
        hours[(local.hour, way)] += 1
        numbers.setdefault(PN[who], Counter())[way] += 1
    # The campaign: two messages sent at 08:00:10 on day 1 from P1 (the failed one never left).
    days["2026-01-05"]["outbound"] += 2
    hours[(8, "outbound")] += 2
    numbers[P1]["outbound"] += 2
    return {"days": days, "hours": hours, "numbers": numbers}


def test_figures_match_the_script(db_url: str) -> None:
    with campaign_ctx(db_url, Clock(at(1, 7))) as ctx:
        build(ctx)
        classify_calls: list[str] = []

        def classify(pnid: str, body: str) -> str:
            classify_calls.append(pnid)
            return LABELS.get(body, "fallback")

        report = analytics_report(
            ctx.engine, ctx.vault, W0, W1, classify=classify, now=at(3, 0, 10)
        )
    vol = report["volume"]
    want = expected_volume()
    assert vol["inbound"] == 11 and vol["outbound"] == 9
    assert {d["day"]: (d["inbound"], d["outbound"]) for d in vol["by_day"]} == {
        day: (c["inbound"], c["outbound"]) for day, c in want["days"].items()
    }
    assert {d["day"]: (d["inbound"], d["outbound"]) for d in vol["by_day"]} == {
        "2026-01-05": (9, 8),
        "2026-01-06": (2, 1),
    }
    assert [(h["hour"], h["inbound"], h["outbound"]) for h in vol["by_hour"]] == [
        (h, want["hours"][(h, "inbound")], want["hours"][(h, "outbound")]) for h in range(24)
    ]
    assert vol["by_number"] == {
        P1: {"inbound": 9, "outbound": 9},
        P2: {"inbound": 2, "outbound": 0},
    }
    assert vol["outbound_by_source"] == {"agent": 2, "bot": 5, "campaign": 2}
    assert report["contacts"] == {"active": 6, "new": 5}  # D first wrote the day before

    conv = report["conversations"]
    # Sessions: A day 1, A day 2, B (one session: the handoff stays open over the gap), F, C,
    # E; D's conversation began before the window.
    assert conv["sessions"] == 6
    assert conv["handoffs"] == 2 and conv["unresolved_handoffs"] == 1
    assert conv["handoff_rate"] == pytest.approx(2 / 6)
    assert conv["containment_rate"] == pytest.approx(4 / 6)
    bot_frt = [2, 3, 1, 2, 6]  # A1, A2, B, F, E (C got no reply)
    assert conv["bot_first_response_s"] == {
        "count": 5,
        "mean": pytest.approx(sum(bot_frt) / 5),
        "median": 2,
        "p90": 6,
    }
    assert conv["human_first_response_s"]["count"] == 1
    assert conv["human_first_response_s"]["mean"] == pytest.approx(240)
    assert conv["bot_resolution_s"]["count"] == 3  # A1 301 s, A2 3 s, E 6 s
    assert conv["bot_resolution_s"]["median"] == pytest.approx(6)
    assert conv["bot_resolution_s"]["mean"] == pytest.approx((301 + 3 + 6) / 3)
    assert conv["human_resolution_s"]["median"] == pytest.approx(5400)  # 13:00 -> 14:30

    intents = report["intents"]
    in_window = [label for _, ts, kind, _, label in SCRIPT if kind == "in" and W0 <= ts < W1]
    assert intents["distribution"] == dict(Counter(in_window))
    assert intents["total"] == 10 == len(classify_calls)
    assert intents["fallback_rate"] == pytest.approx(in_window.count("fallback") / 10)

    flows = report["flows"]["flows"]
    assert flows["balance"] == {
        "conversations": 1,
        "at_step": {"ask_pin": 1},
        "stalled_at_step": {"ask_pin": 1},
    }
    assert flows["menu"]["stalled_at_step"] == {}  # B is waiting, but only for 70 s
    assert flows["block_card"]["at_step"] == {"confirm": 1}

    [camp] = report["campaigns"]
    assert (camp["queued"], camp["sent"], camp["delivered"], camp["read"], camp["failed"]) == (
        3,
        2,
        2,
        1,
        1,
    )
    assert camp["replied"] == 2  # A wrote at 09:00, C at 20:00, both within 72 h
    assert camp["error_codes"] == {"131026": 1}
    assert camp["statuses"] == {"failed": 1, "replied": 2}


def test_an_empty_window_reports_zeros(db_url: str) -> None:
    with campaign_ctx(db_url, Clock(at(1, 7))) as ctx:
        build(ctx)
        empty = analytics_report(ctx.engine, ctx.vault, W0 - 30 * 86400, W0 - 29 * 86400)
        assert empty["volume"]["inbound"] == 0 and empty["conversations"]["sessions"] == 0
        assert empty["conversations"]["containment_rate"] is None
        assert empty["campaigns"] == [] and not empty["intents"]["available"]
        with pytest.raises(ValueError):
            analytics_report(ctx.engine, ctx.vault, W1, W0)
        assert "<svg" in render_html(empty)


def test_renderings(db_url: str, tmp_path: Path) -> None:
    with campaign_ctx(db_url, Clock(at(1, 7))) as ctx:
        build(ctx)
        report = analytics_report(
            ctx.engine,
            ctx.vault,
            W0,
            W1,
            phone_number_id=P1,
            classify=lambda p, t: LABELS.get(t, "fallback"),
        )
    assert report["volume"]["inbound"] == 9 and set(report["volume"]["by_number"]) == {P1}
    page = render_html(report)
    assert (
        page.count("<svg") >= 4
        and "<script" not in page
        and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    assert "Info &lt;b&gt;Januari&lt;/b&gt;" in page and "<b>Januari</b>" not in page
    assert "default-src 'none'" in page
    for number in NUM.values():
        assert number not in page
    heights = [
        float(h)
        for h in re.findall(
            r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" '
            r'height="([\d.]+)" fill="#2563eb">',
            page,
        )
    ]
    assert heights and max(heights) > 0
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert rows[0] == ["section", "name", "metric", "value"]
    assert ["volume", "total", "inbound", "9"] in rows
    assert any(r[0] == "campaigns" and r[1].endswith("Info <b>Januari</b>") for r in rows)
    assert '"inbound": 9' in render_json(report)
