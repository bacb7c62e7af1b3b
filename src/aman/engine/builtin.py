"""Built-in bots: ``echo`` (benchmarks and smoke tests) and the bank/shop greeting menus.

The greeting menus are deliberately small: they make the demo converse through
the whole pipeline.  The YAML flow engine replaces them with full flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aman.engine.bot import Bot, BotResult, Incoming, Reply, buttons_reply, text_reply
from aman.security.redact import SECRET_WARNING_EN, SECRET_WARNING_ID

__all__ = ["BUILTIN_BOTS", "EchoBot", "MenuBot", "load_builtin_bot"]


class EchoBot:
    """Answers each text message with exactly the same text."""

    name = "echo"

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        if msg.type == "text" and msg.text:
            return BotResult((text_reply(msg.text),), state)
        return BotResult((), state)


@dataclass(frozen=True, slots=True)
class MenuText:
    greeting: str
    buttons: tuple[tuple[str, str], ...]
    answers: Mapping[str, str]
    unknown: str


_SHOP = MenuText(
    greeting=(
        "Halo{name}! Selamat datang di Aman Shop. Ada yang bisa kami bantu?\n"
        "Hi! Welcome to Aman Shop. How can we help?"
    ),
    buttons=(("track", "Lacak pesanan"), ("return", "Retur barang"), ("agent", "Bicara dengan CS")),
    answers={
        "track": "Kirim nomor pesanan Anda (contoh: ORD-12345). / Send your order number.",
        "return": "Untuk retur, kirim nomor pesanan dan alasan retur. / For a return, send "
        "the order number and the reason.",
        "agent": "Baik, kami sambungkan ke CS kami. / Connecting you to our team.",
    },
    unknown="Pilih salah satu menu di bawah ya. / Please pick one of the options below.",
)

_BANK = MenuText(
    greeting=(
        "Halo{name}, ini asisten resmi Bank Aman. Kami TIDAK PERNAH meminta PIN, OTP atau "
        "password.\nHi, this is Bank Aman's official assistant. We NEVER ask for your PIN, "
        "OTP or password."
    ),
    buttons=(("balance", "Cek saldo"), ("card", "Blokir kartu"), ("agent", "Bicara dengan CS")),
    answers={
        "balance": "Untuk cek saldo kami kirim tautan verifikasi aman. / We will send a "
        "secure verification link to check your balance.",
        "card": "Permintaan blokir kartu diteruskan ke petugas kami segera. / Your card block "
        "request goes to our staff right away.",
        "agent": "Baik, kami sambungkan ke petugas. / Connecting you to our staff.",
    },
    unknown="Pilih salah satu menu di bawah ya. / Please pick one of the options below.",
)


class MenuBot:
    """Greets, offers a three-button menu and answers the button replies."""

    def __init__(self, name: str, texts: MenuText) -> None:
        self.name = name
        self._t = texts

    def _menu(self, msg: Incoming) -> Reply:
        first = (msg.profile_name or "").split(" ")[0][:30]
        greeting = self._t.greeting.format(name=f" {first}" if first else "")
        return buttons_reply(greeting, list(self._t.buttons))

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        seen = int(state.get("messages", 0)) + 1
        new_state = {"messages": seen}
        if msg.secrets:
            return BotResult(
                (text_reply(f"{SECRET_WARNING_ID}\n{SECRET_WARNING_EN}"), self._menu(msg)),
                new_state,
            )
        if msg.reply_id and msg.reply_id in self._t.answers:
            return BotResult((text_reply(self._t.answers[msg.reply_id]),), new_state)
        if seen == 1 or msg.type == "text":
            return BotResult((self._menu(msg),), new_state)
        return BotResult((text_reply(self._t.unknown), self._menu(msg)), new_state)


BUILTIN_BOTS = ("echo", "shop", "bank")


def load_builtin_bot(name: str) -> Bot:
    """The built-in bot called ``name``; ValueError names the choices otherwise."""
    if name == "echo":
        return EchoBot()
    if name == "shop":
        return MenuBot("shop", _SHOP)
    if name == "bank":
        return MenuBot("bank", _BANK)
    raise ValueError(f"unknown bot {name!r}: choose one of {', '.join(BUILTIN_BOTS)}")
