"""The IsolationForest second opinion: train on a tenant's own contacts, flag clear outliers.

Feature vectors come from the detectors' state (``TrafficDetector.feature_rows``,
columns ``traffic.FEATURES``).  Training and scoring run in the monitor's background
thread, never on the hot path.  On near-uniform traffic a forest isolates tiny,
meaningless differences (one message more, a contact that crossed an hour boundary)
and scores them like outliers, so a contact is flagged only when all of these hold:

* the model was trained after a warm-up: at least ``forest_min_contacts`` contacts and
  ``forest_warmup_seconds`` of history (no model, no flags; scikit-learn is not even
  imported before that);
* its anomaly score (``-score_samples``, 0.5 is "average", near 1 is "isolated at
  once") reaches the model's calibrated threshold: ``forest_score_threshold`` or
  ``median + forest_calibration_k x robust sd`` of the training scores, whichever is
  higher;
* it is among the top ``forest_max_flag_fraction`` of the tenant's contacts;
* at least one feature lies ``forest_min_deviation`` spreads from the robust centre,
  where a spread is never below a per-feature floor in the feature's own units
  (``SPREAD_FLOOR``): a difference no analyst would call unusual never counts.

Training uses at most ``forest_max_train`` contacts (a seeded random sample), so its
memory and time are bounded whatever ``max_contacts`` is.
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

__all__ = ["SPREAD_FLOOR", "ForestModel", "Outlier", "find_outliers", "train"]

_MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data
_HOUR = 3600.0
# The smallest spread each feature is measured in (its own units, FEATURES order):
# log1p-scaled counts and rates 0.5 (a factor of ~1.6), distinct hours 2, ratios 0.1,
# the new-contact flag 0.5.
SPREAD_FLOOR: dict[str, float] = {
    "msgs_per_hour": 0.5,
    "distinct_hours": 2.0,
    "mean_length": 0.5,
    "url_ratio": 0.1,
    "failed_verifications": 0.5,
    "contact_age_hours": 0.5,
    "new_contact": 0.5,
    "phishing_ratio": 0.1,
    "messages_total": 0.5,
}
_FLOOR = np.array([SPREAD_FLOOR[f] for f in FEATURES], dtype=np.float64)
_AGE = FEATURES.index("contact_age_hours")


@dataclass(frozen=True, slots=True)
class ForestModel:
    """A trained forest for one tenant plus the robust centre used to explain flags."""

    tenant: str
    trained_at: float
    samples: int
    forest: IsolationForest  # imported lazily: scikit-learn is slow to import
    median: npt.NDArray[np.float64]
    spread: npt.NDArray[np.float64]
    threshold: float  # calibrated on the training scores, never below the setting


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
    """Fit a forest on ``matrix`` (rows = contacts); None before the warm-up is over."""
    if matrix.ndim != 2 or matrix.shape[1] != len(FEATURES):
        raise ValueError(f"feature matrix must have {len(FEATURES)} columns")
    if matrix.shape[0] < settings.forest_min_contacts:
        return None
    history = float(np.expm1(matrix[:, _AGE].max())) * _HOUR
    if history < settings.forest_warmup_seconds:
        return None
    if matrix.shape[0] > settings.forest_max_train:
        rng = np.random.default_rng(seed)
        rows = rng.choice(matrix.shape[0], settings.forest_max_train, replace=False)
        matrix = matrix[np.sort(rows)]
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
    spread = np.maximum(np.maximum(mad, np.std(matrix, axis=0)), _FLOOR)
    scores = -forest.score_samples(matrix)
    centre = float(np.median(scores))
    robust_sd = float(np.median(np.abs(scores - centre))) * _MAD_SCALE
    threshold = max(
        settings.forest_score_threshold, centre + settings.forest_calibration_k * robust_sd
    )
    return ForestModel(tenant, now, int(matrix.shape[0]), forest, median, spread, threshold)


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
        if score < model.threshold:
            break
        dev = np.abs(matrix[i] - model.median) / model.spread
        if float(dev.max()) < settings.forest_min_deviation:
            continue  # isolated by differences too small to matter
        top = np.argsort(-dev)[:3]
        out.append(
            Outlier(
                contact_ixs[int(i)],
                round(score, 3),
                {FEATURES[int(j)]: round(float(matrix[i, j]), 3) for j in top},
            )
        )
    return out
