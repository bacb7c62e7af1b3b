"""The flow engine on small fixture bots: steps, triggers, commands, state, timers, events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from aman.engine.bot import Incoming
from aman.engine.flows import FlowBot, FlowRuntimeError, inspect_bot, load_bot
from test_flows_support import JAKARTA, T0, Chat, FakeNlu, body, joined, make_bot, options, texts


def bot_with(tmp_path: Path, flows: dict[str, str], nlu: FakeNlu | None = None) -> FlowBot:
    return FlowBot(load_bot(make_bot(tmp_path / "bot", flows)), nlu=nlu or FakeNlu())


COFFEE = {
    "coffee": """\
        flow: coffee
        triggers:
          - intent: order_coffee
          - keyword: {id: [kopi], en: [coffee]}
          - button: menu_coffee
        steps:
          - id: size
            ask:
              type: choice
              field: size
              text: {id: "Ukuran?", en: "Which size?"}
              choices:
                - {id: small, title: {id: Kecil, en: Small}, synonyms: [s, kecil]}
                - {id: large, title: {id: Besar, en: Large}, synonyms: [l, gede]}
          - id: cups
            ask:
              type: number
              field: cups
              min: 1
              max: 5
              text: {id: "Berapa gelas?", en: "How many cups?"}
              retry: {id: "Tulis angka 1 sampai 5.", en: "Write a number from 1 to 5."}
              max_attempts: 2
              on_fail: too_hard
          - set: {price: 15000, note: "{cups} x {size}"}
          - tag: [coffee_buyer]
          - send:
              id: "Pesanan: {note}, harga {price|money}"
              en: "Order: {note}, price {price|money}"
          - end
          - id: too_hard
            end: {id: "Coba lagi nanti ya.", en: "Try again later."}
        """,
}


def test_trigger_ask_validate_reprompt_and_finish(tmp_path: Path) -> None:
    chat = Chat(bot_with(tmp_path, COFFEE))
    ask = chat.say("mau kopi")
    assert texts(ask) == ["Ukuran?"] and options(ask.replies[0]) == ["small", "large"]
    assert chat.state["frame"] == ["coffee", "size", "ask"]
    cups = chat.say("gede")  # synonym
    assert texts(cups) == ["Berapa gelas?"]
    retry = chat.say("sembilan")
    assert texts(retry) == ["Tulis angka 1 sampai 5.", "Berapa gelas?"]
    assert chat.state["attempts"] == 1
    done = chat.say("2")
    assert texts(done) == ["Pesanan: 2 x large, harga Rp 15.000"]
    assert chat.state["frame"] is None and chat.state["tags"] == ["coffee_buyer"]
    assert chat.state["fields"]["cups"] == 2.0


def test_max_attempts_goes_to_the_fail_target(tmp_path: Path) -> None:
    chat = Chat(bot_with(tmp_path, COFFEE))
    chat.say("i want coffee")
    chat.tap("small")
    assert texts(chat.say("ten")) == ["Write a number from 1 to 5.", "How many cups?"]
    assert texts(chat.say("0")) == ["Try again later."]
    assert chat.state["frame"] is None


def test_choice_by_number_title_and_typo(tmp_path: Path) -> None:
    bot = bot_with(tmp_path, COFFEE)
    for answer in ("2", "Besar", "besra", "Large"):
        chat = Chat(bot)
        chat.say("kopi")
        chat.say(answer)
        assert chat.state["fields"]["size"] == "large", answer


def test_keyword_sets_the_language(tmp_path: Path) -> None:
    chat = Chat(bot_with(tmp_path, COFFEE))
    assert texts(chat.say("coffee")) == ["Which size?"]
    assert chat.state["lang"] == "en"


def test_global_commands_menu_cancel_agent(tmp_path: Path) -> None:
    bot = bot_with(tmp_path, COFFEE)
    chat = Chat(bot)
    chat.say("kopi")
    assert texts(chat.say("MENU")) == ["Menu utama"] and chat.state["frame"] is None
    chat.say("kopi")
    chat.tap("small")
    cancelled = chat.say("batal")
    assert texts(cancelled) == ["Baik, dibatalkan.", "Menu utama"]
    assert chat.state["fields"] == {}
    chat.say("kopi")
    agent = chat.say("cs")
    assert agent.handoff == "open" and agent.handoff_reason == "asked for agent"


def test_a_choice_answer_wins_over_a_command(tmp_path: Path) -> None:
    flows = {
        "confirm": """\
            flow: confirm
            triggers: [{keyword: [konfirmasi]}]
            steps:
              - ask:
                  type: choice
                  field: ok
                  text: Lanjut?
                  choices: [{id: go, title: Lanjut}, {id: stop, title: Batal}]
              - send: "pilihan {ok}"
            """
    }
    chat = Chat(bot_with(tmp_path, flows))
    chat.say("konfirmasi")
    assert texts(chat.say("batal")) == ["pilihan stop"]


def test_a_new_request_during_a_question_switches_flow(tmp_path: Path) -> None:
    flows = {**COFFEE, "tea": "flow: tea\ntriggers: [{keyword: [teh]}]\nsteps:\n  - send: Teh!\n"}
    chat = Chat(bot_with(tmp_path, flows))
    chat.say("kopi")
    chat.tap("small")
    assert texts(chat.say("teh")) == ["Teh!"]
    assert chat.state["frame"] is None


def test_fallback_counts_and_resets(tmp_path: Path) -> None:
    chat = Chat(bot_with(tmp_path, COFFEE))
    assert texts(chat.say("apa ini")) == ["Maaf, tidak mengerti"]
    chat.say("hmm")
    assert chat.state["fields"]["fallback_count"] == 2
    chat.say("halo")
    assert chat.state["fields"]["fallback_count"] == 0


def test_opt_out_by_keyword_typo_and_intent_then_opt_in(tmp_path: Path) -> None:
    bot = bot_with(tmp_path, COFFEE)
    for word in (
        "STOP",
        "Berhenti",
        "unsubscribe",
        "stopp",
        "berhentii",
        "jangan kirim pesan lagi",
    ):
        chat = Chat(bot)
        chat.say("halo")
        result = chat.say(word)
        assert result.opt_out is True, word
        assert "tidak akan menerima pesan" in joined(result) or "not receive" in joined(result)
        assert chat.say("halo").replies == () and chat.say("kopi").opt_out is None
        back = chat.say("MULAI")
        assert back.opt_out is False and "kembali" in joined(back)
        assert texts(chat.say("halo")) == ["Menu utama"]


def test_opt_out_intent_is_ignored_while_answering_a_question(tmp_path: Path) -> None:
    nlu = FakeNlu({"tidak usah": ("opt_out", 0.99)})
    chat = Chat(bot_with(tmp_path, COFFEE, nlu=nlu))
    chat.say("kopi")
    assert chat.say("tidak usah").opt_out is None
    assert chat.say("stop").opt_out is True  # the explicit word always works


def test_first_message_flow_runs_before_the_request(tmp_path: Path) -> None:
    flows = {
        **COFFEE,
        "welcome": (
            "flow: welcome\ntriggers: [{first_message: true}]\n"
            "steps:\n  - send: Selamat datang {name}\n"
        ),
    }
    chat = Chat(bot_with(tmp_path, flows))
    assert texts(chat.say("kopi")) == ["Selamat datang Budi", "Ukuran?"]
    assert chat.state["stack"] == []
    assert texts(chat.say("kopi")) == ["Ukuran?"]
    anonymous = Chat(chat.bot, wa_id="6281200000077", name=None)
    assert texts(anonymous.say("halo")) == ["Selamat datang", "Menu utama"]


def test_session_timeout_starts_over_but_keeps_tags(tmp_path: Path) -> None:
    chat = Chat(bot_with(tmp_path, COFFEE))
    chat.say("kopi")
    chat.tap("large")
    chat.state["tags"] = ["vip"]
    chat.wait(11 * 60)
    result = chat.say("3")
    assert texts(result) == ["Maaf, tidak mengerti"]
    assert chat.state["tags"] == ["vip"] and "size" not in chat.state["fields"]


def test_restart_in_the_middle_of_a_flow_resumes_at_the_same_step(tmp_path: Path) -> None:
    directory = make_bot(tmp_path / "bot", COFFEE)
    chat = Chat(FlowBot(load_bot(directory), nlu=FakeNlu()))
    chat.say("kopi")
    chat.tap("small")
    saved = dict(chat.state)
    assert saved["frame"] == ["coffee", "cups", "ask"]
    chat.bot = FlowBot(load_bot(directory), nlu=FakeNlu())  # a new process
    assert texts(chat.say("4")) == ["Pesanan: 4 x small, harga Rp 15.000"]


def test_garbage_state_starts_over(tmp_path: Path) -> None:
    bot = bot_with(tmp_path, COFFEE)
    chat = Chat(bot)
    chat.state = {
        "v": 1,
        "frame": ["coffee", "deleted_step", "ask"],
        "fields": {"x": object.__name__},
    }
    assert texts(chat.say("halo")) == ["Menu utama"]
    chat.state = {"v": 99, "whatever": True}
    assert texts(chat.say("kopi")) == ["Ukuran?"]


CALLS = {
    "main": """\
        flow: main
        triggers: [{keyword: [mulai tes]}]
        steps:
          - send: satu
          - call: helper
          - send: tiga
          - goto: other.last
        """,
    "helper": """\
        flow: helper
        steps:
          - send: dua
          - return
        """,
    "other": """\
        flow: other
        steps:
          - send: bukan ini
          - id: last
            send: empat
        """,
}


def test_call_return_and_goto_into_another_flows_step(tmp_path: Path) -> None:
    chat = Chat(FlowBot(load_bot(make_bot(tmp_path / "bot", CALLS)), nlu=FakeNlu()))
    assert texts(chat.say("mulai tes")) == ["satu", "dua", "tiga", "empat"]
    assert chat.state["stack"] == [] and chat.state["frame"] is None


def test_conditions_on_fields_tags_time_and_business_hours(tmp_path: Path) -> None:
    flows = {
        "check": """\
            flow: check
            triggers: [{keyword: [cek]}]
            steps:
              - set: {n: 7, name: "Sari"}
              - condition:
                  - if: {all: [{field: n, gt: 5}, {field: name, matches: "^S"}, {not: {tag: vip}}]}
                    then: a
                  - else: b
              - id: a
                send: A
              - condition:
                  - if: {any: [{business_hours: true}, {time: {after: "22:00", before: "06:00"}}]}
                    then: open
              - send: tutup
              - end
              - id: open
                send: buka
              - end
              - id: b
                send: B
            """
    }
    bot = bot_with(tmp_path, flows)
    assert texts(Chat(bot).say("cek")) == ["A", "buka"]
    evening = int(datetime(2026, 11, 25, 19, 0, tzinfo=JAKARTA).timestamp())
    assert texts(Chat(bot, start=evening).say("cek")) == ["A", "tutup"]
    night = int(datetime(2026, 11, 28, 23, 0, tzinfo=JAKARTA).timestamp())
    assert texts(Chat(bot, start=night).say("cek")) == ["A", "buka"]


def test_intent_and_entity_conditions(tmp_path: Path) -> None:
    flows = {
        "smart": """\
            flow: smart
            triggers: [{regex: "^tes "}]
            steps:
              - condition:
                  - if: {entity: money}
                    then: money
                  - if: {intent: order_coffee, min_confidence: 0.9}
                    then: coffee
              - send: lain
              - end
              - id: money
                send: ada uang
              - end
              - id: coffee
                send: kopi
            """
    }
    nlu = FakeNlu({"tes pesan kopi": ("order_coffee", 0.95)})
    bot = bot_with(tmp_path, flows, nlu=nlu)
    assert texts(Chat(bot).say("tes bayar 50rb")) == ["ada uang"]
    assert texts(Chat(bot).say("tes pesan kopi")) == ["kopi"]
    assert texts(Chat(bot).say("tes saja")) == ["lain"]


def test_wait_resumes_on_its_timer_only(tmp_path: Path) -> None:
    flows = {
        "slow": """\
            flow: slow
            triggers: [{keyword: [lambat]}]
            steps:
              - send: mulai
              - wait: {minutes: 2}
              - send: selesai
            """
    }
    chat = Chat(bot_with(tmp_path, flows))
    started = chat.say("lambat")
    [timer] = [t for t in started.timers if t.name == "flow_wait"]
    assert timer.at == T0 + 120 and chat.state["frame"][2] == "wait"
    assert chat.event("timer", {"name": "flow_wait", "token": 999}).replies == ()
    chat.wait(120)
    assert texts(chat.event("timer", {"name": "flow_wait", **timer.data})) == ["selesai"]
    assert chat.state["frame"] is None


def test_a_new_flow_cancels_a_pending_wait(tmp_path: Path) -> None:
    flows = {
        **COFFEE,
        "slow": (
            "flow: slow\ntriggers: [{keyword: [lambat]}]\n"
            "steps:\n  - wait: {hours: 1}\n  - send: x\n"
        ),
    }
    chat = Chat(bot_with(tmp_path, flows))
    chat.say("lambat")
    result = chat.say("kopi")
    assert any(t.name == "flow_wait" and t.at is None for t in result.timers)


def test_relative_reminder_and_schedule_trigger(tmp_path: Path) -> None:
    flows = {
        "remind": """\
            flow: remind
            triggers: [{keyword: [ingatkan]}]
            steps:
              - set: {topic: tagihan}
              - reminder: {name: bill, flow: bill_due, in: {hours: 3}, keep: [topic]}
              - send: siap
            """,
        "bill_due": """\
            flow: bill_due
            triggers: [{schedule: bill}]
            steps:
              - send:
                  text: "Jangan lupa {topic}"
                  template: {name: payment_reminder, language: id, params: ["{topic}", "-", "-"]}
            """,
        "daily": "flow: daily\ntriggers: [{schedule: daily_tip}]\nsteps:\n  - send: tip harian\n",
    }
    chat = Chat(bot_with(tmp_path, flows))
    made = chat.say("ingatkan")
    [timer] = [t for t in made.timers if t.name == "reminder:bill"]
    assert timer.at == T0 + 3 * 3600 and timer.data == {
        "flow": "bill_due",
        "fields": {"topic": "tagihan"},
    }
    chat.state["fields"] = {}
    fired = chat.event("timer", {"name": timer.name, **timer.data})
    [reply] = fired.replies
    assert body(reply) == "Jangan lupa tagihan" and reply.fallback is not None
    assert texts(chat.event("timer", {"name": "daily_tip"})) == ["tip harian"]


def test_a_reminder_during_a_question_asks_the_question_again(tmp_path: Path) -> None:
    flows = {
        **COFFEE,
        "ping": "flow: ping\ntriggers: [{schedule: ping}]\nsteps:\n  - send: ping!\n",
    }
    chat = Chat(bot_with(tmp_path, flows))
    chat.say("kopi")
    result = chat.event("timer", {"name": "ping"})
    assert texts(result) == ["ping!", "Ukuran?"]
    assert chat.state["frame"] == ["coffee", "size", "ask"]
    chat.tap("small")
    assert chat.state["frame"] == ["coffee", "cups", "ask"]


def test_verify_step_waits_for_the_verified_event(tmp_path: Path) -> None:
    flows = {
        "secret": """\
            flow: secret
            triggers: [{keyword: [rahasia]}]
            steps:
              - verify: {purpose: peek, text: "Buka {verify_link}", valid_minutes: 2}
              - send: "rahasia: 42"
            """
    }
    chat = Chat(bot_with(tmp_path, flows))
    assert texts(chat.say("rahasia")) == ["Buka {verify_link}"]
    reminder = chat.say("sudah?")
    assert "{verify_link}" in joined(reminder)
    assert texts(chat.event("verified", {"purpose": "peek"})) == ["rahasia: 42"]
    assert texts(chat.say("rahasia")) == ["rahasia: 42"]
    chat.wait(121)
    assert texts(chat.say("rahasia")) == ["Buka {verify_link}"]


def test_send_kinds_render_cloud_api_bodies(tmp_path: Path) -> None:
    flows = {
        "kinds": """\
            flow: kinds
            triggers: [{keyword: [semua]}]
            steps:
              - set: {rows: [{id: r1, title: Satu, description: pertama}, {id: r2, title: Dua}]}
              - send:
                  text: Pilih
                  header: Judul
                  footer: Kaki
                  list: {button: Buka, rows_from: rows}
              - send: {media: {type: image, link: "https://example.co.id/a.jpg", caption: Foto}}
              - send: {text: Kirim lokasi, location_request: true}
              - send: {contact: {name: CS Aman, phone: "+62 21 555 0100", organization: Aman}}
              - send: {template: {name: hello_world, language: en_US}}
            """
    }
    result = Chat(bot_with(tmp_path, flows)).say("semua")
    lst, image, location, contact, template = (r.message for r in result.replies)
    assert lst["interactive"]["header"] == {"type": "text", "text": "Judul"}
    assert lst["interactive"]["action"]["sections"][0]["rows"][0] == {
        "id": "r1",
        "title": "Satu",
        "description": "pertama",
    }
    assert image == {
        "type": "image",
        "image": {"link": "https://example.co.id/a.jpg", "caption": "Foto"},
    }
    assert location["interactive"]["action"] == {"name": "send_location"}
    assert contact["contacts"][0]["phones"] == [{"phone": "+62 21 555 0100", "type": "WORK"}]
    assert template == {
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }


def test_handler_outcomes_errors_and_audit(tmp_path: Path) -> None:
    flows = {
        "bal": """\
            flow: bal
            triggers: [{keyword: [saldo]}]
            steps:
              - handler:
                  call: aman.adapters.banking:balance
                  on: {not_verified: nope}
              - send: "Saldo {balance|money} di {account_masked}"
              - end
              - id: nope
                send: belum verifikasi
            """
    }
    chat = Chat(bot_with(tmp_path, flows))
    assert texts(chat.say("saldo")) == ["belum verifikasi"]
    chat.state["verified_until"] = chat.now + 60
    assert texts(chat.say("saldo")) == ["Saldo Rp 12.500.000 di ****7890"]


def test_adapter_failure_takes_the_error_branch_or_the_error_message(tmp_path: Path) -> None:
    flows = {
        "shop": """\
            flow: shop
            triggers: [{keyword: [lacak]}]
            steps:
              - handler: aman.adapters.shop:track_order
              - send: "{order_status}"
            """
    }
    chat = Chat(bot_with(tmp_path, flows))
    result = chat.say("lacak")  # no order_id: the hook raises an AdapterError
    assert texts(result) == [
        "Maaf, layanan sedang terganggu. Silakan coba lagi nanti atau ketik CS."
    ]


def test_runaway_flow_is_stopped_at_runtime(tmp_path: Path) -> None:
    flows = {"spin": "flow: spin\ntriggers: [{keyword: [putar]}]\nsteps:\n  - id: a\n    goto: a\n"}
    spec, problems = inspect_bot(make_bot(tmp_path / "bot", flows))
    assert spec is not None and [p.code for p in problems] == ["loop_without_wait"]
    with pytest.raises(FlowRuntimeError, match="more than 200 steps"):
        Chat(FlowBot(spec, nlu=FakeNlu())).say("putar")


def test_nlu_is_not_called_for_buttons_or_keywords(tmp_path: Path) -> None:
    nlu = FakeNlu()
    chat = Chat(bot_with(tmp_path, COFFEE, nlu=nlu))
    chat.tap("menu_coffee")
    chat.say("kopi")
    assert nlu.calls == 0


def test_events_without_a_matching_flow_do_nothing(tmp_path: Path) -> None:
    chat = Chat(bot_with(tmp_path, COFFEE))
    assert chat.event("timer", {"name": "unknown"}).replies == ()
    assert chat.event("something_else").replies == ()
    msg = Incoming(
        wamid="w",
        phone_number_id="p",
        wa_id="1",
        profile_name=None,
        type="sticker",
        text=None,
        reply_id=None,
        timestamp=T0,
    )
    assert texts(chat.bot.handle(msg, {})) == ["Maaf, tidak mengerti"]
