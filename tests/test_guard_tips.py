"""Opt-in weekly security tips: the catalogue passes the outbound guard and fits a template
parameter; the bank bot subscribes, sends a tip a week later (template fallback), moves
on, stops on TIPS OFF or STOP, and audits every change."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from aman.engine.bot import BotResult, Timer
from aman.engine.flows import FlowBot, builtin_bot_dir, load_bot
from aman.engine.flows.model import BotSpec
from aman.guard import check_outbound
from aman.guard.tips import TIPS, next_send_at, tip_text
from aman.nlu import NluModel, load_bot_nlu
from test_flows_support import JAKARTA, T0, Chat, body, joined, options


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_tip_is_clean_and_fits_one_template_parameter(lang: str) -> None:
    seen = set()
    for i in range(len(TIPS)):
        tip = tip_text(i, lang)
        assert check_outbound(tip, []) == [], tip
        assert 40 <= len(tip) <= 300 and not re.search(r"[\n\t]| {5,}|https?://", tip)
        seen.add(tip)
    assert len(seen) == len(TIPS) and tip_text(len(TIPS), lang) == tip_text(0, lang)


def test_next_send_is_a_week_later_in_the_morning_spread_per_customer() -> None:
    whens = {next_send_at(T0, f"62812{i:08d}") for i in range(50)}
    assert len(whens) > 10  # spread over the two hours
    for when in whens:
        local = datetime.fromtimestamp(when, JAKARTA)
        assert 10 <= local.hour < 12
        assert (local.date() - datetime.fromtimestamp(T0, JAKARTA).date()).days == 7
    assert next_send_at(T0, "6281234567890") == next_send_at(T0 + 60, "6281234567890")


@pytest.fixture(scope="module")
def bot() -> FlowBot:
    directory = builtin_bot_dir("bank")
    spec: BotSpec = load_bot(directory)
    nlu: NluModel = load_bot_nlu(directory, disk_cache=False)
    return FlowBot(spec, nlu=nlu)


def reminder(result: BotResult) -> Timer:
    [timer] = [t for t in result.timers if t.name == "reminder:security_tips"]
    return timer


def fire(chat: Chat, timer: Timer) -> BotResult:
    assert timer.at is not None
    chat.wait(timer.at - chat.now)
    return chat.event("timer", {"name": timer.name, **timer.data})


def test_subscribe_from_the_tips_menu_then_a_tip_every_week(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    menu = chat.say("tips keamanan")
    assert "tips_on" in options(menu.replies[-1])
    joined_ = chat.tap("tips_on")
    assert tip_text(0, "id") in joined(joined_) and "TIPS OFF" in joined(joined_)
    assert [a.action for a in joined_.audit] == ["security_tips_opt_in", "security_tip_sent"]
    assert "security_tips" in chat.state["tags"]
    timer = reminder(joined_)
    assert timer.at == next_send_at(T0 + 10, chat.wa_id)
    chat.say("menu")  # the customer goes on with other things; the session ends
    for week in (1, 2):
        sent = fire(chat, timer)
        [reply] = sent.replies
        assert tip_text(week, "id") in body(reply) and "bankaman.co.id" in body(reply)
        # Outside the 24-hour window the approved template carries the same tip.
        assert reply.fallback is not None and reply.fallback["template"]["name"] == "security_tip"
        [param] = reply.fallback["template"]["components"][0]["parameters"]
        assert param["text"] == tip_text(week, "id")
        assert [(a.action, a.details) for a in sent.audit] == [("security_tip_sent", {"tip": week})]
        nxt = reminder(sent)
        assert nxt.at is not None and timer.at is not None
        assert 6 * 86400 < nxt.at - timer.at < 8 * 86400
        timer = nxt


def test_english_keyword_and_tips_off_stop_the_tips(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hello")
    subscribed = chat.say("weekly tips")
    assert tip_text(0, "en") in joined(subscribed)
    timer = reminder(subscribed)
    off = chat.say("stop tips")
    assert off.opt_out is None  # only the tips stop, not every message
    assert "TIPS ON" in joined(off) and "security_tips" not in chat.state["tags"]
    assert [a.action for a in off.audit] == ["security_tips_opt_out"]
    silent = fire(chat, timer)
    assert silent.replies == () and silent.audit == ()
    assert not [t for t in silent.timers if t.name == "reminder:security_tips"]


def test_stop_ends_the_tips_too(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    timer = reminder(chat.say("tips on"))
    assert chat.say("STOP").opt_out is True
    silent = fire(chat, timer)
    assert silent.replies == () and not silent.timers


def test_a_tip_due_mid_conversation_returns_to_the_open_question(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    timer = reminder(chat.say("tips on"))
    assert timer.at is not None
    chat.wait(timer.at - chat.now - 60)
    asked = chat.say("mau transfer")
    assert asked.replies
    sent = fire(chat, timer)
    assert tip_text(1, "id") in joined(sent)
    frame = chat.state.get("frame")
    assert frame is not None and frame[0] == "transfer"
    assert chat.say("batal").replies  # the transfer question is still open
