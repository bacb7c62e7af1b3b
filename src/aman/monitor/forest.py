"""The IsolationForest second opinion: train on a tenant's own contacts, flag clear outliers.

Feature vectors come from the detectors' state (``TrafficDetector.feature_rows``,
columns ``traffic.FEATURES``).  Training and scoring run in the monitor's background
thread, never on the hot path.  A contact is flagged only when its anomaly score
(``-score_samples``, 0.5 is "average", near 1 is "isolated at once") reaches
``forest_score_threshold`` *and* it is among the top ``forest_max_flag_fraction``
of the tenant's contacts, so a model trained on uniform data flags nobody.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

from aman.monitor.config import MonitorSettings
from aman.monitor.traffic import FEATURES

__all__ = ["ForestModel", "Outlier", "find_outliers", "train"]

_MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data


@dataclass(frozen=True, slots=True)
class ForestModel:
    """A trained forest for one tenant plus the robust centre used to explain flags."""

    tenant: str
    trained_at: float
    samples: int
    forest: IsolationForest  # imported lazily: scikit-learn is slow to import
    median: npt.NDArray[np.float64]
    spread: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Outlier:
    contact_ix: str
    score: float
    features: dict[str, float]  # the most unusual features and their values


def train(
    tenant: str,
    matrix: npt.NDArray[np.float64],
    settings: MonitorSettings,
    *,
    now: float,
    seed: int = 0,
) -> ForestModel | None:
    """Fit a forest on ``matrix`` (rows = contacts); None when there are too few contacts."""
    if matrix.ndim != 2 or matrix.shape[1] != len(FEATURES):
        raise ValueError(f"feature matrix must have {len(FEATURES)} columns")
    if matrix.shape[0] < settings.forest_min_contacts:
        return None
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=settings.forest_trees,
        max_samples=min(256, matrix.shape[0]),
        contamination="auto",
        random_state=seed,
        n_jobs=1,
    )
    forest.fit(matrix)
    median = np.median(matrix, axis=0)
    mad = np.median(np.abs(matrix - median), axis=0) * _MAD_SCALE
    spread = np.maximum(mad, np.maximum(np.std(matrix, axis=0), 1e-3))
    return ForestModel(tenant, now, int(matrix.shape[0]), forest, median, spread)


def find_outliers(
    model: ForestModel,
    contact_ixs: list[str],
    matrix: npt.NDArray[np.float64],
    settings: MonitorSettings,
) -> list[Outlier]:
    """The clear outliers among ``matrix`` rows, most anomalous first."""
    if matrix.shape[0] == 0:
        return []
    scores = -model.forest.score_samples(matrix)
    limit = max(1, math.ceil(settings.forest_max_flag_fraction * matrix.shape[0]))
    order = np.argsort(-scores)[:limit]
    out: list[Outlier] = []
    for i in order:
        score = float(scores[i])
        if score < settings.forest_score_threshold:
            break
        dev = np.abs(matrix[i] - model.median) / model.spread
        top = np.argsort(-dev)[:3]
        out.append(
            Outlier(
                contact_ixs[int(i)],
                round(score, 3),
                {FEATURES[int(j)]: round(float(matrix[i, j]), 3) for j in top},
            )
        )
    return out
