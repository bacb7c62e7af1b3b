"""Intent classifier: TF-IDF n-grams + linear SVM, temperature-scaled into calibrated probabilities.

Training (scikit-learn, imported only when training):
  * features: ``FeatureSpace`` (char n-grams 2-4 inside word boundaries + word 1-2
    grams at half weight, digits masked) over ``normalize``d text;
  * model: one-vs-rest ``LinearSVC`` (C=1);
  * calibration: a single temperature T fitted by minimising the log loss of
    softmax(scores / T) on out-of-fold scores (stratified k-fold), so the
    confidence is a probability in 0..1 rather than a raw margin.
These choices were made by cross-validation on the bots' training data (see the
NLU report); logistic regression was slower and less well calibrated.

Prediction needs only numpy: the fitted state is plain arrays (``to_arrays`` /
``from_arrays``), never pickle. Below ``threshold`` (or when the top class is the
optional out-of-scope class, or when no known n-gram occurs) the intent is
``fallback``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from aman.nlu.data import FALLBACK, OUT_OF_SCOPE
from aman.nlu.errors import NluDataError, NluInputError
from aman.nlu.features import FeatureConfig, FeatureSpace, FloatArray
from aman.nlu.normalize import normalize

__all__ = ["CODE_VERSION", "ClassifierConfig", "IntentClassifier", "Prediction"]

# Bump whenever features, training or the array layout change: it is part of the
# model cache key, so old cached models are ignored rather than misread.
CODE_VERSION = "nlu-classifier-3"


@dataclass(frozen=True, slots=True)
class ClassifierConfig:
    """Training hyper-parameters (part of the model cache key)."""

    features: FeatureConfig = field(
        default_factory=lambda: FeatureConfig(char_min=2, char_max=4, word_weight=0.5)
    )
    c: float = 1.0
    calibration_folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.c) and self.c > 0):
            raise NluDataError("classifier C must be a positive number")
        if self.calibration_folds < 2:
            raise NluDataError("calibration_folds must be >= 2")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "features": self.features.as_dict(),
            "c": self.c,
            "calibration_folds": self.calibration_folds,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ClassifierConfig:
        """Inverse of ``as_dict``."""
        try:
            return cls(
                FeatureConfig(**raw["features"]),
                float(raw["c"]),
                int(raw["calibration_folds"]),
                int(raw["seed"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NluDataError(f"invalid classifier config: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Prediction:
    """Result of classifying one utterance.

    ``confidence`` is the calibrated probability of the best-scoring class (the
    out-of-scope class, if trained, is reported as ``fallback``); ``intent`` is that
    class or ``fallback`` when the confidence is below the threshold. ``ranking``
    lists every class with its probability, best first.
    """

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]


def _softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: FloatArray = exp / exp.sum(axis=-1, keepdims=True)
    return result


def _as_pairs(
    examples: Iterable[tuple[str, str]] | Mapping[str, Sequence[str]],
) -> list[tuple[str, str]]:
    if isinstance(examples, Mapping):
        pairs: list[tuple[str, str]] = []
        for label, texts in examples.items():
            if isinstance(texts, str):
                raise NluInputError(f"examples for {label!r} must be a list of strings")
            pairs.extend((text, label) for text in texts)
        return pairs
    return list(examples)


class IntentClassifier:
    """A fitted intent classifier; build with ``train`` or ``from_arrays``."""

    def __init__(
        self,
        *,
        features: FeatureSpace,
        labels: Sequence[str],
        coef: FloatArray,
        intercept: FloatArray,
        temperature: float,
        config: ClassifierConfig,
        threshold: float = 0.5,
        normalizer: Callable[[str], str] = normalize,
    ) -> None:
        k = len(labels)
        if k < 2 or len(set(labels)) != k:
            raise NluDataError("classifier needs at least two distinct labels")
        if coef.shape != (k, features.n_features) or intercept.shape != (k,):
            raise NluDataError("classifier arrays do not match the labels and features")
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise NluDataError("classifier arrays contain non-finite values")
        if not (math.isfinite(temperature) and temperature > 0):
            raise NluDataError("classifier temperature must be positive")
        if not (math.isfinite(threshold) and 0.0 <= threshold < 1.0):
            raise NluInputError("threshold must be in [0, 1)")
        self.features = features
        self.labels = tuple(labels)
        self._public = tuple(FALLBACK if lab == OUT_OF_SCOPE else lab for lab in self.labels)
        self.coef = coef
        self.intercept = intercept
        self.temperature = float(temperature)
        self.config = config
        self.threshold = float(threshold)
        self.normalizer = normalizer

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        examples: Iterable[tuple[str, str]] | Mapping[str, Sequence[str]],
        *,
        threshold: float = 0.5,
        config: ClassifierConfig | None = None,
        normalizer: Callable[[str], str] = normalize,
    ) -> IntentClassifier:
        """Fit on (text, intent) pairs or {intent: [texts]}.

        Use the label ``aman.nlu.data.OUT_OF_SCOPE`` for realistic off-topic
        examples; ``fallback`` itself is reserved and rejected.
        """
        cfg = config or ClassifierConfig()
        pairs = _as_pairs(examples)
        texts: list[str] = []
        labels: list[str] = []
        for text, label in pairs:
            if not isinstance(text, str) or not isinstance(label, str):
                raise NluInputError("training examples must be (text, label) string pairs")
            if label == FALLBACK:
                raise NluInputError(f"'{FALLBACK}' is not a trainable label; use OUT_OF_SCOPE")
            norm = normalizer(text)
            if not norm:
                raise NluInputError(f"training example {text!r} is empty after normalising")
            texts.append(norm)
            labels.append(label)
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise NluInputError("training needs examples for at least two labels")
        y = np.array([classes.index(lab) for lab in labels], dtype=np.int64)
        space = FeatureSpace.fit(texts, cfg.features)
        coef, intercept = _fit_svm(space.matrix(texts), y, len(classes), cfg)
        temperature = _fit_temperature(texts, y, len(classes), cfg)
        return cls(
            features=space,
            labels=classes,
            coef=coef,
            intercept=intercept,
            temperature=temperature,
            config=cfg,
            threshold=threshold,
            normalizer=normalizer,
        )

    def with_threshold(self, threshold: float) -> IntentClassifier:
        """The same fitted model with another fallback threshold."""
        return IntentClassifier(
            features=self.features,
            labels=self.labels,
            coef=self.coef,
            intercept=self.intercept,
            temperature=self.temperature,
            config=self.config,
            threshold=threshold,
            normalizer=self.normalizer,
        )

    # ---------------------------------------------------------------- prediction
    def _probabilities(self, normalized: str) -> tuple[FloatArray, bool]:
        idx, val = self.features.row(normalized)
        scores = self.coef[:, idx] @ val + self.intercept
        return _softmax(scores / self.temperature), idx.size > 0

    def probabilities(self, text: str) -> dict[str, float]:
        """Calibrated probability per public label (out-of-scope shown as ``fallback``)."""
        probs, _ = self._probabilities(self._normalized(text))
        return {lab: float(p) for lab, p in zip(self._public, probs, strict=True)}

    def _normalized(self, text: str) -> str:
        if not isinstance(text, str):
            raise NluInputError(f"predict() needs a str, got {type(text).__name__}")
        return self.normalizer(text)

    def predict(self, text: str) -> Prediction:
        """Classify one raw utterance."""
        probs, known = self._probabilities(self._normalized(text))
        order = np.argsort(-probs, kind="stable")
        ranking = tuple((self._public[i], round(float(probs[i]), 6)) for i in order)
        best = int(order[0])
        confidence = float(probs[best])
        intent = self._public[best]
        if not known or confidence < self.threshold:
            intent = FALLBACK
        return Prediction(intent, confidence, ranking)

    def predict_many(self, texts: Iterable[str]) -> list[Prediction]:
        """Classify several utterances."""
        return [self.predict(text) for text in texts]

    # --------------------------------------------------------------- persistence
    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Fitted state as plain numpy arrays (strings and floats only)."""
        arrays = dict(self.features.to_arrays())
        arrays.update(
            labels=np.array(self.labels, dtype=np.str_),
            coef=self.coef,
            intercept=self.intercept,
            temperature=np.array(self.temperature, dtype=np.float64),
            config=np.array(json.dumps(self.config.as_dict(), sort_keys=True), dtype=np.str_),
        )
        return arrays

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, npt.NDArray[Any]],
        *,
        threshold: float = 0.5,
        normalizer: Callable[[str], str] = normalize,
    ) -> IntentClassifier:
        """Rebuild from ``to_arrays`` output, validating every array."""
        try:
            config = ClassifierConfig.from_dict(json.loads(str(arrays["config"][()])))
            labels = arrays["labels"]
            coef = arrays["coef"]
            intercept = arrays["intercept"]
            temperature = float(arrays["temperature"][()])
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise NluDataError(f"stored classifier is incomplete: {exc}") from exc
        if labels.ndim != 1 or labels.dtype.kind != "U":
            raise NluDataError("stored classifier labels must be a 1-D string array")
        if coef.dtype != np.float64 or intercept.dtype != np.float64:
            raise NluDataError("stored classifier weights must be float64")
        return cls(
            features=FeatureSpace.from_arrays(arrays, config.features),
            labels=labels.tolist(),
            coef=coef,
            intercept=intercept,
            temperature=temperature,
            config=config,
            threshold=threshold,
            normalizer=normalizer,
        )


def _fit_svm(
    x: Any, y: npt.NDArray[np.int64], n_classes: int, cfg: ClassifierConfig
) -> tuple[FloatArray, FloatArray]:
    """Fit LinearSVC; return (coef [k, n], intercept [k]) with one row per class."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    model = LinearSVC(C=cfg.c, random_state=cfg.seed, max_iter=20000)
    with warnings.catch_warnings():
        # A non-converged liblinear run is still a usable model; it must not abort training.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if n_classes == 2:  # binary LinearSVC gives one score f for class 1: use (-f, f)
        coef = np.vstack([-coef[0], coef[0]])
        intercept = np.array([-intercept[0], intercept[0]])
    return coef, intercept


def _fit_temperature(
    texts: Sequence[str], y: npt.NDArray[np.int64], n_classes: int, cfg: ClassifierConfig
) -> float:
    """Temperature minimising the log loss of out-of-fold softmax(scores / T)."""
    from scipy.optimize import minimize_scalar
    from sklearn.model_selection import StratifiedKFold

    folds = min(cfg.calibration_folds, int(np.bincount(y, minlength=n_classes).min()))
    if folds < 2:
        return 1.0  # too few examples per class to hold any out: leave scores unscaled
    oof = np.zeros((len(texts), n_classes))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        fold_texts = [texts[i] for i in train_idx]
        fold_y = y[train_idx]
        present = np.unique(fold_y)
        space = FeatureSpace.fit(fold_texts, cfg.features)
        coef, intercept = _fit_svm(
            space.matrix(fold_texts), np.searchsorted(present, fold_y), len(present), cfg
        )
        scores = space.matrix([texts[i] for i in test_idx]) @ coef.T + intercept
        full = np.full((len(test_idx), n_classes), -1e3)
        full[:, present] = scores
        oof[test_idx] = full
    rows = np.arange(len(y))

    def log_loss(log_t: float) -> float:
        probs = _softmax(oof / math.exp(log_t))
        return float(-np.mean(np.log(probs[rows, y] + 1e-12)))

    result = minimize_scalar(log_loss, bounds=(-5.0, 3.0), method="bounded")
    return float(math.exp(float(result.x)))
