"""The segment rule language: a small JSON tree, validated on save, evaluated per contact.

    rule := {"all": [rule, ...]} | {"any": [rule, ...]} | {"not": rule}
          | {"tag": "vip"}
          | {"attr": A, "op": OP, "value": V}     contact attributes (SQL-evaluable)
          | {"field": "city", "op": OP, "value": V}   sealed custom fields (decrypted)

Attributes and their operators:

- ``language``: eq, ne, in, exists
- ``orders_count``, ``orders_total``: eq, ne, gt, gte, lt, lte
- ``last_inbound``, ``last_order``, ``created``: within_days, older_than_days, never
- ``marketing`` (granted / denied / unknown): eq, ne, in
- ``opted_out``, ``number_valid``: eq (true / false)

Custom fields: eq, ne, in, contains (text, case-insensitive), gt, gte, lt, lte
(numbers), exists.  ``intent`` rules are refused: the conversation state keeps
no history of intents, so such a segment could not be evaluated truthfully.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from aman.campaigns.errors import SegmentRuleError

__all__ = [
    "ATTRS",
    "DAY",
    "Attr",
    "Bool",
    "Facts",
    "FieldRule",
    "Not",
    "Rule",
    "Tag",
    "canonical",
    "evaluate",
    "parse_rule",
    "uses_fields",
]

DAY = 86400.0
MAX_DEPTH = 8
MAX_NODES = 200

_TEXT_OPS = frozenset({"eq", "ne", "in", "exists"})
_NUM_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})
_TIME_OPS = frozenset({"within_days", "older_than_days", "never"})
_ENUM_OPS = frozenset({"eq", "ne", "in"})
_BOOL_OPS = frozenset({"eq"})
_FIELD_OPS = frozenset({"eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "exists"})
ATTRS: Mapping[str, frozenset[str]] = {
    "language": _TEXT_OPS,
    "orders_count": _NUM_OPS,
    "orders_total": _NUM_OPS,
    "last_inbound": _TIME_OPS,
    "last_order": _TIME_OPS,
    "created": _TIME_OPS,
    "marketing": _ENUM_OPS,
    "opted_out": _BOOL_OPS,
    "number_valid": _BOOL_OPS,
}
_MARKETING = ("granted", "denied", "unknown")


@dataclass(frozen=True, slots=True)
class Bool:
    op: str  # all | any
    children: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Rule


@dataclass(frozen=True, slots=True)
class Tag:
    tag: str


@dataclass(frozen=True, slots=True)
class Attr:
    attr: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class FieldRule:
    field: str
    op: str
    value: Any


Rule = Bool | Not | Tag | Attr | FieldRule


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SegmentRuleError(path, "must be a number")
    return float(value)


def _check_value(kind: str, op: str, value: Any, path: str) -> Any:
    if op in ("exists", "never"):
        if value not in (None, True):
            raise SegmentRuleError(path, f"op {op!r} takes no value (or true)")
        return None
    if op in ("within_days", "older_than_days"):
        days = _num(value, path)
        if not 0 <= days <= 36500:
            raise SegmentRuleError(path, "days must be between 0 and 36500")
        return days
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > 100:
            raise SegmentRuleError(path, "op 'in' needs a list of 1 to 100 values")
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise SegmentRuleError(path, "op 'in' values must be text or numbers")
        if kind == "marketing" and any(v not in _MARKETING for v in value):
            raise SegmentRuleError(path, f"marketing is one of {', '.join(_MARKETING)}")
        return tuple(value)
    if kind in ("orders_count", "orders_total") or op in ("gt", "gte", "lt", "lte"):
        return _num(value, path)
    if kind in ("opted_out", "number_valid"):
        if not isinstance(value, bool):
            raise SegmentRuleError(path, "must be true or false")
        return value
    if kind == "marketing" and value not in _MARKETING:
        raise SegmentRuleError(path, f"marketing is one of {', '.join(_MARKETING)}")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise SegmentRuleError(path, "must be text or a number")
    if isinstance(value, str) and len(value) > 200:
        raise SegmentRuleError(path, "at most 200 characters")
    return value


class _Parser:
    def __init__(self) -> None:
        self.nodes = 0

    def parse(self, raw: Any, path: str, depth: int) -> Rule:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SegmentRuleError(path, f"a rule may have at most {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise SegmentRuleError(path, f"rules nest at most {MAX_DEPTH} levels deep")
        if not isinstance(raw, dict) or not raw:
            raise SegmentRuleError(path, "each rule is a JSON object")
        if "intent" in raw:
            raise SegmentRuleError(
                path,
                "intent rules are not available: conversation state keeps no history of "
                "intents (use tags set by flows instead)",
            )
        for joiner in ("all", "any"):
            if joiner in raw:
                self._only(raw, {joiner}, path)
                items = raw[joiner]
                if not isinstance(items, list) or not items:
                    raise SegmentRuleError(f"{path}.{joiner}", "needs a non-empty list of rules")
                return Bool(
                    joiner,
                    tuple(
                        self.parse(r, f"{path}.{joiner}[{i}]", depth + 1)
                        for i, r in enumerate(items)
                    ),
                )
        if "not" in raw:
            self._only(raw, {"not"}, path)
            return Not(self.parse(raw["not"], f"{path}.not", depth + 1))
        if "tag" in raw:
            self._only(raw, {"tag"}, path)
            tag = raw["tag"]
            if not isinstance(tag, str) or not 0 < len(tag) <= 64:
                raise SegmentRuleError(f"{path}.tag", "a tag is 1 to 64 characters of text")
            return Tag(tag.strip().lower())
        if "attr" in raw:
            self._only(raw, {"attr", "op", "value"}, path)
            attr, op = raw["attr"], raw.get("op")
            if attr not in ATTRS:
                raise SegmentRuleError(
                    f"{path}.attr", f"unknown attribute {attr!r}; known: {', '.join(ATTRS)}"
                )
            if op not in ATTRS[attr]:
                raise SegmentRuleError(
                    f"{path}.op", f"{attr} supports {', '.join(sorted(ATTRS[attr]))}"
                )
            return Attr(attr, op, _check_value(attr, op, raw.get("value"), f"{path}.value"))
        if "field" in raw:
            self._only(raw, {"field", "op", "value"}, path)
            name, op = raw["field"], raw.get("op")
            if not isinstance(name, str) or not name or len(name) > 64:
                raise SegmentRuleError(f"{path}.field", "a field name is 1 to 64 characters")
            if op not in _FIELD_OPS:
                raise SegmentRuleError(
                    f"{path}.op", f"custom fields support {', '.join(sorted(_FIELD_OPS))}"
                )
            return FieldRule(
                name.strip().lower(),
                op,
                _check_value("field", op, raw.get("value"), f"{path}.value"),
            )
        raise SegmentRuleError(
            path, "unknown rule: use all, any, not, tag, attr or field (see the rule reference)"
        )

    @staticmethod
    def _only(raw: Mapping[str, Any], allowed: Set[str], path: str) -> None:
        extra = sorted(set(raw) - allowed)
        if extra:
            raise SegmentRuleError(path, f"unexpected key(s) {', '.join(extra)}")


def parse_rule(raw: Any) -> Rule:
    """Validate a rule (already decoded JSON, or JSON text) and return its tree."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SegmentRuleError("$", f"not valid JSON: {exc}") from None
    return _Parser().parse(raw, "$", 0)


def canonical(raw: Any) -> str:
    """The stored form of a validated rule: compact, key-sorted JSON."""
    parse_rule(raw)
    if isinstance(raw, str | bytes):
        raw = json.loads(raw)
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def uses_fields(rule: Rule) -> bool:
    if isinstance(rule, FieldRule):
        return True
    if isinstance(rule, Bool):
        return any(uses_fields(c) for c in rule.children)
    if isinstance(rule, Not):
        return uses_fields(rule.child)
    return False


@dataclass(slots=True)
class Facts:
    """What a rule can look at for one contact; ``fields`` is opened only when asked."""

    attrs: Mapping[str, Any]  # language, orders_count, ..., last_inbound (epoch or 0/None)
    tags: Set[str]
    load_fields: Callable[[], Mapping[str, Any]]
    _fields: Mapping[str, Any] | None = None

    def fields(self) -> Mapping[str, Any]:
        if self._fields is None:
            self._fields = self.load_fields()
        return self._fields


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same(have: Any, want: Any) -> bool:
    if isinstance(want, int | float) and not isinstance(want, bool):
        number = _as_number(have)
        return number is not None and number == float(want)
    return str(have).strip().casefold() == str(want).strip().casefold()


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "exists":
        return have is not None and have != ""
    if have is None:
        return op == "ne"
    if op in ("gt", "gte", "lt", "lte"):
        x = _as_number(have)
        if x is None:
            return False
        limit = float(want)
        checks = {"gt": x > limit, "gte": x >= limit, "lt": x < limit, "lte": x <= limit}
        return checks[op]
    if op == "contains":
        return str(want).casefold() in str(have).casefold()
    if op == "in":
        return any(_same(have, w) for w in want)
    return _same(have, want) if op == "eq" else not _same(have, want)


def _time(op: str, at: float | None, days: float | None, now: float) -> bool:
    if op == "never":
        return not at
    if not at or days is None:
        return False
    cutoff = now - days * DAY
    return at >= cutoff if op == "within_days" else at < cutoff


def evaluate(rule: Rule, facts: Facts, now: float) -> bool:
    """Does the contact described by ``facts`` match ``rule`` at time ``now``?"""
    if isinstance(rule, Bool):
        results = (evaluate(c, facts, now) for c in rule.children)
        return all(results) if rule.op == "all" else any(results)
    if isinstance(rule, Not):
        return not evaluate(rule.child, facts, now)
    if isinstance(rule, Tag):
        return rule.tag in facts.tags
    if isinstance(rule, FieldRule):
        return _compare(rule.op, facts.fields().get(rule.field), rule.value)
    have = facts.attrs.get(rule.attr)
    if rule.op in _TIME_OPS:
        return _time(rule.op, have, rule.value, now)
    if rule.attr in ("opted_out", "number_valid"):
        return bool(have) is rule.value
    return _compare(rule.op, have, rule.value)
