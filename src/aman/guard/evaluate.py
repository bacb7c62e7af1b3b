"""Load the labelled guard corpus and measure the detector on it.

A corpus is JSON Lines.  An optional first line ``{"_meta": {"own_domains": [...]}}``
names the domains treated as ours; every other line is
``{"text", "label": "benign"|"malicious", "category", "lang", "split": "dev"|"test"}``.
A message counts as flagged when its verdict is not ``benign``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aman.guard.errors import CorpusError
from aman.guard.scan import scan

__all__ = [
    "Corpus",
    "CorpusItem",
    "Miss",
    "SplitReport",
    "evaluate",
    "load_corpus",
]

_LABELS = frozenset({"benign", "malicious"})
_SPLITS = frozenset({"dev", "test"})
_LANGS = frozenset({"id", "en", "mix"})


@dataclass(frozen=True, slots=True)
class CorpusItem:
    """One labelled message."""

    text: str
    label: str
    category: str
    lang: str
    split: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """Items plus the own domains named in the corpus header."""

    items: tuple[CorpusItem, ...]
    own_domains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Miss:
    """A misclassified item with what the detector said."""

    item: CorpusItem
    verdict: str
    score: float
    reasons: tuple[str, ...]


@dataclass(slots=True)
class SplitReport:
    """Confusion counts and derived rates for one split (or "all")."""

    split: str
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    per_category: dict[str, list[int]] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)

    @property
    def precision(self) -> float:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        positives = self.tp + self.fn
        return self.tp / positives if positives else 1.0

    @property
    def fpr(self) -> float:
        negatives = self.fp + self.tn
        return self.fp / negatives if negatives else 0.0

    def category_rates(self) -> dict[str, tuple[int, int, float]]:
        """category -> (items, flagged, flagged share); recall for malicious categories,
        false-positive rate for benign ones."""
        return {
            cat: (n, flagged, flagged / n if n else 0.0)
            for cat, (n, flagged) in sorted(self.per_category.items())
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "split": self.split,
            "tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "fpr": round(self.fpr, 4),
            "per_category": {
                cat: {"n": n, "flagged": flagged, "rate": round(rate, 4)}
                for cat, (n, flagged, rate) in self.category_rates().items()
            },
            "misclassified": [
                {"text": m.item.text, "label": m.item.label, "category": m.item.category,
                 "split": m.item.split, "verdict": m.verdict, "score": round(m.score, 4),
                 "reasons": list(m.reasons)}
                for m in self.misses
            ],
        }


def _parse_item(obj: Any, lineno: int) -> CorpusItem:
    if not isinstance(obj, dict):
        raise CorpusError(f"line {lineno}: expected a JSON object")
    try:
        item = CorpusItem(
            text=obj["text"], label=obj["label"], category=obj["category"],
            lang=obj["lang"], split=obj["split"],
        )
    except KeyError as exc:
        raise CorpusError(f"line {lineno}: missing field {exc.args[0]!r}") from None
    if not all(isinstance(v, str) for v in (item.text, item.label, item.category, item.lang,
                                             item.split)):
        raise CorpusError(f"line {lineno}: every field must be a string")
    if item.label not in _LABELS:
        raise CorpusError(f"line {lineno}: label must be benign or malicious")
    if item.split not in _SPLITS:
        raise CorpusError(f"line {lineno}: split must be dev or test")
    if item.lang not in _LANGS:
        raise CorpusError(f"line {lineno}: lang must be id, en or mix")
    return item


def _parse_lines(lines: Iterable[str]) -> Corpus:
    items: list[CorpusItem] = []
    own: tuple[str, ...] = ()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"line {lineno}: invalid JSON ({exc.msg})") from None
        if isinstance(obj, dict) and "_meta" in obj:
            meta = obj["_meta"]
            domains = meta.get("own_domains", []) if isinstance(meta, dict) else []
            if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
                raise CorpusError(f"line {lineno}: _meta.own_domains must be a list of strings")
            own = tuple(domains)
            continue
        items.append(_parse_item(obj, lineno))
    if not items:
        raise CorpusError("corpus has no items")
    return Corpus(items=tuple(items), own_domains=own)


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Read a corpus file; ``None`` means the corpus shipped with aman.guard."""
    try:
        if path is None:
            text = resources.files("aman.guard").joinpath("corpus.jsonl").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read corpus: {exc}") from None
    return _parse_lines(text.splitlines())


def evaluate(
    corpus: Corpus,
    own_domains: Sequence[str] | None = None,
    splits: Sequence[str] = ("dev", "test"),
) -> dict[str, SplitReport]:
    """Scan every item; one report per requested split plus "all".

    ``own_domains`` defaults to the corpus header.
    """
    domains = tuple(corpus.own_domains if own_domains is None else own_domains)
    reports = {name: SplitReport(split=name) for name in (*splits, "all")}
    for item in corpus.items:
        targets = [reports["all"]]
        if item.split in reports and item.split != "all":
            targets.append(reports[item.split])
        verdict = scan(item.text, domains)
        flagged = verdict.verdict != "benign"
        malicious = item.label == "malicious"
        for rep in targets:
            counts = rep.per_category.setdefault(item.category, [0, 0])
            counts[0] += 1
            counts[1] += int(flagged)
            if malicious and flagged:
                rep.tp += 1
            elif malicious:
                rep.fn += 1
            elif flagged:
                rep.fp += 1
            else:
                rep.tn += 1
            if flagged != malicious:
                rep.misses.append(
                    Miss(item, verdict.verdict, verdict.score, tuple(verdict.reasons))
                )
    return reports
