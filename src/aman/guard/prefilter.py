"""Literal pre-filters derived from regular expressions: skip a regex that cannot match.

``required_literals(pattern)`` reads the pattern's parse tree and returns a
conjunction of alternatives: every match of the pattern contains, as a
substring, at least one string of *each* group.  ``LiteralGate`` checks the
groups of many patterns against one text with a single regex scan, far cheaper
than running the patterns.  The derivation is conservative: where it cannot tell
(large character classes, optional parts, case-insensitive flags) it requires
nothing, so a pattern is left out only when it cannot match the text or any
substring of it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

__all__ = ["LiteralGate", "Need", "required_literals"]

Need = tuple[frozenset[str], ...]
"""All groups must be satisfied; a group is satisfied by any one of its strings."""

_MAX_EXACT = 64  # largest finite set of strings tracked for one run of the pattern
_MAX_CLASS = 12  # largest character class expanded into single characters
_MAX_COMBOS = 32  # most groups one alternation contributes
_PER_BRANCH = 3  # groups of one branch combined with those of the others
_FALLBACK_UNIONS = 3  # groups an alternation with too many combinations contributes
_ZERO_WIDTH = frozenset({sre.AT, sre.ASSERT, sre.ASSERT_NOT})
_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT})
_EMPTY: frozenset[str] = frozenset({""})


class _Info:
    """What one node can match: ``exact`` (a finite set, or None) and ``need`` groups."""

    __slots__ = ("exact", "need")

    def __init__(self, exact: frozenset[str] | None, need: Need = ()) -> None:
        self.exact = exact
        self.need = need

    def groups(self) -> Need:
        """Every group each match satisfies: the needs, and the exact set if never empty."""
        if self.exact is not None and "" not in self.exact and self.exact not in self.need:
            return (*self.need, self.exact)
        return self.need


def _selective(group: frozenset[str]) -> tuple[int, int]:
    """Rank groups: longer shortest string first, then fewer strings."""
    return min(map(len, group)), -len(group)


def _class_chars(items: Sequence[tuple[Any, Any]]) -> frozenset[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE and av[1] - av[0] < _MAX_CLASS:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY, large ranges: not a small finite set
            return None
        if len(chars) > _MAX_CLASS:
            return None
    return frozenset(chars)


def _cross(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
    if len(a) * len(b) > _MAX_EXACT:
        return None
    return frozenset(x + y for x in a for y in b)


def _seq(nodes: Iterable[tuple[Any, Any]]) -> _Info:
    """A sequence: the needs of its parts, plus each run of parts with a small exact set."""
    need: list[frozenset[str]] = []
    run = _EMPTY  # exact strings of the current run of consecutive exact parts
    whole: frozenset[str] | None = _EMPTY  # exact set of the whole sequence, if finite
    for op, av in nodes:
        info = _node(op, av)
        need.extend(info.need)
        joined = _cross(run, info.exact) if info.exact is not None else None
        if joined is None:  # the run ends here
            if "" not in run:
                need.append(run)
            run, whole = info.exact if info.exact is not None else _EMPTY, None
        else:
            run = joined
            whole = None if whole is None else run
    if "" not in run:
        need.append(run)
    return _Info(whole, tuple(dict.fromkeys(need)))


def _node(op: Any, av: Any) -> _Info:
    if op is sre.LITERAL:
        return _Info(frozenset({chr(av)}))
    if op in _ZERO_WIDTH:
        return _Info(_EMPTY)  # consumes nothing
    if op is sre.IN:
        return _Info(_class_chars(av))
    if op is sre.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        if (add_flags | del_flags) & re.IGNORECASE:
            return _Info(None)
        return _seq(sub)
    if op is sre.ATOMIC_GROUP:
        return _seq(av)
    if op is sre.BRANCH:
        branches = [_seq(b) for b in av[1]]
        exact: frozenset[str] | None = frozenset()
        for b in branches:
            if exact is None or b.exact is None or len(exact) + len(b.exact) > _MAX_EXACT:
                exact = None
            else:
                exact = exact | b.exact
        options = [b.groups() for b in branches]
        if not all(options):
            return _Info(exact)
        # A match is a match of one branch, so it satisfies the union of any one group
        # per branch: all such unions when there are few (of the most selective groups
        # of each branch), else a few of them (the k-th most selective group of every
        # branch, for k < _FALLBACK_UNIONS).
        ranked = [sorted(o, key=_selective, reverse=True) for o in options]
        if math.prod(min(len(r), _PER_BRANCH) for r in ranked) <= _MAX_COMBOS:
            choices = list(itertools.product(*(r[:_PER_BRANCH] for r in ranked)))
        else:
            choices = [
                tuple(r[min(k, len(r) - 1)] for r in ranked) for k in range(_FALLBACK_UNIONS)
            ]
        return _Info(exact, tuple(dict.fromkeys(frozenset().union(*c) for c in choices)))
    if op in _REPEATS:
        lo, hi, sub = av
        inner = _seq(sub)
        if lo == 0:
            if hi == 1 and inner.exact is not None:
                return _Info(inner.exact | _EMPTY)
            return _Info(None)
        if lo == hi == 1:
            return inner
        return _Info(None, inner.groups())
    # ANY, NOT_LITERAL, CATEGORY, GROUPREF ...: unknown text of unknown length.
    return _Info(None)


def required_literals(pattern: re.Pattern[str]) -> Need:
    """Groups of strings such that every match contains one string of each group."""
    if pattern.flags & re.IGNORECASE or not isinstance(pattern.pattern, str):
        return ()
    groups = _seq(sre_parse.parse(pattern.pattern, pattern.flags)).groups()
    return tuple(g for g in dict.fromkeys(groups) if g and "" not in g)


class LiteralGate:
    """Which of several patterns may match a text, decided by one scan for their literals.

    One regex (a trie of every required literal, in a lookahead so overlapping
    occurrences are all seen) lists the longest literal starting at each position;
    every literal that occurs is a substring of one listed, so the groups it
    satisfies are known from a precomputed closure.  A pattern is a candidate when
    all its groups are satisfied; a pattern with no groups always is.
    """

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        needs = [required_literals(p) for p in patterns]
        bits: dict[frozenset[str], int] = {}
        for need in needs:
            for group in need:
                bits.setdefault(group, 1 << len(bits))
        self._rules = [
            (p, sum(bits[g] for g in need)) for p, need in zip(patterns, needs, strict=True)
        ]
        literals = {s for group in bits for s in group}
        own = {s: sum(b for g, b in bits.items() if s in g) for s in literals}
        # A literal found implies every literal inside it was found too.
        self._mask: dict[str, int] = {}
        for found in literals:
            mask = 0
            for s in literals:
                if s in found:
                    mask |= own[s]
            self._mask[found] = mask
        self._scan = re.compile(f"(?=({_trie(literals)}))") if literals else None

    def candidates(self, text: str) -> list[re.Pattern[str]]:
        """The patterns that may match ``text`` or a substring of it (others cannot)."""
        seen = 0
        if self._scan is not None:
            mask = self._mask
            for found in set(self._scan.findall(text)):
                seen |= mask[found]
        return [p for p, need in self._rules if need & seen == need]


def _trie(words: Iterable[str]) -> str:
    """A regex matching the longest of ``words`` that starts at the current position."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body  # greedy: the longer word first

    return build(root)
