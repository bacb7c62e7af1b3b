"""Choose a bot's fallback threshold by cross-validation on its training data (never the test set).

Repeated stratified k-fold over nlu.yaml (intents and out-of-scope examples): each
held-out example is classified by a model trained without it. For every candidate
threshold 0.00-0.95 the out-of-fold predictions give the in-domain accuracy (a
``fallback`` answer counts as wrong) and, when out-of-scope examples exist, the share
of them answered ``fallback``. Rule: the lowest threshold whose out-of-scope ->
fallback rate reaches ``ood_target`` (default 0.80, the product requirement), i.e. the
requirement met at the least in-domain cost; if no threshold reaches it, the one
maximising in-domain accuracy + out-of-scope rate. Without out-of-scope examples:
the highest threshold that loses at most 2 points of in-domain accuracy.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aman.nlu.classifier import ClassifierConfig, IntentClassifier
from aman.nlu.data import FALLBACK, NLU_FILE, OUT_OF_SCOPE, BotNluData
from aman.nlu.errors import NluDataError

__all__ = ["CalibrationReport", "calibrate_threshold", "write_threshold"]

_GRID = tuple(round(0.01 * i, 2) for i in range(96))
_MAX_IN_DOMAIN_LOSS = 0.02
_THRESHOLD_LINE = re.compile(r"^threshold:[ \t]*[0-9.]+[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """Chosen threshold and the out-of-fold figures behind it."""

    bot: str
    threshold: float
    folds: int
    repeats: int
    cv_top1_accuracy: float
    cv_in_domain_accuracy: float
    cv_ood_fallback_rate: float | None
    curve: tuple[tuple[float, float, float | None], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["curve"] = [list(point) for point in self.curve]
        return out


def _out_of_fold(
    data: BotNluData, config: ClassifierConfig, folds: int, repeats: int, seed: int
) -> tuple[list[str], list[str], list[float], list[bool]]:
    from sklearn.model_selection import StratifiedKFold

    pairs = data.training_pairs()
    labels = np.array([label for _, label in pairs])
    gold: list[str] = []
    top: list[str] = []
    conf: list[float] = []
    known: list[bool] = []
    for repeat in range(repeats):
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        for train_idx, test_idx in splitter.split(np.zeros(len(pairs)), labels):
            model = IntentClassifier.train(
                [pairs[i] for i in train_idx], threshold=0.0, config=config
            )
            for i in test_idx:
                text, label = pairs[i]
                pred = model.predict(text)
                gold.append(FALLBACK if label == OUT_OF_SCOPE else label)
                top.append(pred.ranking[0][0])
                conf.append(pred.confidence)
                known.append(pred.intent != FALLBACK or pred.ranking[0][0] == FALLBACK)
    return gold, top, conf, known


def calibrate_threshold(
    data: BotNluData,
    *,
    config: ClassifierConfig | None = None,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    ood_target: float = 0.8,
) -> CalibrationReport:
    """Cross-validate ``data`` and return the best fallback threshold (see module doc)."""
    cfg = config or ClassifierConfig()
    smallest = min(len(texts) for texts in data.intents.values())
    if data.out_of_scope:
        smallest = min(smallest, len(data.out_of_scope))
    if not 0.0 < ood_target <= 1.0:
        raise NluDataError("ood_target must be in (0, 1]")
    if folds < 2 or repeats < 1 or smallest < folds:
        raise NluDataError(
            f"calibration needs folds >= 2, repeats >= 1 and >= {folds} examples per class"
        )
    gold_l, top_l, conf_l, known_l = _out_of_fold(data, cfg, folds, repeats, seed)
    gold, top = np.array(gold_l), np.array(top_l)
    conf, known = np.array(conf_l), np.array(known_l)
    in_domain = gold != FALLBACK
    has_ood = bool((~in_domain).any())
    curve: list[tuple[float, float, float | None]] = []
    for t in _GRID:
        pred = np.where(~known | (conf < t) | (top == FALLBACK), FALLBACK, top)
        in_acc = float(np.mean(pred[in_domain] == gold[in_domain]))
        ood = float(np.mean(pred[~in_domain] == FALLBACK)) if has_ood else None
        curve.append((t, round(in_acc, 4), None if ood is None else round(ood, 4)))
    reaching = [p for p in curve if p[2] is not None and p[2] >= ood_target]
    if reaching:
        best = reaching[0]
    elif has_ood:
        best = max(curve, key=lambda p: (p[1] + (p[2] or 0.0), -p[0]))
    else:
        floor = curve[0][1] - _MAX_IN_DOMAIN_LOSS
        best = max((p for p in curve if p[1] >= floor), key=lambda p: p[0])
    top1 = float(np.mean(top[in_domain] == gold[in_domain]))
    return CalibrationReport(
        bot=data.name,
        threshold=best[0],
        folds=folds,
        repeats=repeats,
        cv_top1_accuracy=round(top1, 4),
        cv_in_domain_accuracy=best[1],
        cv_ood_fallback_rate=best[2],
        curve=tuple(curve),
    )


def write_threshold(bot_dir: Path, threshold: float) -> None:
    """Rewrite the ``threshold:`` line of ``bot_dir/nlu.yaml`` in place (comments kept)."""
    if not 0.0 <= threshold < 1.0:
        raise NluDataError("threshold must be in [0, 1)")
    path = bot_dir / NLU_FILE
    text = path.read_text(encoding="utf-8")
    new_text, count = _THRESHOLD_LINE.subn(f"threshold: {threshold:.2f}", text, count=1)
    if count != 1:
        raise NluDataError(f"{path}: no top-level 'threshold: <number>' line to update")
    path.write_text(new_text, encoding="utf-8")
