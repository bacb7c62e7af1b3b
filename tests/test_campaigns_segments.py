"""Segment rules: validation on save, SQL and Python evaluation agree, dynamic vs static."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aman.campaigns import ContactBook, ContactImporter, SegmentRuleError, SegmentService
from aman.campaigns.audience_repository import exact
from aman.campaigns.rules import DAY, evaluate, parse_rule
from aman.campaigns.segments import Audience, facts_for
from test_campaigns_support import T0, Clock, campaign_ctx, q


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({}, "JSON object"),
        ([], "JSON object"),
        ({"all": []}, "non-empty list"),
        ({"tag": ""}, "1 to 64"),
        ({"attr": "city", "op": "eq", "value": "x"}, "unknown attribute"),
        ({"attr": "orders_count", "op": "contains", "value": 1}, "supports"),
        ({"attr": "orders_count", "op": "gt", "value": "lots"}, "must be a number"),
        ({"attr": "last_inbound", "op": "within_days", "value": -1}, "between 0 and 36500"),
        ({"attr": "marketing", "op": "eq", "value": "maybe"}, "granted, denied, unknown"),
        ({"attr": "opted_out", "op": "eq", "value": "no"}, "true or false"),
        ({"field": "kota", "op": "like", "value": "x"}, "custom fields support"),
        ({"field": "kota", "op": "in", "value": []}, "1 to 100 values"),
        ({"tag": "vip", "extra": 1}, "unexpected key"),
        ({"intent": "check_balance"}, "intent rules are not available"),
        ({"whatever": 1}, "unknown rule"),
        ("{not json", "not valid JSON"),
        (
            {
                "not": {
                    "not": {
                        "not": {"not": {"not": {"not": {"not": {"not": {"not": {"tag": "x"}}}}}}}
                    }
                }
            },
            "nest at most",
        ),
    ],
)
def test_bad_rules_are_refused_with_a_path(rule: Any, message: str) -> None:
    with pytest.raises(SegmentRuleError) as exc:
        parse_rule(rule)
    assert message in str(exc.value)
    assert str(exc.value).startswith("$")


def test_error_path_points_into_the_tree() -> None:
    with pytest.raises(SegmentRuleError) as exc:
        parse_rule({"all": [{"tag": "a"}, {"any": [{"tag": "b"}, {"attr": "x", "op": "eq"}]}]})
    assert exc.value.path == "$.all[1].any[1].attr"


RULES: list[dict[str, Any]] = [
    {"tag": "vip"},
    {"not": {"tag": "vip"}},
    {"attr": "language", "op": "eq", "value": "EN"},
    {"attr": "language", "op": "ne", "value": "en"},
    {"attr": "language", "op": "in", "value": ["id", "jv"]},
    {"attr": "language", "op": "exists"},
    {"attr": "orders_count", "op": "gte", "value": 2},
    {"attr": "orders_count", "op": "eq", "value": 0},
    {"attr": "orders_total", "op": "lt", "value": 150000},
    {"attr": "last_inbound", "op": "within_days", "value": 7},
    {"attr": "last_inbound", "op": "older_than_days", "value": 30},
    {"attr": "last_inbound", "op": "never"},
    {"attr": "last_order", "op": "within_days", "value": 10},
    {"attr": "last_order", "op": "never"},
    {"attr": "marketing", "op": "eq", "value": "granted"},
    {"attr": "marketing", "op": "in", "value": ["denied", "unknown"]},
    {"attr": "opted_out", "op": "eq", "value": True},
    {"attr": "number_valid", "op": "eq", "value": False},
    {"all": [{"tag": "vip"}, {"attr": "orders_count", "op": "gt", "value": 1}]},
    {"any": [{"tag": "new"}, {"not": {"attr": "marketing", "op": "eq", "value": "denied"}}]},
    {"field": "kota", "op": "eq", "value": "jakarta"},
    {"field": "kota", "op": "in", "value": ["Bandung", "Depok"]},
    {"field": "kota", "op": "contains", "value": "JAK"},
    {"field": "poin", "op": "gt", "value": 50},
    {"field": "poin", "op": "exists"},
    {"all": [{"tag": "vip"}, {"field": "kota", "op": "ne", "value": "Jakarta"}]},
    {"any": [{"tag": "new"}, {"field": "poin", "op": "lte", "value": 10}]},
    {"not": {"any": [{"field": "kota", "op": "eq", "value": "Depok"}, {"tag": "vip"}]}},
]


def _populate(ctx: Any, tmp_path: Path, rng: random.Random, n: int) -> None:
    """n contacts with random tags, fields, orders, consent, activity (one import, one update)."""
    lines = ["phone,tags,kota,poin,language,orders,total_spent,last_order_at,consent"]
    for i in range(n):
        tags = "|".join(t for t in ("vip", "new", "lapsed") if rng.random() < 0.4)
        kota = rng.choice(["Jakarta", "jakarta", "Bandung", "Depok", "Jakarta Barat"])
        kota = kota if rng.random() < 0.7 else ""
        poin = str(rng.choice([0, 5, 10, 51, 100])) if rng.random() < 0.5 else ""
        orders = rng.choice([0, 0, 1, 2, 3])
        last = int(T0 - rng.uniform(0, 20) * DAY) if orders else ""
        consent = rng.choice(["", "", "ya", "tidak"])
        lang = rng.choice(["", "id", "en", "jv"])
        lines.append(
            f"0812{i:08d},{tags},{kota},{poin},{lang},{orders},{orders * 75000},{last},{consent}"
        )
    path = tmp_path / "acak.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not ContactImporter(ctx).import_file("staff:ani", path).rejected
    with ctx.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("select id from contacts order by id"))]
        conn.execute(
            text("update contacts set last_inbound_at = :t, opted_out = :o where id = :i"),
            [
                {
                    "t": rng.choice([0.0, T0 - 2 * DAY, T0 - 10 * DAY, T0 - 60 * DAY]),
                    "o": rng.random() < 0.15,
                    "i": i,
                }
                for i in ids
            ],
        )
        conn.execute(
            text("update contact_profiles set number_valid = :v where contact_id = :i"),
            [{"v": rng.random() > 0.1, "i": i} for i in ids],
        )


def test_sql_and_python_evaluation_agree(db_url: str, tmp_path: Path) -> None:
    """Every rule counted in SQL (when possible) equals the Python evaluation per contact."""
    clock = Clock(T0)
    with campaign_ctx(db_url, clock) as ctx:
        _populate(ctx, tmp_path, random.Random(7), 80)
        audience = Audience(ctx.vault, ctx.dialect)
        with ctx.engine.connect() as conn:
            everyone, _, _ = audience.scan(
                conn, rule=None, static_segment=None, now=T0, after_id=0, limit=1000
            )
            tags = audience.contacts.tags_for(conn, [c.id for c in everyone])
            for raw in RULES:
                rule = parse_rule(raw)
                want = sorted(
                    c.id
                    for c in everyone
                    if evaluate(rule, facts_for(ctx.vault, c, tags.get(c.id, ())), T0)
                )
                assert audience.count(conn, rule, T0) == len(want), raw
                got, after = [], 0
                while True:  # small batches exercise the cursor
                    batch, after, done = audience.scan(
                        conn, rule=rule, static_segment=None, now=T0, after_id=after, limit=7
                    )
                    got += [c.id for c in batch]
                    if done:
                        break
                assert got == want, raw
                assert (exact(rule, T0) is None) == ("field" in str(raw)), raw
        assert len(everyone) == 80


def test_dynamic_follows_changes_static_keeps_its_snapshot(db_url: str) -> None:
    clock = Clock(T0)
    with campaign_ctx(db_url, clock) as ctx:
        book = ContactBook(ctx)
        segs = SegmentService(ctx)
        a = book.upsert("staff:ani", "081200000001", tags=["vip"])
        book.upsert("staff:ani", "081200000002")
        dyn = segs.create("staff:ani", "vip dinamis", {"tag": "vip"})
        stat = segs.create("staff:ani", "vip statis", {"tag": "vip"}, kind="static")
        assert (segs.size(dyn.id), segs.size(stat.id), stat.size) == (1, 1, 1)
        b = book.upsert("staff:ani", "081200000003", tags=["vip"])
        assert (segs.size(dyn.id), segs.size(stat.id)) == (2, 1)
        book.set_tags("staff:ani", a, remove=["vip"])
        assert (segs.size(dyn.id), segs.size(stat.id)) == (1, 1)
        clock.advance(60)
        snap = segs.snapshot("staff:ani", stat.id)
        assert snap.size == 1 and snap.snapshot_at == T0 + 60
        assert [r[0] for r in q(ctx, "select contact_id from segment_members")] == [b]
        assert segs.preview({"attr": "orders_count", "op": "eq", "value": 0}) == 3
        with pytest.raises(SegmentRuleError):
            segs.create("staff:ani", "rusak", {"intent": "x"})
        with pytest.raises(Exception, match="already exists"):
            segs.create("staff:ani", "vip dinamis", {"tag": "vip"})
        updated = segs.update_rules("staff:ani", dyn.id, {"not": {"tag": "vip"}})
        assert updated.rules == {"not": {"tag": "vip"}} and segs.size(dyn.id) == 2
        actions = [r[0] for r in q(ctx, "select action from audit_entries order by seq")]
        assert actions.count("segment_create") == 2
        assert {"segment_snapshot", "segment_update"} <= set(actions)
