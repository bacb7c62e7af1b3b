"""aman.engine.flows: YAML conversation flows (load, validate, run) for WhatsApp bots.

Typical use::

    from aman.engine.flows import load_flow_bot
    bot = load_flow_bot(Path("my_bot"))       # bot.yaml, flows/*.yaml, nlu.yaml
    result = bot.handle(incoming, state)      # aman.engine.bot.Bot protocol
"""

from aman.engine.flows.errors import FlowError, FlowLoadError, FlowRuntimeError, Problem
from aman.engine.flows.executor import FlowBot, IntentModel, load_flow_bot
from aman.engine.flows.hooks import HookContext, HookResult, hook
from aman.engine.flows.loader import builtin_bot_dir, inspect_bot, load_bot
from aman.engine.flows.model import BotSpec

__all__ = [
    "BotSpec",
    "FlowBot",
    "FlowError",
    "FlowLoadError",
    "FlowRuntimeError",
    "HookContext",
    "HookResult",
    "IntentModel",
    "Problem",
    "builtin_bot_dir",
    "hook",
    "inspect_bot",
    "load_bot",
    "load_flow_bot",
]
