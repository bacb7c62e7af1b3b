"""Parse flow triggers (intent, keyword, regex, button, first message, schedule, inactivity, type).

Example::

    triggers:
      - intent: check_balance
        min_confidence: 0.6
      - keyword: {id: [cek saldo], en: [balance]}
        match: exact            # or contains
      - regex: "\\bsaldo\\b"
      - button: menu_balance
      - first_message: true
      - schedule: daily_tip     # a Timer with this name starts the flow
      - inactivity: {minutes: 10}
      - message_type: order     # order, image, location ...
"""

from __future__ import annotations

import re
from typing import Any

from aman.engine.flows.model import Trigger
from aman.engine.flows.schema_send import SchemaContext
from aman.engine.flows.yamlsrc import line_of

__all__ = ["DURATION_UNITS", "parse_duration", "parse_triggers"]

DURATION_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_TRIGGER_KEYS = frozenset(
    {
        "intent",
        "keyword",
        "regex",
        "button",
        "first_message",
        "schedule",
        "inactivity",
        "message_type",
    }
)


def parse_duration(ctx: SchemaContext, raw: Any, line: int, where: str) -> float | None:
    """``{seconds|minutes|hours|days: number}`` (several units add up) -> seconds."""
    if isinstance(raw, dict) and raw and set(raw) <= set(DURATION_UNITS):
        total = 0.0
        for unit, amount in raw.items():
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                break
            total += float(amount) * DURATION_UNITS[unit]
        else:
            return total
    ctx.err(line, where, "schema", "a duration is {seconds|minutes|hours|days: number}")
    return None


class _TriggerParser:
    def __init__(self, ctx: SchemaContext, flow: str, intents: frozenset[str] | None) -> None:
        self.ctx = ctx
        self.flow = flow
        self.intents = intents

    def triggers(self, raw: Any, line: int) -> tuple[Trigger, ...]:
        if not isinstance(raw, list):
            self.ctx.err(line, self.flow, "schema", "'triggers' must be a list")
            return ()
        out: list[Trigger] = []
        for item in raw:
            trig = self.trigger(item, line_of(item, line))
            if trig is not None:
                out.append(trig)
        return tuple(out)

    def trigger(self, raw: Any, line: int) -> Trigger | None:
        ctx, flow, file = self.ctx, self.flow, self.ctx.file
        kinds = [k for k in raw if k in _TRIGGER_KEYS] if isinstance(raw, dict) else []
        if len(kinds) != 1:
            ctx.err(line, flow, "schema", f"a trigger needs one of {sorted(_TRIGGER_KEYS)}")
            return None
        kind = kinds[0]
        value = raw[kind]
        allowed = {kind} | ({"min_confidence"} if kind == "intent" else set())
        allowed |= {"match"} if kind == "keyword" else set()
        if set(raw) - allowed:
            ctx.err(line, flow, "schema", f"unknown trigger keys {sorted(set(raw) - allowed)}")
        if kind == "intent":
            if not isinstance(value, str):
                ctx.err(line, flow, "schema", "'intent' needs an intent name")
                return None
            if self.intents is not None and value not in self.intents:
                ctx.err(line, flow, "unknown_intent", f"unknown intent {value!r}")
            conf = raw.get("min_confidence", 0.0)
            if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0 <= conf <= 1:
                ctx.err(line, flow, "schema", "'min_confidence' must be 0..1")
                conf = 0.0
            return Trigger("intent", flow, line, file, value=value, min_confidence=float(conf))
        if kind == "keyword":
            mode = raw.get("match", "exact")
            if mode not in ("exact", "contains"):
                ctx.err(line, flow, "schema", "keyword 'match' is exact or contains")
                return None
            words = self.keywords(value, line)
            return Trigger("keyword", flow, line, file, mode=mode, words=words) if words else None
        if kind == "regex":
            try:
                pattern = re.compile(str(value), re.IGNORECASE)
            except re.error as exc:
                ctx.err(line, flow, "schema", f"bad regex: {exc}")
                return None
            return Trigger("keyword", flow, line, file, mode="regex", pattern=pattern)
        if kind == "inactivity":
            seconds = parse_duration(ctx, value, line, flow)
            if seconds is None:
                return None
            return Trigger("inactivity", flow, line, file, seconds=seconds)
        if kind == "first_message":
            if value is not True:
                ctx.err(line, flow, "schema", "'first_message' must be true")
                return None
            return Trigger("first_message", flow, line, file)
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(v, str) for v in names):
            ctx.err(line, flow, "schema", f"'{kind}' needs a name or a list of names")
            return None
        if len(names) > 1:
            ctx.err(line, flow, "schema", f"one '{kind}' per trigger")
        return Trigger(kind, flow, line, file, value=names[0])

    def keywords(self, raw: Any, line: int) -> dict[str, tuple[str, ...]]:
        if isinstance(raw, str):
            raw = [raw]
        if isinstance(raw, list):
            raw = {"*": raw}
        if not isinstance(raw, dict) or not set(raw) <= {*self.ctx.languages, "*"}:
            self.ctx.err(line, self.flow, "schema", "keywords are a list or {lang: [words]}")
            return {}
        out: dict[str, tuple[str, ...]] = {}
        for lang, words in raw.items():
            if (
                not isinstance(words, list)
                or not words
                or not all(isinstance(x, str) and x.strip() for x in words)
            ):
                self.ctx.err(
                    line, self.flow, "schema", f"keywords [{lang}] must be a list of words"
                )
                continue
            out[lang] = tuple(words)
        return out


def parse_triggers(
    ctx: SchemaContext, flow: str, raw: Any, line: int, intents: frozenset[str] | None
) -> tuple[Trigger, ...]:
    """The triggers of flow ``flow``; problems go to ``ctx``."""
    return _TriggerParser(ctx, flow, intents).triggers(raw, line)
