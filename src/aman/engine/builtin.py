"""Built-in bots: ``echo`` (benchmarks and smoke tests) and the bank and shop YAML flow bots.

``load_builtin_bot`` also accepts a path to a bot folder (bot.yaml + flows/ +
nlu.yaml), which is how users run their own copies of the examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from aman.engine.bot import Bot, BotResult, Incoming, text_reply
from aman.engine.flows.executor import FlowBot, load_flow_bot
from aman.engine.flows.loader import BOT_FILE, builtin_bot_dir, load_bot

__all__ = ["BUILTIN_BOTS", "EchoBot", "load_builtin_bot"]


class EchoBot:
    """Answers each text message with exactly the same text."""

    name = "echo"

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        if msg.type == "text" and msg.text:
            return BotResult((text_reply(msg.text),), state)
        return BotResult((), state)


BUILTIN_BOTS = ("echo", "shop", "bank")


@lru_cache(maxsize=4)
def _packaged(name: str) -> FlowBot:
    """The packaged bot, loaded and validated once per process."""
    directory = builtin_bot_dir(name)
    spec = load_bot(directory)
    from aman.nlu import load_bot_nlu

    return FlowBot(spec, nlu=load_bot_nlu(directory))


def load_builtin_bot(name: str) -> Bot:
    """The built-in bot called ``name``, or the bot in folder ``name``.

    ValueError names the choices when ``name`` is neither; an invalid folder raises
    ``aman.engine.flows.FlowLoadError`` listing every problem.
    """
    if name == "echo":
        return EchoBot()
    if name in ("shop", "bank"):
        return _packaged(name)
    path = Path(name).expanduser()
    if (path / BOT_FILE).is_file():
        return load_flow_bot(path)
    raise ValueError(
        f"unknown bot {name!r}: choose one of {', '.join(BUILTIN_BOTS)} or a folder with {BOT_FILE}"
    )
