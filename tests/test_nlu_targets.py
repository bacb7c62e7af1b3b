"""Accuracy targets and data hygiene for the shipped bank and shop NLU data.

Targets (held-out nlu_test.jsonl, never used for training or threshold choice):
in-domain accuracy >= 90 % and >= 80 % of out-of-domain sentences -> fallback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aman.nlu.data import FALLBACK, TEST_FILE, read_bot_nlu, read_test_set, resolve_bot_dir
from aman.nlu.evaluate import evaluate
from aman.nlu.model import NluModel, load_bot_nlu
from aman.nlu.normalize import normalize

REQUIRED = {
    "bank": {
        "greeting", "check_balance", "transfer", "book_appointment", "block_card",
        "human_agent", "opt_out", "report_fraud", "security_tips",
    },
    "shop": {
        "greeting", "track_order", "return_item", "cancel_order", "payment_methods",
        "human_agent", "opt_out", "product_info",
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, NluModel]:
    cache = tmp_path_factory.mktemp("nlu-cache")
    return {bot: load_bot_nlu(resolve_bot_dir(bot), cache_dir=cache) for bot in REQUIRED}


@pytest.mark.parametrize("bot", sorted(REQUIRED))
def test_accuracy_targets(models: dict[str, NluModel], bot: str) -> None:
    model = models[bot]
    tests = read_test_set(resolve_bot_dir(bot) / TEST_FILE, model.data.intents)
    report = evaluate(model.predict, tests, intents=model.intents, bot=bot)
    assert report.in_domain_accuracy is not None
    assert report.ood_fallback_rate is not None
    assert report.in_domain_accuracy >= 0.90, report.errors
    assert report.ood_fallback_rate >= 0.80, report.errors
    assert report.mean_latency_ms < 5.0


@pytest.mark.parametrize("bot", sorted(REQUIRED))
def test_training_data_shape(bot: str) -> None:
    data = read_bot_nlu(resolve_bot_dir(bot))
    assert set(data.intents) == REQUIRED[bot]
    assert data.languages == ("id", "en")
    for intent, examples in data.intents.items():
        assert 40 <= len(examples) <= 80, intent
        assert len({normalize(e) for e in examples}) == len(examples), f"duplicates in {intent}"
    assert 0.0 < data.threshold < 1.0


@pytest.mark.parametrize("bot", sorted(REQUIRED))
def test_test_set_is_held_out_and_large_enough(bot: str) -> None:
    bot_dir = resolve_bot_dir(bot)
    data = read_bot_nlu(bot_dir)
    tests = read_test_set(bot_dir / TEST_FILE, data.intents)
    counts: dict[str, int] = {}
    for row in tests:
        counts[row.intent] = counts.get(row.intent, 0) + 1
    for intent in data.intents:
        assert counts.get(intent, 0) >= 25, intent
    assert counts.get(FALLBACK, 0) >= 60
    trained = {normalize(text) for text, _ in data.training_pairs()}
    leaked = [row.text for row in tests if normalize(row.text) in trained]
    assert leaked == []
    assert len({normalize(row.text) for row in tests}) == len(tests)


@pytest.mark.parametrize(
    ("bot", "text", "intent"),
    [
        ("bank", "sldo brp", "check_balance"),
        ("bank", "gmn cara tf ke rek bca", "transfer"),
        ("bank", "kartu sy ilang tolong blokir", "block_card"),
        ("bank", "bisa ngomong sm orang?", "human_agent"),
        ("bank", "ada yang ngaku dari bank minta kode OTP", "report_fraud"),
        ("bank", "got a message from another number saying my account is blocked", "report_fraud"),
        ("shop", "mau retur brg", "return_item"),
        ("shop", "where's my package", "track_order"),
        ("shop", "bisa ngomong sm orang?", "human_agent"),
    ],
)
def test_brief_examples(models: dict[str, NluModel], bot: str, text: str, intent: str) -> None:
    assert models[bot].predict(text).intent == intent


@pytest.mark.slow
@pytest.mark.parametrize("bot", sorted(REQUIRED))
def test_shipped_threshold_comes_from_cross_validation(bot: str) -> None:
    from aman.nlu.calibrate import calibrate_threshold

    data = read_bot_nlu(resolve_bot_dir(bot))
    assert calibrate_threshold(data).threshold == pytest.approx(data.threshold)


def test_bot_dirs_are_package_data() -> None:
    for bot in REQUIRED:
        bot_dir = resolve_bot_dir(bot)
        assert isinstance(bot_dir, Path)
        assert (bot_dir / "nlu.yaml").is_file()
        assert (bot_dir / TEST_FILE).is_file()
