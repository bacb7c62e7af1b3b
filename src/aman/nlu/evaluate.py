"""Score an NLU model on a labelled test set: accuracy, per-intent P/R/F1, confusion matrix."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aman.nlu.classifier import Prediction
from aman.nlu.data import FALLBACK, LabelledUtterance
from aman.nlu.errors import NluInputError

__all__ = ["EvalError", "EvalReport", "IntentScore", "evaluate"]


@dataclass(frozen=True, slots=True)
class IntentScore:
    """Precision, recall and F1 of one label (``fallback`` included)."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class EvalError:
    """One misclassified test sentence."""

    text: str
    expected: str
    predicted: str
    confidence: float


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Evaluation figures.

    ``accuracy`` counts every sentence with ``fallback`` as an ordinary label;
    ``in_domain_accuracy`` covers sentences with a real intent (a ``fallback``
    answer is wrong); ``ood_fallback_rate`` is the share of out-of-domain
    sentences answered with ``fallback`` (None without such sentences).
    ``confusion[i][j]`` counts gold ``labels[i]`` predicted as ``labels[j]``.
    """

    bot: str
    threshold: float
    total: int
    accuracy: float
    in_domain_total: int
    in_domain_accuracy: float | None
    out_of_domain_total: int
    ood_fallback_rate: float | None
    per_intent: tuple[IntentScore, ...]
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    mean_latency_ms: float
    errors: tuple[EvalError, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["confusion"] = [list(row) for row in self.confusion]
        out["labels"] = list(self.labels)
        return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def evaluate(
    predict: Callable[[str], Prediction],
    utterances: Sequence[LabelledUtterance],
    *,
    intents: Sequence[str],
    bot: str = "",
    threshold: float = 0.0,
) -> EvalReport:
    """Run ``predict`` over ``utterances`` and score it against their labels."""
    if not utterances:
        raise NluInputError("evaluate() needs at least one test sentence")
    labels = tuple(intents) + ((FALLBACK,) if FALLBACK not in intents else ())
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    errors: list[EvalError] = []
    started = time.perf_counter()
    for utt in utterances:
        if utt.intent not in index:
            raise NluInputError(f"test label {utt.intent!r} is not an intent of this bot")
        pred = predict(utt.text)
        predicted = pred.intent if pred.intent in index else FALLBACK
        confusion[index[utt.intent]][index[predicted]] += 1
        if predicted != utt.intent:
            errors.append(EvalError(utt.text, utt.intent, predicted, round(pred.confidence, 4)))
    elapsed = time.perf_counter() - started

    total = len(utterances)
    correct = sum(confusion[i][i] for i in range(len(labels)))
    fb = index[FALLBACK]
    ood_total = sum(confusion[fb])
    in_total = total - ood_total
    in_correct = correct - confusion[fb][fb]
    scores = []
    for i, label in enumerate(labels):
        tp = confusion[i][i]
        predicted_n = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = _ratio(tp, predicted_n)
        recall = _ratio(tp, support)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(
            IntentScore(label, round(precision, 4), round(recall, 4), round(f1, 4), support)
        )
    return EvalReport(
        bot=bot,
        threshold=threshold,
        total=total,
        accuracy=round(correct / total, 4),
        in_domain_total=in_total,
        in_domain_accuracy=round(in_correct / in_total, 4) if in_total else None,
        out_of_domain_total=ood_total,
        ood_fallback_rate=round(confusion[fb][fb] / ood_total, 4) if ood_total else None,
        per_intent=tuple(scores),
        labels=labels,
        confusion=tuple(tuple(row) for row in confusion),
        mean_latency_ms=round(1000 * elapsed / total, 4),
        errors=tuple(errors),
    )
