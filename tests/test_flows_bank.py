"""The bank bot (AMAN_BOT=bank) driven through Bot.handle, in Indonesian and English."""

from __future__ import annotations

from datetime import datetime

import pytest

from aman.adapters.banking import DemoCoreBanking
from aman.engine.flows import FlowBot, builtin_bot_dir, load_bot
from aman.engine.flows.model import BotSpec
from aman.nlu import NluModel, load_bot_nlu
from test_flows_support import JAKARTA, T0, Chat, body, joined, options, texts


@pytest.fixture(scope="module")
def parts() -> tuple[BotSpec, NluModel]:
    directory = builtin_bot_dir("bank")
    return load_bot(directory), load_bot_nlu(directory, disk_cache=False)


@pytest.fixture
def bank_backend() -> DemoCoreBanking:
    return DemoCoreBanking()


@pytest.fixture
def bot(parts: tuple[BotSpec, NluModel], bank_backend: DemoCoreBanking) -> FlowBot:
    spec, nlu = parts
    return FlowBot(spec, nlu=nlu, services={"banking": bank_backend})


def test_greeting_shows_the_menu_and_the_official_channel_promise(bot: FlowBot) -> None:
    chat = Chat(bot)
    result = chat.say("halo min")
    [menu] = result.replies
    assert menu.message["interactive"]["type"] == "list"
    assert "Bank Aman" in body(menu) and "tidak pernah meminta PIN" in body(menu)
    assert body(menu).startswith("Halo Budi,")
    assert "menu_balance" in options(menu) and "menu_block_card" in options(menu)
    english = Chat(bot, wa_id="6281200000001").say("hello good morning")
    assert "How can we help?" in joined(english)


def test_first_message_with_a_request_gets_the_welcome_then_the_answer(bot: FlowBot) -> None:
    result = Chat(bot).say("tips keamanan dong")
    first, second = texts(result)
    assert "asisten resmi Bank Aman" in first and "TIDAK PERNAH" in first
    assert "Jangan pernah memberikan PIN" in second


def test_balance_needs_step_up_verification_then_shows_masked_balance(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    asked = chat.say("sldo brp")
    assert "{verify_link}" in joined(asked) and "PIN" not in joined(asked)
    assert chat.state["pending_verify"] == {"purpose": "balance"}
    shown = chat.event("verified", {"purpose": "balance"})
    assert "****7890" in joined(shown) and "Rp 12.500.000" in joined(shown)
    assert "1234567890" not in joined(shown)
    assert "pending_verify" not in chat.state
    # Inside the 5-minute verified session the balance comes at once...
    again = chat.say("cek saldo")
    assert "Rp 12.500.000" in joined(again)
    # ...after it the customer verifies again.
    chat.wait(301)
    later = chat.say("cek saldo lagi")
    assert "{verify_link}" in joined(later) and "Rp" not in joined(later)


def test_a_verified_event_for_another_purpose_does_not_unlock(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("cek saldo")
    result = chat.event("verified", {"purpose": "transfer"})
    assert result.replies == () and chat.state["pending_verify"] == {"purpose": "balance"}


def test_balance_in_english(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hi")
    asked = chat.say("what's my balance")
    assert "secure link" in joined(asked)
    shown = chat.event("verified", {"purpose": "balance"})
    assert "Balance of account ****7890: Rp 12.500.000." in joined(shown)


def test_transfer_prefilled_confirmed_verified_and_audited(
    bot: FlowBot, bank_backend: DemoCoreBanking
) -> None:
    chat = Chat(bot)
    chat.say("halo")
    confirm = chat.say("transfer 150rb ke 9876543210")
    assert "Rp 150.000" in joined(confirm) and "****3210" in joined(confirm)
    assert "ANDI W***" in joined(confirm) and "9876543210" not in joined(confirm)
    assert options(confirm.replies[0]) == ["transfer_yes", "transfer_no"]
    verify = chat.tap("transfer_yes")
    assert "{verify_link}" in joined(verify)
    assert chat.state["pending_verify"] == {"purpose": "transfer"}
    done = chat.event("verified", {"purpose": "transfer"})
    assert "berhasil" in joined(done) and "Rp 12.350.000" in joined(done)
    [record] = done.audit
    assert record.action == "transfer" and record.target == "****3210"
    assert record.details["amount"] == 150_000
    assert bank_backend.account("6281234567890").balance == 12_350_000


def test_transfer_step_by_step_in_english_with_reprompts(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hello")
    ask_amount = chat.say("i want to transfer money")
    assert "How much" in joined(ask_amount)
    retry = chat.say("lots")
    assert "could not read the amount" in joined(retry) and "How much" in joined(retry)
    ask_account = chat.say("250k")
    assert "destination account" in joined(ask_account)
    confirm = chat.say("9876543210")
    assert "Transfer Rp 250.000 to account ****3210" in joined(confirm)
    assert [
        t["reply"]["title"] for t in confirm.replies[0].message["interactive"]["action"]["buttons"]
    ] == ["Yes, send", "Cancel"]
    cancelled = chat.say("cancel")
    assert "cancelled" in joined(cancelled).lower()
    assert cancelled.audit == ()


def test_transfer_gives_up_after_max_attempts(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    chat.say("mau transfer")
    chat.say("banyak")
    chat.say("sedikit")
    result = chat.say("entahlah")
    assert "Transfer belum bisa dilanjutkan" in joined(result)
    assert chat.state["frame"] is None


def test_transfer_checks_recipient_limit_and_balance(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    assert "tidak ditemukan" in joined(chat.say("transfer 50rb ke 1111111111"))
    assert "limit transfer harian" in joined(chat.say("transfer 30jt ke 9876543210"))
    assert "tidak mencukupi" in joined(chat.say("transfer 20jt ke 9876543210"))
    assert "rekening Anda sendiri" in joined(chat.say("transfer 50rb ke 1234567890"))


def test_transfer_cancel_button_moves_no_money(bot: FlowBot, bank_backend: DemoCoreBanking) -> None:
    chat = Chat(bot)
    chat.say("halo")
    chat.say("transfer 100rb ke 9876543210")
    result = chat.tap("transfer_no")
    assert "Tidak ada dana yang dipindahkan" in joined(result)
    assert bank_backend.account("6281234567890").balance == 12_500_000


def test_appointment_booking_sets_a_reminder_for_the_day_before(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    branches = chat.say("mau bikin janji ketemu di cabang")
    assert "jkt_sudirman" in options(branches.replies[-1])
    slots = chat.tap("jkt_sudirman")
    slot_ids = options(slots.replies[-1])
    assert slot_ids and all(s.startswith("slot_") for s in slot_ids)
    confirm = chat.tap(slot_ids[-1])  # two days ahead: the reminder is still in the future
    assert "Buat janji temu di KCP Sudirman" in joined(confirm) and "WIB?" in joined(confirm)
    assert options(confirm.replies[-1]) == ["book_yes", "book_other"]
    booked = chat.tap("book_yes")
    assert "KCP Sudirman" in joined(booked) and "APT" in joined(booked)
    [timer] = [t for t in booked.timers if t.name.startswith("reminder:")]
    slot = float(slot_ids[-1][5:])
    assert timer.name == "reminder:appointment" and timer.at == slot - 86400
    assert timer.data["flow"] == "appointment_reminder"
    chat.wait(timer.at - chat.now)
    reminded = chat.event("timer", {"name": timer.name, **timer.data})
    [reply] = reminded.replies
    assert "Pengingat" in body(reply) and "KCP Sudirman" in body(reply)
    assert reply.fallback is not None
    tomorrow = datetime.fromtimestamp(chat.now, JAKARTA).date().toordinal() + 1
    assert datetime.fromtimestamp(slot, JAKARTA).date().toordinal() == tomorrow
    assert reply.fallback["template"]["name"] == "appointment_reminder"
    params = reply.fallback["template"]["components"][0]["parameters"]
    assert params[0]["text"] == "KCP Sudirman" and len(params) == 3


def test_appointment_list_accepts_typed_choice(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("hi")
    chat.say("book an appointment at a branch")
    slots = chat.say("KCP Dago")
    assert "Free times at KCP Dago" in joined(slots)
    first = options(slots.replies[-1])[0]
    assert "Book an appointment at KCP Dago" in joined(chat.tap(first))
    again = chat.say("another time")
    assert options(again.replies[-1])[0] == first
    chat.tap(first)
    assert "Appointment booked" in joined(chat.say("yes"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kartu atm saya hilang, tolong blokir", "SEGERA"),
        ("my card was stolen, block it", "RIGHT NOW"),
    ],
)
def test_block_card_is_an_urgent_handoff(bot: FlowBot, text: str, expected: str) -> None:
    chat = Chat(bot)
    chat.say("halo" if "kartu" in text else "hello")
    result = chat.say(text)
    assert expected in joined(result) and "+62 21 1500 888" in joined(result)
    assert result.handoff == "open" and result.handoff_reason is not None
    assert "card block" in result.handoff_reason
    assert [a.action for a in result.audit] == ["card_block_request"]
    # The bot stays quiet until an agent closes the conversation.
    assert chat.say("halo?").replies == ()
    back = chat.event("agent_closed")
    assert "MENU" in joined(back)
    assert chat.say("halo").replies


def test_human_agent_outside_business_hours_says_when_staff_answer(bot: FlowBot) -> None:
    sunday = int(datetime(2026, 11, 29, 20, 0, tzinfo=JAKARTA).timestamp())
    chat = Chat(bot, start=sunday)
    chat.say("halo")
    result = chat.say("saya mau bicara dengan petugas")
    assert "Senin-Jumat" in joined(result) and result.handoff == "open"
    inside = Chat(bot, wa_id="6281200000002").say("cs")
    assert inside.handoff == "open" and "Senin-Jumat" not in joined(inside)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ada yang telpon ngaku dari bank minta kode otp", "TIDAK PERNAH meminta PIN, OTP"),
        ("someone called pretending to be the bank and asked for my OTP", "NEVER ask for your PIN"),
    ],
)
def test_fraud_report_gives_official_channels_and_is_audited(
    bot: FlowBot, text: str, expected: str
) -> None:
    chat = Chat(bot)
    chat.say("halo" if "ada" in text else "hello")
    result = chat.say(text)
    reply = result.replies[-1]
    assert expected in body(reply)
    assert "+62 21 1500 888" in body(reply) and "bankaman.co.id" in body(reply)
    assert options(reply) == ["menu_block_card", "menu_agent", "menu_main"]
    assert [a.action for a in result.audit] == ["fraud_report"]
    assert "fraud_report" in chat.state["tags"]
    blocked = chat.tap("menu_block_card")
    assert blocked.handoff == "open"


@pytest.mark.parametrize(
    ("text", "expected"), [("tips keamanan", "Tips aman"), ("security tips please", "Safe banking")]
)
def test_security_tips(bot: FlowBot, text: str, expected: str) -> None:
    chat = Chat(bot)
    chat.say("halo" if "keamanan" in text else "hello")
    assert expected in joined(chat.say(text))


def test_a_typed_secret_gets_a_warning_in_the_customers_language(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    warned = chat.say("pin saya [PIN]", secrets=("PIN",))
    assert "jangan pernah membagikan PIN" in texts(warned)[0]
    english = Chat(bot, wa_id="6281200000003")
    english.say("hello")
    warned_en = english.say("my otp is [OTP] what's my balance", secrets=("OTP",))
    assert "never share your PIN" in texts(warned_en)[0]
    assert "secure link" in joined(warned_en)  # the rest of the message is still served


def test_a_secret_typed_as_an_answer_is_warned_and_asked_again(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    chat.say("mau transfer")
    result = chat.say("[PIN]", secrets=("PIN",))
    first, second = texts(result)
    assert "jangan pernah membagikan PIN" in first and "Berapa jumlah" in second
    assert chat.state["attempts"] == 0 and chat.state["frame"][1] == "amount"


def test_session_ends_after_ten_idle_minutes(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    started = chat.say("mau transfer")
    [timer] = [t for t in started.timers if t.name == "inactivity"]
    assert timer.at == chat.now - chat.step + 600
    chat.wait(600)
    ended = chat.event("timer", {"name": "inactivity"})
    assert "Sesi Anda berakhir" in joined(ended)
    assert chat.state["frame"] is None and chat.state["fields"] == {}


def test_verified_session_is_forgotten_after_the_timeout(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("cek saldo")
    chat.event("verified", {"purpose": "balance"})
    chat.wait(11 * 60)
    result = chat.say("cek saldo")
    assert "{verify_link}" in joined(result)


def test_unknown_text_gets_help_then_an_offer_of_a_human(bot: FlowBot) -> None:
    chat = Chat(bot)
    chat.say("halo")
    assert "belum mengerti" in joined(chat.say("qwerty zxcv"))
    chat.say("asdf ghjk")
    offer = chat.say("lorem ipsum dolor")
    assert "petugas" in joined(offer) and options(offer.replies[-1]) == ["agent_yes", "agent_no"]
    assert chat.tap("agent_yes").handoff == "open"


def test_started_at_t0_is_a_weekday_morning() -> None:
    moment = datetime.fromtimestamp(T0, JAKARTA)
    assert moment.weekday() == 2 and moment.hour == 10
