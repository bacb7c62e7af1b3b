"""Route each message to the bot configured for the business number it was sent to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aman.engine.bot import Bot, BotResult, Incoming

__all__ = ["BotRouter"]


class BotRouter:
    """A bot that delegates by ``phone_number_id`` (multi-number set-ups), else the default."""

    name = "router"

    def __init__(self, default: Bot, by_number: Mapping[str, Bot] | None = None) -> None:
        self.default = default
        self._by_number = dict(by_number or {})

    def bots(self) -> tuple[Bot, ...]:
        """Every bot this router can hand a message to, the default first."""
        return (self.default, *self._by_number.values())

    def bot_for(self, phone_number_id: str) -> Bot:
        return self._by_number.get(phone_number_id, self.default)

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        return self.bot_for(msg.phone_number_id).handle(msg, state)
