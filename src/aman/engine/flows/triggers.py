"""Match a customer message to a flow: global commands, buttons, keywords, message types, intents.

Everything is compiled into dictionaries when the bot loads; matching a message
is a few lookups plus (only when needed) the NLU prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from aman.engine.bot import Incoming
from aman.engine.flows.model import BotSpec, Command, Trigger
from aman.engine.flows.validate import fuzzy_equal
from aman.nlu.normalize import normalize

__all__ = ["Match", "TriggerIndex"]

STRICT_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True)
class Match:
    """A flow to start and, when a keyword said so, the language the customer used."""

    flow: str
    kind: str
    lang: str = ""


class TriggerIndex:
    """Lookup tables built once from a BotSpec."""

    def __init__(self, spec: BotSpec, disabled: frozenset[str] = frozenset()) -> None:
        """Index ``spec``'s triggers and commands, leaving out flows in ``disabled``.

        A command naming a disabled flow is dropped (its words reach the triggers
        and the fallback instead), except ``cancel``, which still cancels.
        """
        self.buttons: dict[str, str] = {}
        self.message_types: dict[str, str] = {}
        self.intents: dict[str, tuple[str, float]] = {}
        self.schedules: dict[str, str] = {}
        self.exact: dict[str, tuple[str, str]] = {}
        self.fuzzy: list[tuple[str, str, str]] = []
        self.contains: list[tuple[str, str, str]] = []
        self.regex: list[Trigger] = []
        self.first_message: list[str] = []
        self.inactivity: tuple[float, str] | None = None
        self.commands: dict[str, Command] = {}
        self._threshold = spec.config.threshold or 0.0
        for trig in spec.triggers:
            if trig.flow not in disabled:
                self._add(trig)
        for cmd in spec.config.commands:
            if cmd.flow is not None and cmd.flow in disabled:
                if cmd.name != "cancel":
                    continue
                cmd = replace(cmd, flow=None)
            for word in cmd.words:
                key = normalize(word)
                if key:
                    self.commands.setdefault(key, cmd)

    def _add(self, trig: Trigger) -> None:
        if trig.kind == "button":
            self.buttons.setdefault(trig.value, trig.flow)
        elif trig.kind == "message_type":
            self.message_types.setdefault(trig.value, trig.flow)
        elif trig.kind == "intent":
            self.intents.setdefault(trig.value, (trig.flow, trig.min_confidence))
        elif trig.kind == "schedule":
            self.schedules.setdefault(trig.value, trig.flow)
        elif trig.kind == "first_message":
            self.first_message.append(trig.flow)
        elif trig.kind == "inactivity":
            if self.inactivity is None or trig.seconds < self.inactivity[0]:
                self.inactivity = (trig.seconds, trig.flow)
        elif trig.mode == "regex":
            self.regex.append(trig)
        else:
            for lang, words in trig.words.items():
                for word in words:
                    key = normalize(word)
                    if not key:
                        continue
                    if trig.mode == "contains":
                        self.contains.append((f" {key} ", trig.flow, lang))
                    else:
                        self.exact.setdefault(key, (trig.flow, lang))
                        if len(key) >= 5:
                            self.fuzzy.append((key, trig.flow, lang))

    def command(self, text: str | None) -> Command | None:
        """The global command this whole message is, if any."""
        if not text or len(text) > 40:
            return None
        key = normalize(text)
        found = self.commands.get(key)
        if found is not None:
            return found
        if len(key) >= 5:
            for word, cmd in self.commands.items():
                if fuzzy_equal(key, word):
                    return cmd
        return None

    def match(
        self,
        msg: Incoming,
        normalized: str,
        intent: Callable[[], tuple[str, float]],
        *,
        strict: bool = False,
    ) -> Match | None:
        """The flow this message starts; ``strict`` (while a question is open) demands more."""
        if msg.reply_id:
            flow = self.buttons.get(msg.reply_id)
            return Match(flow, "button") if flow is not None else None
        flow = self.message_types.get(msg.type)
        if flow is not None:
            return Match(flow, "message_type")
        if not msg.text or not normalized:
            return None
        hit = self.exact.get(normalized)
        if hit is not None:
            return Match(hit[0], "keyword", "" if hit[1] == "*" else hit[1])
        if len(normalized) >= 5:
            for key, flow, lang in self.fuzzy:
                if fuzzy_equal(normalized, key):
                    return Match(flow, "keyword", "" if lang == "*" else lang)
        padded = f" {normalized} "
        for key, flow, lang in self.contains:
            if key in padded:
                return Match(flow, "keyword", "" if lang == "*" else lang)
        for trig in self.regex:
            if trig.pattern is not None and trig.pattern.search(msg.text):
                return Match(trig.flow, "regex")
        name, confidence = intent()
        found = self.intents.get(name)
        if found is None:
            return None
        floor = max(found[1], self._threshold, STRICT_CONFIDENCE if strict else 0.0)
        return Match(found[0], "intent") if confidence >= floor else None
