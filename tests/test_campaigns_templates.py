"""Templates: registry validation, variables, Cloud API bodies, status/quality/category webhooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from aman.campaigns import (
    CampaignInputError,
    ContactBook,
    TemplateRegistry,
    TemplateUnusableError,
    process_template_events,
)
from aman.campaigns.templates import check_variables, parse_components, render_values
from aman.simulator.config import TemplateSpec, template_registry
from aman.simulator.validation import validate_send
from aman.storage.models import WebhookEvent
from aman.webhook.ingest import Ingestor
from aman.webhook.parser import parse_webhook
from test_campaigns_support import campaign_ctx, one, q

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
PROMO = [
    {"type": "HEADER", "format": "TEXT", "text": "Promo {{1}}"},
    {"type": "BODY", "text": "Halo {{1}}, diskon untuk Anda."},
    {"type": "FOOTER", "text": "Balas STOP untuk berhenti"},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop promosi"}]},
]


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([], "non-empty list"),
        ([{"type": "HEADER", "text": "x"}], "needs a BODY"),
        ([{"type": "BODY", "text": "{{2}} {{1}}"}], "in order"),
        ([{"type": "BODY", "text": "{{1}} {{nama}}"}], "either"),
        ([{"type": "BODY", "text": "{{nama}} {{nama}}"}], "twice"),
        ([{"type": "BODY", "text": "x"}, {"type": "HEADER", "text": "{{1}} {{2}}"}], "at most one"),
        ([{"type": "BODY", "text": "x"}, {"type": "FOOTER", "text": "{{1}}"}], "no variables"),
        ([{"type": "BODY", "text": "x"}, {"type": "BODY", "text": "y"}], "twice"),
        ([{"type": "BODY", "text": "x" * 1025}], "longer than 1024"),
        (
            [{"type": "BODY", "text": "x"}, {"type": "BUTTONS", "buttons": [{"type": "FLY"}]}],
            "QUICK_REPLY",
        ),
        ([{"type": "CAROUSEL"}], "type must be"),
    ],
)
def test_bad_components_are_refused(components: Any, message: str) -> None:
    with pytest.raises(CampaignInputError, match=message):
        parse_components(components)


def test_variables_are_checked_and_rendered() -> None:
    _comps, slots = parse_components(
        [
            {"type": "BODY", "text": "Halo {{nama}}, poin Anda {{poin}}"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Lihat", "url": "https://toko.example.co.id/p/{{1}}"}
                ],
            },
        ]
    )
    with pytest.raises(CampaignInputError, match="none given"):
        check_variables(slots, {"body": {"nama": "{name}", "poin": "1"}})
    with pytest.raises(CampaignInputError, match="exactly the variables"):
        check_variables(slots, {"body": {"nama": "x"}, "button:0": ["x"]})
    with pytest.raises(CampaignInputError, match="unknown substitution"):
        check_variables(slots, {"body": {"nama": "{phone}", "poin": "1"}, "button:0": ["x"]})
    with pytest.raises(CampaignInputError, match="no variables in header"):
        check_variables(
            slots, {"header": ["x"], "body": {"nama": "a", "poin": "1"}, "button:0": ["x"]}
        )
    specs = check_variables(
        slots, {"body": {"nama": "{first_name|Kak}", "poin": "{field.poin}"}, "button:0": ["vip"]}
    )
    values = {"first_name": "Budi", "field.poin": "120"}
    out = render_values(slots, specs, values.get)
    assert [out[s] for s in slots] == ["Budi", "120", "vip"]
    specs2 = check_variables(
        slots, {"body": {"nama": "{first_name|Kak}", "poin": "{field.poin}"}, "button:0": ["x"]}
    )
    assert render_values(slots, specs2, {"field.poin": "1"}.get)[slots[0]] == "Kak"
    with pytest.raises(CampaignInputError, match="no value"):
        render_values(slots, specs2, {}.get)
    with pytest.raises(CampaignInputError, match="new lines"):
        render_values(slots, specs2, {"field.poin": "1\n2"}.get)


def test_messages_pass_the_cloud_api_validation(db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        reg = TemplateRegistry(ctx)
        tpl = reg.register(
            "staff:ani",
            name="promo_bulanan",
            language="id",
            category="MARKETING",
            components=PROMO,
            status="APPROVED",
        )
        assert tpl.usable and tpl.category == "marketing"
        specs = check_variables(tpl.slots, {"header": ["Januari"], "body": ["{name|Kak}"]})
        values = render_values(tpl.slots, specs, {"name": "Siti"}.get)
        body = {"messaging_product": "whatsapp", "to": "6281234567890", **tpl.message(values)}
        registry = template_registry(
            TemplateSpec("promo_bulanan", "id", "marketing", body_params=1, header_params=1)
        )
        send = validate_send(body, registry)
        assert send.type == "template" and send.template is not None
        assert body["template"]["components"][1]["parameters"] == [{"type": "text", "text": "Siti"}]
        with pytest.raises(CampaignInputError):
            reg.register(
                "staff:ani",
                name="Promo Bulanan",
                language="id",
                category="marketing",
                components=PROMO,
            )
        with pytest.raises(CampaignInputError):
            reg.register("staff:ani", name="x", language="id", category="promo", components=PROMO)
        pending = reg.register(
            "staff:ani",
            name="baru",
            language="id",
            category="utility",
            components=[{"type": "BODY", "text": "Hai"}],
        )
        assert pending.status == "PENDING" and not pending.usable
        with pytest.raises(TemplateUnusableError, match="PENDING"):
            pending.require_usable()
        assert [t.name for t in reg.list()] == ["baru", "promo_bulanan"]


def _store_events(ctx: Any, *fixtures: str, body: dict[str, Any] | None = None) -> None:
    ing = Ingestor(ctx.engine, ctx.vault, dialect=ctx.dialect)
    bodies = [json.loads((FIXTURES / f).read_text()) for f in fixtures]
    if body is not None:
        bodies.append(body)
    with ctx.engine.begin() as conn:
        for b in bodies:
            rows = ing.build(parse_webhook(b)).events
            conn.execute(insert(WebhookEvent), rows)


def test_template_webhooks_update_the_registry(db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        reg = TemplateRegistry(ctx)
        for name in ("promo_kpr_januari", "pengingat_tagihan", "info_cashback"):
            reg.register(
                "staff:ani",
                name=name,
                language="id",
                category="utility",
                components=[{"type": "BODY", "text": "Hai {{1}}"}],
                status="APPROVED",
            )
        _store_events(
            ctx,
            "field_message_template_status_update.json",
            "field_message_template_quality_update.json",
            "field_template_category_update.json",
            "field_account_update.json",  # not ours: left unprocessed for its owner
        )
        unknown = json.loads((FIXTURES / "field_message_template_status_update.json").read_text())
        unknown["entry"][0]["changes"][0]["value"]["message_template_name"] = "tidak_ada"
        unknown["entry"][0]["changes"][0]["value"]["message_template_id"] = 1
        _store_events(ctx, body=unknown)
        report = process_template_events(ctx.engine, ctx.vault, audit=ctx.audit)
        assert (report.templates, report.unknown_templates, report.malformed) == (3, 1, 0)
        kpr = reg.get("promo_kpr_januari", "id")
        assert (kpr.status, kpr.reason, kpr.usable) == ("REJECTED", "INCORRECT_CATEGORY", False)
        assert reg.get("pengingat_tagihan", "id").quality == "YELLOW"
        assert reg.get("info_cashback", "id").category == "marketing"
        assert q(ctx, "select field, processed from webhook_events order by id") == [
            ("message_template_status_update", True),
            ("message_template_quality_update", True),
            ("template_category_update", True),
            ("account_update", False),
            ("message_template_status_update", True),
        ]
        assert process_template_events(ctx.engine, ctx.vault).total == 0
        actions = [
            r[0]
            for r in q(
                ctx, "select action from audit_entries where actor = 'meta:webhook' order by seq"
            )
        ]
        assert actions == ["template_status", "template_quality", "template_category"]
        # Paused, then reinstated: usable again.
        paused = json.loads((FIXTURES / "field_message_template_status_update.json").read_text())
        value = paused["entry"][0]["changes"][0]["value"]
        value.update(event="PAUSED", reason=None, message_template_name="pengingat_tagihan")
        _store_events(ctx, body=paused)
        process_template_events(ctx.engine, ctx.vault)
        assert reg.get("pengingat_tagihan", "id").status == "PAUSED"
        value.update(event="REINSTATED")
        _store_events(ctx, body=paused)
        process_template_events(ctx.engine, ctx.vault)
        assert reg.get("pengingat_tagihan", "id").usable


def test_marketing_stop_and_resume_from_user_preferences(db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        book = ContactBook(ctx)
        budi = book.upsert("staff:ani", "6281234567890")
        _store_events(ctx, "field_user_preferences_stop.json", "field_user_preferences_resume.json")
        report = process_template_events(ctx.engine, ctx.vault)
        assert report.preferences == 2
        siti = book.find("6281298765432")
        assert siti is not None  # created from the webhook, name sealed
        assert book.get("staff:ani", siti).marketing == "denied"
        assert book.get("staff:ani", siti).name == "Siti Rahayu"
        assert book.get("staff:ani", budi).marketing == "granted"
        assert q(ctx, "select purpose, granted, source, at from consent_events order by id") == [
            ("marketing", False, "webhook:user_preferences", 1735690500.0),
            ("marketing", True, "webhook:user_preferences", 1735690600.0),
        ]
        # An older "stop" redelivered late does not override the newer "resume".
        late = json.loads((FIXTURES / "field_user_preferences_stop.json").read_text())
        pref = late["entry"][0]["changes"][0]["value"]["user_preferences"][0]
        pref.update(wa_id="6281234567890", timestamp=1735690000)
        _store_events(ctx, body=late)
        process_template_events(ctx.engine, ctx.vault)
        assert book.get("staff:ani", budi).marketing == "granted"
        assert one(ctx, "select count(*) from consent_events") == 3  # the proof is still kept
        assert one(ctx, "select opted_out from contacts where id = :i", i=siti) in (False, 0)
