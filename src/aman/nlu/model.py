"""A bot's ready-to-use NLU: load nlu.yaml, get the classifier from cache or train it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from aman.nlu.cache import ModelCache, default_cache_dir, training_key
from aman.nlu.classifier import ClassifierConfig, IntentClassifier, Prediction
from aman.nlu.data import BotNluData, read_bot_nlu
from aman.nlu.entities import Entity, extract_entities
from aman.nlu.normalize import normalize

__all__ = ["LoadSource", "NluModel", "NluResult", "load_bot_nlu"]

LoadSource = Literal["memory", "disk", "trained"]


@dataclass(frozen=True, slots=True)
class NluResult:
    """Everything the NLU knows about one message."""

    text: str
    normalized: str
    prediction: Prediction
    entities: tuple[Entity, ...]


@dataclass(frozen=True, slots=True)
class NluModel:
    """One bot's NLU: its data, a fitted classifier with the bot's threshold, load facts."""

    data: BotNluData
    classifier: IntentClassifier
    source: LoadSource
    load_seconds: float

    @property
    def name(self) -> str:
        """Bot name (its folder name)."""
        return self.data.name

    @property
    def threshold(self) -> float:
        """Confidence below which the intent is ``fallback``."""
        return self.classifier.threshold

    @property
    def intents(self) -> tuple[str, ...]:
        """Trained intent names, in nlu.yaml order (``fallback`` not included)."""
        return tuple(self.data.intents)

    def predict(self, text: str) -> Prediction:
        """Intent of one raw utterance."""
        return self.classifier.predict(text)

    def parse(self, text: str, *, now: datetime) -> NluResult:
        """Intent plus entities (dates resolved against ``now``) of one utterance."""
        return NluResult(
            text=text,
            normalized=normalize(text),
            prediction=self.classifier.predict(text),
            entities=tuple(extract_entities(text, now=now)),
        )


def load_bot_nlu(
    bot_dir: Path,
    *,
    cache_dir: Path | None = None,
    disk_cache: bool = True,
    config: ClassifierConfig | None = None,
) -> NluModel:
    """Load ``bot_dir/nlu.yaml`` and return its NLU model.

    The fitted classifier comes from the in-process cache, else from the on-disk
    cache (``cache_dir``, default ``$AMAN_CACHE_DIR`` or ``~/.cache/aman``), else it
    is trained and stored in both. The bot's ``threshold`` is applied on top.
    """
    started = time.perf_counter()
    data = read_bot_nlu(Path(bot_dir))
    cfg = config or ClassifierConfig()
    key = training_key(data, cfg)
    cache = ModelCache((cache_dir or default_cache_dir()) if disk_cache else None)
    source: LoadSource = "memory"
    fitted = cache.get_memory(key)
    if fitted is None:
        source = "disk"
        fitted = cache.load(key)
        if fitted is None:
            source = "trained"
            fitted = IntentClassifier.train(data.training_pairs(), config=cfg)
            cache.store(key, fitted)
        cache.put_memory(key, fitted)
    classifier = fitted.with_threshold(data.threshold)
    return NluModel(data, classifier, source, time.perf_counter() - started)
