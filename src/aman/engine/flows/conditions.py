"""Condition expressions of ``condition`` steps: compiled once into predicates over an EvalContext.

Grammar (one mapping per condition)::

    {field: NAME, eq|ne|gt|gte|lt|lte|in|not_in|contains|matches: VALUE}
    {field: NAME, exists: true|false}
    {tag: NAME} / {no_tag: NAME}
    {intent: NAME | [NAMES], min_confidence: 0.6}
    {entity: money|datetime|order_id|account_number|phone}
    {message_type: text|image|order|...}
    {time: {after: "08:00", before: "17:00"}}       # local time of day, bot timezone
    {weekday: [mon, tue, ...]}
    {business_hours: true|false}
    {verified: true|false}
    {all: [...]} / {any: [...]} / {not: {...}}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aman.engine.flows.errors import Problem
from aman.engine.flows.yamlsrc import YMap, line_of

__all__ = ["WEEKDAYS", "EvalContext", "compile_condition", "in_business_hours", "parse_clock"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_COMPARE = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "matches", "exists")


@dataclass(slots=True)
class EvalContext:
    """What conditions can look at while one message is handled."""

    fields: Mapping[str, Any]
    tags: frozenset[str]
    intent: str | None
    confidence: float
    entity_kinds: Callable[[], frozenset[str]]
    message_type: str
    now: datetime  # aware, in the bot's timezone
    business_hours: Mapping[int, tuple[tuple[int, int], ...]]
    verified: bool
    extra: dict[str, Any] = field(default_factory=dict)


def parse_clock(text: object) -> int | None:
    """``"08:30"`` -> minutes after midnight (24:00 allowed as the end of a day)."""
    if not isinstance(text, str):
        return None
    m = _CLOCK.match(text.strip())
    if not m:
        return None
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    return minutes if minutes <= 24 * 60 else None


def in_business_hours(now: datetime, hours: Mapping[int, tuple[tuple[int, int], ...]]) -> bool:
    minute = now.hour * 60 + now.minute
    return any(start <= minute < end for start, end in hours.get(now.weekday(), ()))


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "exists":
        return (have is not None and have != "") == bool(want)
    if op == "eq":
        return bool(have == want or (_num(have) is not None and _num(have) == _num(want)))
    if op == "ne":
        return not _compare("eq", have, want)
    if op in ("gt", "gte", "lt", "lte"):
        a, b = _num(have), _num(want)
        if a is None or b is None:
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op == "in":
        return isinstance(want, list) and have in want
    if op == "not_in":
        return isinstance(want, list) and have not in want
    if op == "contains":
        if isinstance(have, list):
            return want in have
        return isinstance(have, str) and str(want).lower() in have.lower()
    return False


class _Compiler:
    def __init__(self, file: str, step: str, intents: frozenset[str] | None) -> None:
        self.file = file
        self.step = step
        self.intents = intents
        self.problems: list[Problem] = []

    def bad(self, line: int, message: str, code: str = "condition") -> Callable[[Any], bool]:
        self.problems.append(Problem(self.file, line, self.step, code, message))
        return lambda _ctx: False

    def compile(self, raw: Any, line: int) -> Callable[[Any], bool]:
        if not isinstance(raw, dict) or not raw:
            return self.bad(line, "a condition must be a non-empty mapping")
        line = line_of(raw, line)
        keys = set(raw)
        if keys <= {"all"} or keys <= {"any"}:
            key = next(iter(keys))
            items = raw[key]
            if not isinstance(items, list) or not items:
                return self.bad(line, f"'{key}' needs a non-empty list of conditions")
            parts = [self.compile(item, line_of(item, line)) for item in items]
            if key == "all":
                return lambda ctx: all(p(ctx) for p in parts)
            return lambda ctx: any(p(ctx) for p in parts)
        if keys == {"not"}:
            inner = self.compile(raw["not"], line)
            return lambda ctx: not inner(ctx)
        if "field" in keys:
            return self._field(raw, line)
        if keys == {"tag"} or keys == {"no_tag"}:
            key = next(iter(keys))
            tag = raw[key]
            if not isinstance(tag, str) or not tag:
                return self.bad(line, f"'{key}' needs a tag name")
            if key == "tag":
                return lambda ctx: tag in ctx.tags
            return lambda ctx: tag not in ctx.tags
        if "intent" in keys and keys <= {"intent", "min_confidence"}:
            return self._intent(raw, line)
        if keys == {"entity"}:
            kind = raw["entity"]
            if not isinstance(kind, str):
                return self.bad(line, "'entity' needs an entity kind")
            return lambda ctx: kind in ctx.entity_kinds()
        if keys == {"message_type"}:
            mtype = raw["message_type"]
            return lambda ctx: ctx.message_type == mtype
        if keys == {"time"}:
            return self._time(raw["time"], line)
        if keys == {"weekday"}:
            days = raw["weekday"]
            if not isinstance(days, list) or not all(d in WEEKDAYS for d in days):
                return self.bad(line, f"'weekday' needs a list of {', '.join(WEEKDAYS)}")
            wanted = {WEEKDAYS.index(d) for d in days}
            return lambda ctx: ctx.now.weekday() in wanted
        if keys == {"business_hours"}:
            flag = raw["business_hours"]
            if not isinstance(flag, bool):
                return self.bad(line, "'business_hours' must be true or false")
            return lambda ctx: in_business_hours(ctx.now, ctx.business_hours) == flag
        if keys == {"verified"}:
            flag = raw["verified"]
            if not isinstance(flag, bool):
                return self.bad(line, "'verified' must be true or false")
            return lambda ctx: bool(ctx.verified) == flag
        return self.bad(line, f"unknown condition keys {sorted(keys)}")

    def _field(self, raw: Mapping[str, Any], line: int) -> Callable[[Any], bool]:
        name = raw["field"]
        ops = [k for k in raw if k != "field"]
        if not isinstance(name, str) or not name:
            return self.bad(line, "'field' needs a field name")
        if len(ops) != 1 or ops[0] not in _COMPARE:
            return self.bad(line, f"field condition needs exactly one of {', '.join(_COMPARE)}")
        op = ops[0]
        want = raw[op]
        if op == "matches":
            if not isinstance(want, str):
                return self.bad(line, "'matches' needs a regular expression")
            try:
                pattern = re.compile(want)
            except re.error as exc:
                return self.bad(line, f"bad regular expression: {exc}")
            return lambda ctx: (
                isinstance(ctx.fields.get(name), str) and bool(pattern.search(ctx.fields[name]))
            )
        if op in ("in", "not_in") and not isinstance(want, list):
            return self.bad(line, f"'{op}' needs a list")
        return lambda ctx: _compare(op, ctx.fields.get(name), want)

    def _intent(self, raw: Mapping[str, Any], line: int) -> Callable[[Any], bool]:
        value = raw["intent"]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return self.bad(line, "'intent' needs an intent name or a list of them")
        if self.intents is not None:
            for n in names:
                if n not in self.intents:
                    self.problems.append(
                        Problem(
                            self.file, line, self.step, "unknown_intent", f"unknown intent {n!r}"
                        )
                    )
        minimum = raw.get("min_confidence", 0.0)
        if isinstance(minimum, bool) or not isinstance(minimum, int | float):
            return self.bad(line, "'min_confidence' must be a number")
        wanted = frozenset(names)
        floor = float(minimum)
        return lambda ctx: ctx.intent in wanted and ctx.confidence >= floor

    def _time(self, raw: Any, line: int) -> Callable[[Any], bool]:
        if not isinstance(raw, dict) or not raw or not set(raw) <= {"after", "before"}:
            return self.bad(line, "'time' needs 'after' and/or 'before' as \"HH:MM\"")
        after = parse_clock(raw.get("after", "00:00"))
        before = parse_clock(raw.get("before", "24:00"))
        if after is None or before is None:
            return self.bad(line, "'time' values must be \"HH:MM\"")

        def check(ctx: Any) -> bool:
            minute = ctx.now.hour * 60 + ctx.now.minute
            if after <= before:
                return bool(after <= minute < before)
            return bool(minute >= after or minute < before)  # overnight window

        return check


def compile_condition(
    raw: Any, *, file: str, line: int, step: str, intents: frozenset[str] | None
) -> tuple[Callable[[Any], bool], list[Problem]]:
    """Compile one condition; problems name the file, line and step."""
    compiler = _Compiler(file, step, intents)
    predicate = compiler.compile(raw, line_of(raw, line) if isinstance(raw, YMap) else line)
    return predicate, compiler.problems
