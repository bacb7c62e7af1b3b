"""`aman flows check`: every mistake is reported with its file, line and step."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from aman.engine.flows import FlowLoadError, inspect_bot, load_bot
from aman.engine.flows.cli import register, run_check
from aman.engine.flows.errors import Problem
from test_flows_support import line_of, make_bot


def problems_for(tmp_path: Path, stem: str, text: str) -> list[Problem]:
    bot = make_bot(tmp_path / "bot", {stem: text})
    _, problems = inspect_bot(bot)
    return [p for p in problems if p.file == f"flows/{stem}.yaml"]


def only(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, problems
    return found[0]


@pytest.mark.parametrize("name", ["bank", "shop"])
def test_builtin_bots_are_valid(name: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_check(name, out, err) == 0, out.getvalue()
    assert "OK: bot" in out.getvalue() and err.getvalue() == ""


def test_unknown_step_type(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - send: hai
          - shout: HALO
        """
    p = only(problems_for(tmp_path, "x", flow), "unknown_step")
    assert p.line == line_of(flow, "shout") and p.step == "x.#2"
    assert "'shout'" in p.message


def test_missing_goto_target_and_flow(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - send: hai
          - id: jump
            goto: nowhere
        """
    p = only(problems_for(tmp_path, "x", flow), "missing_target")
    assert p.line == line_of(flow, "goto: nowhere") and p.step == "x.jump"
    flow2 = """\
        flow: y
        steps:
          - call: ghost_flow
        """
    p2 = only(problems_for(tmp_path / "2", "y", flow2), "missing_target")
    assert p2.line == line_of(flow2, "call:") and "ghost_flow" in p2.message


def test_button_title_too_long_and_too_many_buttons(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - send:
              text: Pilih
              buttons:
                - {id: a, title: Satu}
                - {id: b, title: Judul tombol yang terlalu panjang}
                - {id: c, title: Tiga}
                - {id: d, title: Empat}
        """
    problems = problems_for(tmp_path, "x", flow)
    long = only(problems, "button_title_too_long")
    assert long.line == line_of(flow, "terlalu panjang") and "limit is 20" in long.message
    many = only(problems, "too_many_buttons")
    assert many.line == line_of(flow, "- {id: a") and "4 reply buttons" in many.message


def test_list_too_long_and_row_title_too_long(tmp_path: Path) -> None:
    rows = "\n".join(f"                  - {{id: r{i}, title: Baris {i}}}" for i in range(11))
    flow = f"""\
        flow: x
        steps:
          - send:
              text: Pilih
              list:
                button: Menu
                rows:
                  - {{id: long, title: Baris dengan judul sangat panjang}}
{rows}
        """
    problems = problems_for(tmp_path, "x", flow)
    assert "12 list rows" in only(problems, "list_too_long").message
    assert only(problems, "list_too_long").line == line_of(flow, "list:")
    row = only(problems, "row_title_too_long")
    assert row.line == line_of(flow, "sangat panjang") and "limit is 24" in row.message


def test_unreachable_step(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - send: hai
          - end
          - id: orphan
            send: tidak pernah
        """
    p = only(problems_for(tmp_path, "x", flow), "unreachable_step")
    assert p.line == line_of(flow, "id: orphan") and p.step == "x.orphan"


def test_loop_without_wait_or_ask(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - id: top
            send: lagi
          - set: {n: 1}
          - goto: top
        """
    p = only(problems_for(tmp_path, "x", flow), "loop_without_wait")
    assert p.line == line_of(flow, "id: top") and "x.top" in p.message
    fine = """\
        flow: y
        steps:
          - id: top
            ask: {text: "Angka?", type: number, field: n}
          - goto: top
        """
    assert not [p for p in problems_for(tmp_path / "2", "y", fine) if p.code == "loop_without_wait"]


def test_loop_across_flows_via_call(tmp_path: Path) -> None:
    bot = make_bot(
        tmp_path / "bot",
        {
            "a": "flow: a\nsteps:\n  - call: b\n",
            "b": "flow: b\nsteps:\n  - send: hi\n  - goto: a\n",
        },
    )
    _, problems = inspect_bot(bot)
    [loop] = [p for p in problems if p.code == "loop_without_wait"]
    assert loop.file == "flows/a.yaml" and loop.line == 3


def test_unknown_intent_in_trigger_and_condition(tmp_path: Path) -> None:
    flow = """\
        flow: x
        triggers:
          - intent: order_pizza
        steps:
          - condition:
              - if: {intent: ask_weather}
                then: x
          - send: ok
        """
    problems = [p for p in problems_for(tmp_path, "x", flow) if p.code == "unknown_intent"]
    assert [(p.line, p.message) for p in problems] == [
        (line_of(flow, "order_pizza"), "unknown intent 'order_pizza'"),
        (line_of(flow, "ask_weather"), "unknown intent 'ask_weather'"),
    ]


def test_text_asking_for_a_pin_or_otp_is_rejected(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - send:
              id: Silakan kirim PIN ATM Anda untuk verifikasi.
              en: Please send the OTP code you received.
          - send: Jangan pernah memberikan PIN kepada siapa pun.
        """
    problems = [p for p in problems_for(tmp_path, "x", flow) if p.code.startswith("unsafe_text")]
    assert {p.code for p in problems} == {"unsafe_text:asks_secret"}
    # One problem per language, each on its own line.
    assert sorted(p.line for p in problems) == [
        line_of(flow, "Silakan kirim PIN"),
        line_of(flow, "Please send the OTP"),
    ]


def test_link_outside_allowed_domains_is_rejected(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - send: Info lengkap di https://example.co.id/promo
          - send: Klaim hadiah di https://bit.ly/hadiah-aman
          - send:
              media: {type: image, link: "https://cdn.evil.example.com/a.jpg"}
        """
    problems = [p for p in problems_for(tmp_path, "x", flow) if p.code.startswith("unsafe_text")]
    assert sorted(p.line for p in problems) == [line_of(flow, "bit.ly"), line_of(flow, "media:")]
    assert all(p.code == "unsafe_text:link_not_allowed" for p in problems)


def test_yaml_mistakes_are_located(tmp_path: Path) -> None:
    broken = "flow: x\nsteps:\n  - send: [unclosed\n  - end\n"
    [p] = problems_for(tmp_path, "x", broken)
    assert p.code == "yaml" and p.line in (3, 4, 5)
    dup = "flow: y\nsteps:\n  - send: a\n    send: b\n"
    problems = problems_for(tmp_path / "2", "y", dup)
    assert any(p.code == "yaml" and p.line == 4 and "duplicate key" in p.message for p in problems)


def test_handler_must_be_a_marked_hook(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - handler: os:system
          - handler: aman.adapters.banking:no_such_hook
        """
    problems = [p for p in problems_for(tmp_path, "x", flow) if p.code == "unknown_handler"]
    assert [p.line for p in problems] == [3, 4]
    assert "not marked with @hook" in problems[0].message


def test_unknown_handler_outcome(tmp_path: Path) -> None:
    flow = """\
        flow: x
        steps:
          - handler:
              call: aman.adapters.banking:balance
              on: {teleported: x}
          - send: ok
        """
    p = only(problems_for(tmp_path, "x", flow), "unknown_outcome")
    assert "teleported" in p.message and "not_verified" in p.message


def test_bot_yaml_flow_references_and_two_flows_for_one_button(tmp_path: Path) -> None:
    bot_yaml = "name: b\nstart_flow: home\nfallback_flow: fallback\n"
    bot = make_bot(
        tmp_path / "bot",
        {
            "a": "flow: a\ntriggers:\n  - button: go\nsteps:\n  - send: a\n",
            "b": "flow: b\ntriggers:\n  - button: go\nsteps:\n  - send: b\n",
        },
        bot_yaml=bot_yaml,
    )
    _, problems = inspect_bot(bot)
    missing = [p for p in problems if p.code == "missing_target"]
    assert [(p.file, p.line, p.step) for p in missing] == [("bot.yaml", 2, "start_flow")]
    [dup] = [p for p in problems if p.code == "duplicate_trigger"]
    assert (dup.file, dup.line) == ("flows/b.yaml", 3) and "flows/a.yaml:3" in dup.message


def test_load_bot_raises_with_every_problem(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot", {"x": "flow: x\nsteps:\n  - shout: a\n  - goto: nope\n"})
    with pytest.raises(FlowLoadError) as caught:
        load_bot(bot)
    assert {p.code for p in caught.value.problems} >= {"unknown_step", "missing_target"}
    assert "flows/x.yaml:3" in str(caught.value)


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    bad = make_bot(tmp_path / "bad", {"x": "flow: x\nsteps:\n  - shout: a\n"})
    out, err = io.StringIO(), io.StringIO()
    assert run_check(str(bad), out, err) == 1
    assert out.getvalue().startswith("flows/x.yaml:3 [x.#1]: unknown_step:")
    assert "1 problem" in err.getvalue()
    assert run_check(str(tmp_path / "missing"), io.StringIO(), io.StringIO()) == 2
    good = make_bot(tmp_path / "good", {})
    out = io.StringIO()
    assert run_check(str(good), out, io.StringIO()) == 0
    assert "3 flows" in out.getvalue()
    args = parser.parse_args(["flows", "check", str(good)])
    assert args.func is not None
