"""Tests for aman.nlu.classifier and aman.nlu.features on small, fast training sets."""

from __future__ import annotations

import numpy as np
import pytest

from aman.nlu.classifier import ClassifierConfig, IntentClassifier
from aman.nlu.data import FALLBACK, OUT_OF_SCOPE
from aman.nlu.errors import NluDataError, NluInputError
from aman.nlu.features import FeatureConfig, FeatureSpace, char_ngrams, word_ngrams

EXAMPLES = {
    "check_balance": [
        "cek saldo", "sldo brp", "berapa saldo saya", "check my balance", "saldo rekening",
        "sisa uang di tabungan", "what's my balance", "info saldo dong",
    ],
    "transfer": [
        "transfer uang", "tf ke rek bca", "kirim uang ke ibu", "send money", "mau transfer 100rb",
        "transfer antar bank", "kirim duit", "wire money to my friend",
    ],
    "greeting": [
        "halo", "hai min", "selamat pagi", "hello", "hi there", "pagi kak", "hey", "halo kak",
    ],
}  # fmt: skip
OOS = ["cuaca hari ini", "tell me a joke", "resep nasi goreng", "skor bola", "aku bosen",
       "who won the world cup", "lagu favorit", "film bagus apa"]  # fmt: skip


@pytest.fixture(scope="module")
def clf() -> IntentClassifier:
    pairs = [(t, label) for label, texts in EXAMPLES.items() for t in texts]
    pairs += [(t, OUT_OF_SCOPE) for t in OOS]
    return IntentClassifier.train(pairs, threshold=0.3)


def test_predicts_known_intents(clf: IntentClassifier) -> None:
    assert clf.predict("saldo sy brp ya").intent == "check_balance"
    assert clf.predict("tolong tf 50rb").intent == "transfer"
    assert clf.predict("haloo").intent == "greeting"


def test_prediction_shape(clf: IntentClassifier) -> None:
    pred = clf.predict("cek saldo")
    assert 0.0 <= pred.confidence <= 1.0
    names = [name for name, _ in pred.ranking]
    assert sorted(names) == sorted([*EXAMPLES, FALLBACK])
    probs = [p for _, p in pred.ranking]
    assert probs == sorted(probs, reverse=True)
    assert abs(sum(probs) - 1.0) < 1e-3
    assert pred.ranking[0][1] == pytest.approx(pred.confidence, abs=1e-6)


def test_out_of_scope_class_reports_fallback(clf: IntentClassifier) -> None:
    assert clf.predict("resep nasi goreng dong").intent == FALLBACK


def test_threshold_forces_fallback(clf: IntentClassifier) -> None:
    loose = clf.predict("saldo uang saya")
    assert loose.intent == "check_balance"
    assert loose.confidence < 1.0
    at = clf.with_threshold(loose.confidence).predict("saldo uang saya")
    assert at.intent == "check_balance"  # the threshold itself still passes
    above = clf.with_threshold(float(np.nextafter(loose.confidence, 1.0))).predict(
        "saldo uang saya"
    )
    assert above.intent == FALLBACK
    assert above.confidence == pytest.approx(loose.confidence)


def test_unknown_text_is_fallback(clf: IntentClassifier) -> None:
    pred = clf.with_threshold(0.0).predict("🙏🙏🙏")
    assert pred.intent == FALLBACK


def test_round_trip_through_plain_arrays(clf: IntentClassifier) -> None:
    arrays = clf.to_arrays()
    assert all(a.dtype.kind in "fUi" for a in arrays.values())  # nothing pickled
    back = IntentClassifier.from_arrays(arrays, threshold=clf.threshold)
    for text in ["cek saldo", "tf 100rb", "halo", "cuaca", "zzz"]:
        assert back.predict(text) == clf.predict(text)


def test_from_arrays_rejects_tampered_shapes(clf: IntentClassifier) -> None:
    arrays = clf.to_arrays()
    arrays["coef"] = arrays["coef"][:, :-1]
    with pytest.raises(NluDataError):
        IntentClassifier.from_arrays(arrays)
    arrays = clf.to_arrays()
    del arrays["labels"]
    with pytest.raises(NluDataError):
        IntentClassifier.from_arrays(arrays)


def test_training_input_errors() -> None:
    with pytest.raises(NluInputError):
        IntentClassifier.train([("halo", "greeting")])  # one label
    with pytest.raises(NluInputError):
        IntentClassifier.train([("halo", "greeting"), ("apa ini", FALLBACK)])
    with pytest.raises(NluInputError):
        IntentClassifier.train([("halo", "greeting"), ("🙏", "other")])
    with pytest.raises(NluInputError):
        IntentClassifier.train({"greeting": "halo", "other": ["x"]})
    with pytest.raises(NluInputError):
        IntentClassifier.train(EXAMPLES, threshold=1.5)


def test_binary_and_tiny_training_sets() -> None:
    two = IntentClassifier.train({"yes": ["ya", "iya", "betul"], "no": ["tidak", "bukan", "gak"]})
    assert two.predict("iya").intent == "yes"
    assert two.predict("gak").intent == "no"
    assert two.temperature > 0


def test_predict_rejects_non_str(clf: IntentClassifier) -> None:
    with pytest.raises(NluInputError):
        clf.predict(None)  # type: ignore[arg-type]


def test_probabilities_sum_to_one(clf: IntentClassifier) -> None:
    probs = clf.probabilities("kirim uang")
    assert abs(sum(probs.values()) - 1.0) < 1e-9
    assert max(probs, key=probs.__getitem__) == "transfer"


def test_config_validation() -> None:
    with pytest.raises(NluDataError):
        ClassifierConfig(c=0)
    with pytest.raises(NluDataError):
        FeatureConfig(char_min=3, char_max=2)
    with pytest.raises(NluDataError):
        FeatureConfig(char_weight=0, word_weight=0)


def test_ngrams() -> None:
    assert char_ngrams("ab", 2, 3) == [" a", "ab", "b ", " ab", "ab "]
    assert word_ngrams("a b c", 1, 2) == ["a", "b", "c", "a b", "b c"]


def test_feature_row_matches_matrix_and_is_normalised() -> None:
    texts = ["cek saldo 100", "transfer uang 250", "halo"]
    cfg = FeatureConfig(word_weight=0.5)
    space = FeatureSpace.fit(texts, cfg)
    dense = space.matrix(texts).toarray()
    for i, text in enumerate(texts):
        idx, val = space.row(text)
        row = np.zeros(space.n_features)
        row[idx] = val
        np.testing.assert_allclose(row, dense[i])
    n_char = len(space.char_vocab)
    # each block is L2-normalised, then weighted
    assert np.linalg.norm(dense[0, :n_char]) == pytest.approx(1.0)
    assert np.linalg.norm(dense[0, n_char:]) == pytest.approx(0.5)
    # digits are masked: different numbers give the same features
    np.testing.assert_allclose(space.row("cek saldo 100")[1], space.row("cek saldo 999")[1])
