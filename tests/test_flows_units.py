"""Unit checks of the flow engine's pieces: answer validation, rendering, language, state, YAML."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from aman.engine.bot import Incoming
from aman.engine.flows.lang import guess_language
from aman.engine.flows.model import AskStep, Choice, SendSpec
from aman.engine.flows.render import format_money, mask_digits
from aman.engine.flows.state import ConvState, Frame
from aman.engine.flows.validate import fuzzy_equal, validate_answer
from aman.engine.flows.yamlsrc import load_yaml_text
from aman.nlu import extract_entities
from test_flows_support import JAKARTA, T0

NOW = datetime.fromtimestamp(T0, JAKARTA)


def ask(kind: str, **kw: Any) -> AskStep:
    return AskStep("q", 1, SendSpec(text={"*": "?"}), kind, "f", **kw)


def answer(
    step: AskStep,
    text: str | None = None,
    *,
    mtype: str = "text",
    reply: str | None = None,
    raw: dict[str, Any] | None = None,
    whole: bool = True,
) -> Any:
    msg = Incoming(
        wamid="w",
        phone_number_id="p",
        wa_id="62812",
        profile_name=None,
        type=mtype,
        text=text,
        reply_id=reply,
        timestamp=T0,
        raw=raw or {},
    )
    return validate_answer(
        step, msg, {}, lambda: extract_entities(text or "", now=NOW), NOW, whole=whole
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("150rb", 150_000),
        ("Rp 1.500.000", 1_500_000),
        ("2,5 jt", 2_500_000),
        ("75000", 75_000),
        ("seratus ribu", 100_000),
        ("banyak", None),
        ("5000", None),
        ("200jt", None),
    ],
)
def test_money_answers(text: str, value: int | None) -> None:
    assert answer(ask("money", minimum=10_000, maximum=100_000_000), text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("3", 3.0), ("2.5", 2.5), ("12", None), ("tiga", None)]
)
def test_number_answers(text: str, value: float | None) -> None:
    assert answer(ask("number", minimum=1, maximum=10), text) == value


def test_date_time_and_datetime_answers() -> None:
    tomorrow_10 = datetime(2026, 11, 26, 10, 0, tzinfo=JAKARTA).timestamp()
    assert answer(ask("datetime"), "besok jam 10") == tomorrow_10
    assert answer(ask("date"), "besok") == datetime(2026, 11, 26, tzinfo=JAKARTA).timestamp()
    assert (
        answer(ask("time"), "jam 2 siang")
        == datetime(2026, 11, 25, 14, 0, tzinfo=JAKARTA).timestamp()
    )
    assert answer(ask("date"), "kapan-kapan") is None


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("phone", "0812-3456-7890", "+6281234567890"),
        ("phone", "+62 812 3456 7890", "+6281234567890"),
        ("phone", "12", None),
        ("email", "budi@example.co.id", "budi@example.co.id"),
        ("email", "budi at example", None),
        ("account", "1234 5678 90", "1234567890"),
        ("account", "12345", None),
        ("order_id", "ord12345", "ORD-12345"),
        ("order_id", "no pesanan 123456", "ORD-123456"),
        ("order_id", "10001", "ORD-10001"),
        ("order_id", "yang kemarin", None),
        ("text", "  apa saja  ", "apa saja"),
    ],
)
def test_typed_answers(kind: str, text: str, value: Any) -> None:
    assert answer(ask(kind), text) == value


def test_regex_choice_image_and_location_answers() -> None:
    plate = ask("regex", pattern=re.compile(r"[A-Z]{1,2} \d{1,4} [A-Z]{0,3}"))
    assert answer(plate, "B 1234 XYZ") == "B 1234 XYZ" and answer(plate, "b1234") is None
    pick = ask(
        "choice",
        choices=(
            Choice("yes", {"id": "Ya", "en": "Yes"}, ("iya", "ok")),
            Choice("no", {"id": "Tidak", "en": "No"}),
        ),
    )
    assert answer(pick, reply="no", mtype="interactive") == "no"
    assert answer(pick, reply="maybe", mtype="interactive") is None
    assert answer(pick, "iya") == "yes" and answer(pick, "2") == "no" and answer(pick, "3") is None
    image = ask("image")
    assert answer(image, mtype="image", raw={"image": {"id": "M1"}}) == {"id": "M1"}
    assert answer(image, "foto") is None
    where = ask("location")
    loc = {"location": {"latitude": -6.2, "longitude": 106.8, "name": "Kantor"}}
    assert answer(where, mtype="location", raw=loc) == {"latitude": -6.2, "longitude": 106.8}


def test_prefill_takes_entities_only() -> None:
    assert answer(ask("money"), "transfer 150rb ke 9876543210", whole=False) == 150_000
    assert answer(ask("account"), "transfer 150rb ke 9876543210", whole=False) == "9876543210"
    assert answer(ask("account"), "tf ke 081234567890 ya", whole=False) is None
    assert answer(ask("money"), "150000", whole=False) is None
    assert answer(ask("text"), "apa saja", whole=False) is None


def test_fuzzy_equal() -> None:
    assert fuzzy_equal("berhenti", "berhentii") and fuzzy_equal("besra", "besar")
    assert fuzzy_equal("transfr", "transfer") and not fuzzy_equal("ya", "yo")
    assert not fuzzy_equal("batal", "bayar")


def test_money_and_mask_formatting() -> None:
    assert format_money(1_500_000) == "Rp 1.500.000" and format_money("x") == ""
    assert format_money(-2500) == "-Rp 2.500"
    assert mask_digits("1234-5678-9012") == "****9012" and mask_digits("abc") == ""


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("saldo saya berapa ya", "id"),
        ("what is my balance please", "en"),
        ("ok", "?"),
        ("mau transfer dong", "id"),
        ("i want to check my order", "en"),
    ],
)
def test_language_guess(text: str, lang: str) -> None:
    assert guess_language(text, "?") == lang


def test_state_round_trip_and_tolerance() -> None:
    st = ConvState(
        frame=Frame("f", "s", "ask"),
        stack=[Frame("g", "t")],
        fields={"a": [1, {"b": 2}]},
        tags=["vip"],
        lang="en",
        last=5.0,
        seen=True,
        pending_verify={"purpose": "x"},
    )
    again = ConvState.from_dict(st.to_dict())
    assert again.to_dict() == st.to_dict()
    assert again.frame == Frame("f", "s", "ask") and again.pending_verify == {"purpose": "x"}
    odd = ConvState.from_dict(
        {
            "v": 1,
            "frame": "nope",
            "fields": {"ok": 1, "bad": object()},
            "tags": [1, "t"],
            "attempts": "x",
            "platform_key": 3,
        }
    )
    assert odd.frame is None and odd.fields == {"ok": 1} and odd.tags == ["t"] and odd.attempts == 0
    assert odd.to_dict()["platform_key"] == 3  # keys written by the platform survive
    assert ConvState.from_dict({"messages": 4}).seen is True  # state of the old menu bot


def test_yaml_keeps_lines_and_reads_yes_no_on_as_text() -> None:
    value, problems = load_yaml_text("a: 1\non: [ya, yes, no, off, true]\nb:\n  - x: 1\n", "f.yaml")
    assert problems == [] and value["on"] == ["ya", "yes", "no", "off", True]
    assert value.key_lines == {"a": 1, "on": 2, "b": 3} and value["b"][0].line == 4
