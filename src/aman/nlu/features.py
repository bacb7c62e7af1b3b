"""TF-IDF features over normalised text, kept as plain arrays so a model never needs pickle.

Two blocks, each L2-normalised and weighted: character n-grams taken inside word
boundaries (each word padded with spaces) and word n-grams. Term frequency is
sublinear (1 + ln tf); idf is smoothed, ln((1 + n) / (1 + df)) + 1. Digits can be
masked to "0" so that amounts and order numbers do not become vocabulary.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aman.nlu.errors import NluDataError

__all__ = ["FeatureConfig", "FeatureSpace", "char_ngrams", "word_ngrams"]

_DIGITS = str.maketrans("123456789", "000000000")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Hyper-parameters of the feature space (part of the model cache key)."""

    char_min: int = 2
    char_max: int = 5
    word_min: int = 1
    word_max: int = 2
    char_weight: float = 1.0
    word_weight: float = 1.0
    min_df: int = 1
    mask_digits: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.char_min <= self.char_max or not 1 <= self.word_min <= self.word_max:
            raise NluDataError("feature n-gram ranges must satisfy 1 <= min <= max")
        if self.char_weight < 0 or self.word_weight < 0 or self.char_weight + self.word_weight == 0:
            raise NluDataError("feature block weights must be >= 0 and not both 0")
        if self.min_df < 1:
            raise NluDataError("min_df must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def char_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams (low..high) of each space-padded word of ``text``."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    """Word n-grams (low..high) of ``text``, joined by single spaces."""
    words = text.split()
    grams: list[str] = []
    for n in range(low, min(high, len(words)) + 1):
        grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams


class FeatureSpace:
    """A fitted vocabulary + idf per block; maps normalised text to sparse feature rows."""

    def __init__(
        self,
        config: FeatureConfig,
        char_vocab: Sequence[str],
        word_vocab: Sequence[str],
        idf: FloatArray,
    ) -> None:
        if idf.shape != (len(char_vocab) + len(word_vocab),):
            raise NluDataError("feature space: idf length does not match the vocabularies")
        if not np.all(np.isfinite(idf)) or np.any(idf <= 0):
            raise NluDataError("feature space: idf values must be finite and positive")
        self.config = config
        self.char_vocab: dict[str, int] = {g: i for i, g in enumerate(char_vocab)}
        offset = len(char_vocab)
        self.word_vocab: dict[str, int] = {g: offset + i for i, g in enumerate(word_vocab)}
        if len(self.char_vocab) != len(char_vocab) or len(self.word_vocab) != len(word_vocab):
            raise NluDataError("feature space: duplicate vocabulary entries")
        self.idf = idf

    @property
    def n_features(self) -> int:
        """Total number of feature columns."""
        return int(self.idf.shape[0])

    def _grams(self, text: str) -> tuple[list[str], list[str]]:
        cfg = self.config
        if cfg.mask_digits:
            text = text.translate(_DIGITS)
        return (
            char_ngrams(text, cfg.char_min, cfg.char_max),
            word_ngrams(text, cfg.word_min, cfg.word_max),
        )

    @classmethod
    def fit(cls, texts: Sequence[str], config: FeatureConfig) -> FeatureSpace:
        """Learn vocabularies (document frequency >= min_df) and smoothed idf."""
        if not texts:
            raise NluDataError("cannot fit features on no text")
        probe = cls(config, [], [], np.zeros(0))
        char_df: Counter[str] = Counter()
        word_df: Counter[str] = Counter()
        for text in texts:
            chars, words = probe._grams(text)
            char_df.update(set(chars))
            word_df.update(set(words))
        char_vocab = sorted(g for g, df in char_df.items() if df >= config.min_df)
        word_vocab = sorted(g for g, df in word_df.items() if df >= config.min_df)
        n = len(texts)
        df = np.array(
            [char_df[g] for g in char_vocab] + [word_df[g] for g in word_vocab], dtype=np.float64
        )
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        return cls(config, char_vocab, word_vocab, idf)

    def _block(
        self, grams: Iterable[str], vocab: Mapping[str, int], weight: float
    ) -> tuple[list[int], list[float]]:
        counts = Counter(g for g in grams if g in vocab)
        if not counts or weight == 0:
            return [], []
        idx = [vocab[g] for g in counts]
        vals = [
            (1.0 + math.log(c)) * float(self.idf[i])
            for i, c in zip(idx, counts.values(), strict=True)
        ]
        norm = math.sqrt(sum(v * v for v in vals))
        return idx, [weight * v / norm for v in vals]

    def row(self, text: str) -> tuple[IntArray, FloatArray]:
        """Sparse feature row of one normalised text as (column indices, values)."""
        chars, words = self._grams(text)
        ci, cv = self._block(chars, self.char_vocab, self.config.char_weight)
        wi, wv = self._block(words, self.word_vocab, self.config.word_weight)
        return np.array(ci + wi, dtype=np.int64), np.array(cv + wv, dtype=np.float64)

    def matrix(self, texts: Sequence[str]) -> Any:
        """CSR matrix (scipy) of many normalised texts, for training."""
        from scipy.sparse import csr_matrix  # training-only dependency, imported lazily

        indptr = [0]
        indices: list[IntArray] = []
        values: list[FloatArray] = []
        for text in texts:
            idx, val = self.row(text)
            indices.append(idx)
            values.append(val)
            indptr.append(indptr[-1] + len(idx))
        all_idx = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
        all_val = np.concatenate(values) if values else np.zeros(0)
        return csr_matrix((all_val, all_idx, np.array(indptr)), shape=(len(texts), self.n_features))

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Plain arrays (no objects) for np.savez; see ``from_arrays``."""
        return {
            "char_vocab": np.array(
                sorted(self.char_vocab, key=self.char_vocab.__getitem__), dtype=np.str_
            ),
            "word_vocab": np.array(
                sorted(self.word_vocab, key=self.word_vocab.__getitem__), dtype=np.str_
            ),
            "idf": self.idf,
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, npt.NDArray[Any]], config: FeatureConfig
    ) -> FeatureSpace:
        """Rebuild from ``to_arrays`` output; validates shapes and dtypes."""
        try:
            char_vocab = arrays["char_vocab"]
            word_vocab = arrays["word_vocab"]
            idf = arrays["idf"]
        except KeyError as exc:
            raise NluDataError(f"feature space: missing array {exc}") from exc
        for arr in (char_vocab, word_vocab):
            if arr.ndim != 1 or arr.dtype.kind != "U":
                raise NluDataError("feature space: vocabularies must be 1-D string arrays")
        if idf.ndim != 1 or idf.dtype != np.float64:
            raise NluDataError("feature space: idf must be a 1-D float64 array")
        return cls(config, char_vocab.tolist(), word_vocab.tolist(), idf)
