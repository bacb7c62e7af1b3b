"""Helpers for the flow tests (no tests here): a chat driver with a fake clock, fixture bots.

``Chat`` drives a Bot message by message and round-trips the state through JSON after
every turn, as the inbox worker stores it.  ``make_bot`` writes a small bot folder and
``FakeNlu`` is a deterministic intent model for the engine tests.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aman.engine.bot import Bot, BotResult, Incoming, Reply

JAKARTA = ZoneInfo("Asia/Jakarta")
# Wednesday 25 November 2026, 10:00 WIB: inside both bots' business hours.
T0 = int(datetime(2026, 11, 25, 10, 0, tzinfo=JAKARTA).timestamp())


def body(reply: Reply) -> str:
    """The visible text of a reply (text body, interactive body, caption)."""
    m = reply.message
    if m["type"] == "text":
        return str(m["text"]["body"])
    if m["type"] == "interactive":
        return str(m["interactive"]["body"]["text"])
    if m["type"] == "template":
        return "template:" + str(m["template"]["name"])
    inner = m.get(m["type"], {})
    return str(inner.get("caption", "")) if isinstance(inner, dict) else ""


def options(reply: Reply) -> list[str]:
    """Ids of the buttons or list rows of an interactive reply."""
    m = reply.message
    if m["type"] != "interactive":
        return []
    inter = m["interactive"]
    if inter["type"] == "button":
        return [b["reply"]["id"] for b in inter["action"]["buttons"]]
    if inter["type"] == "list":
        return [r["id"] for s in inter["action"]["sections"] for r in s["rows"]]
    return []


def titles(reply: Reply) -> list[str]:
    m = reply.message
    inter = m.get("interactive", {})
    if inter.get("type") == "button":
        return [b["reply"]["title"] for b in inter["action"]["buttons"]]
    if inter.get("type") == "list":
        return [r["title"] for s in inter["action"]["sections"] for r in s["rows"]]
    return []


class Chat:
    """One customer talking to ``bot``; ``now`` moves forward ``step`` seconds per message."""

    def __init__(
        self,
        bot: Bot,
        *,
        wa_id: str = "6281234567890",
        name: str | None = "Budi Santoso",
        start: int = T0,
        step: int = 5,
    ) -> None:
        self.bot = bot
        self.wa_id = wa_id
        self.name = name
        self.now = start
        self.step = step
        self.state: dict[str, Any] = {}
        self.results: list[BotResult] = []
        self._n = 0

    def _deliver(self, msg: Incoming) -> BotResult:
        result = self.bot.handle(msg, self.state)
        self.state = json.loads(json.dumps(dict(result.state)))
        self.results.append(result)
        self.now += self.step
        return result

    def _base(self) -> dict[str, Any]:
        self._n += 1
        return {
            "wamid": f"wamid.T{self._n}",
            "phone_number_id": "109876543210987",
            "wa_id": self.wa_id,
            "profile_name": self.name,
            "timestamp": self.now,
        }

    def say(self, text: str, *, secrets: Sequence[str] = ()) -> BotResult:
        msg = Incoming(
            type="text", text=text, reply_id=None, secrets=tuple(secrets), **self._base()
        )
        return self._deliver(msg)

    def tap(self, reply_id: str, kind: str = "interactive") -> BotResult:
        return self._deliver(Incoming(type=kind, text=None, reply_id=reply_id, **self._base()))

    def send(self, mtype: str, raw: Mapping[str, Any], text: str | None = None) -> BotResult:
        msg = Incoming(type=mtype, text=text, reply_id=None, raw=dict(raw), **self._base())
        return self._deliver(msg)

    def event(self, name: str, data: Mapping[str, Any] | None = None) -> BotResult:
        msg = Incoming(
            type="event",
            text=None,
            reply_id=None,
            event=name,
            data=dict(data or {}),
            **self._base(),
        )
        return self._deliver(msg)

    def wait(self, seconds: float) -> None:
        self.now += int(seconds)


def texts(result: BotResult) -> list[str]:
    return [body(r) for r in result.replies]


def joined(result: BotResult) -> str:
    return "\n".join(texts(result))


BOT_YAML = """\
name: testbot
languages: [id, en]
session_timeout: 10
timezone: Asia/Jakarta
business_hours: {mon-fri: "08:00-17:00"}
allowed_domains: [example.co.id]
official: {number: "+62 21 555 0100"}
start_flow: menu
fallback_flow: fallback
commands:
  agent: {words: [agent, cs], flow: agent}
"""

NLU_YAML = """\
language: [id, en]
threshold: 0.5
intents:
  greeting:
    examples: [halo, hai, hello, hi, pagi]
  order_coffee:
    examples: [mau kopi, pesan kopi, i want coffee, order a coffee, kopi satu]
  opt_out:
    examples: [jangan kirim pesan lagi, stop sending me messages, berhenti kirim]
"""

BASE_FLOWS = {
    "menu": """\
        flow: menu
        triggers:
          - intent: greeting
        steps:
          - send: {id: "Menu utama", en: "Main menu"}
        """,
    "fallback": """\
        flow: fallback
        steps:
          - send: {id: "Maaf, tidak mengerti", en: "Sorry, not understood"}
        """,
    "agent": """\
        flow: agent
        steps:
          - handoff: {reason: asked for agent, text: "Menghubungkan"}
        """,
}


def make_bot(
    root: Path,
    flows: dict[str, str],
    *,
    bot_yaml: str = BOT_YAML,
    nlu_yaml: str | None = NLU_YAML,
    base: bool = True,
) -> Path:
    """Write a bot folder under ``root``; ``flows`` maps file stems to YAML (dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "bot.yaml").write_text(bot_yaml, encoding="utf-8")
    if nlu_yaml is not None:
        (root / "nlu.yaml").write_text(nlu_yaml, encoding="utf-8")
    (root / "flows").mkdir(exist_ok=True)
    merged = {**(BASE_FLOWS if base else {}), **flows}
    for stem, text in merged.items():
        (root / "flows" / f"{stem}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@dataclass(frozen=True, slots=True)
class FakePrediction:
    intent: str
    confidence: float


class FakeNlu:
    """Exact-text intent table; anything else is fallback with low confidence."""

    def __init__(self, table: dict[str, tuple[str, float]] | None = None) -> None:
        self.table = {
            "halo": ("greeting", 0.99),
            "hello": ("greeting", 0.99),
            "mau kopi": ("order_coffee", 0.97),
            "i want coffee": ("order_coffee", 0.97),
            "jangan kirim pesan lagi": ("opt_out", 0.98),
            **(table or {}),
        }
        self.calls = 0

    def predict(self, text: str) -> FakePrediction:
        self.calls += 1
        intent, confidence = self.table.get(text.strip().lower(), ("fallback", 0.2))
        return FakePrediction(intent, confidence)


def line_of(text: str, marker: str) -> int:
    """1-based line of the first line containing ``marker`` in dedented ``text``."""
    for number, line in enumerate(textwrap.dedent(text).splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in fixture")
