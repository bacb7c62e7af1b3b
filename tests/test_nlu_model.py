"""Tests for loading a bot's NLU: nlu.yaml validation, bot resolution, and the model cache."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aman.nlu.cache import ModelCache, training_key
from aman.nlu.classifier import ClassifierConfig
from aman.nlu.data import (
    FALLBACK,
    parse_nlu_yaml,
    read_bot_nlu,
    read_test_set,
    resolve_bot_dir,
)
from aman.nlu.errors import BotNotFoundError, NluDataError
from aman.nlu.model import load_bot_nlu

TINY = """\
language: [id, en]
threshold: 0.3
intents:
  greeting:
    examples: [halo, hai min, selamat pagi, hello, hi there, pagi kak]
  check_balance:
    examples: [cek saldo, sldo brp, berapa saldo saya, check my balance, saldo rekening, info saldo]
  block_card:
    examples: [blokir kartu, kartu hilang, kartu sy ilang, block my card, lost card, kartu dicuri]
out_of_scope:
  examples: [cuaca hari ini, tell me a joke, resep nasi goreng, skor bola, aku bosen, film apa]
"""
PROBES = ["sldo brp ya", "kartu atm ilang", "haloo", "cuaca besok", "zzz"]


@pytest.fixture
def tiny_bot(tmp_path: Path) -> Path:
    bot = tmp_path / "tiny"
    bot.mkdir()
    (bot / "nlu.yaml").write_text(TINY, encoding="utf-8")
    return bot


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _forget(bot: Path) -> None:
    ModelCache.forget_memory(training_key(read_bot_nlu(bot), ClassifierConfig()))


def test_cold_then_memory_then_disk(tiny_bot: Path, cache_dir: Path) -> None:
    _forget(tiny_bot)
    cold = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    assert cold.source == "trained"
    warm = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    assert warm.source == "memory"
    assert warm.load_seconds < cold.load_seconds
    _forget(tiny_bot)  # as if a new process started
    disk = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    assert disk.source == "disk"
    for text in PROBES:
        assert cold.predict(text) == warm.predict(text) == disk.predict(text)
    files = list((cache_dir / "nlu").glob("*.npz"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert (cache_dir / "nlu").stat().st_mode & 0o777 == 0o700


def test_threshold_is_applied_after_the_cache(tiny_bot: Path, cache_dir: Path) -> None:
    first = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    path = tiny_bot / "nlu.yaml"
    path.write_text(TINY.replace("threshold: 0.3", "threshold: 0.95"), encoding="utf-8")
    second = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    assert second.source == "memory"  # same training data, same fitted model
    assert second.threshold == 0.95
    assert first.threshold == 0.3


def test_changed_examples_retrain(tiny_bot: Path, cache_dir: Path) -> None:
    load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    path = tiny_bot / "nlu.yaml"
    path.write_text(TINY.replace("info saldo]", "info saldo, saldo tabungan]"), encoding="utf-8")
    _forget(tiny_bot)
    assert load_bot_nlu(tiny_bot, cache_dir=cache_dir).source == "trained"


def test_corrupt_cache_file_is_replaced(tiny_bot: Path, cache_dir: Path) -> None:
    _forget(tiny_bot)
    load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    (cached,) = (cache_dir / "nlu").glob("*.npz")
    cached.write_bytes(b"not a zip file at all")
    _forget(tiny_bot)
    again = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    assert again.source == "trained"
    _forget(tiny_bot)
    assert load_bot_nlu(tiny_bot, cache_dir=cache_dir).source == "disk"


def test_cache_file_with_wrong_key_is_ignored(tiny_bot: Path, cache_dir: Path) -> None:
    _forget(tiny_bot)
    load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    (cached,) = (cache_dir / "nlu").glob("*.npz")
    cached.rename(cached.with_name("0" * 64 + ".npz"))
    assert ModelCache(cache_dir).load("0" * 64) is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_world_writable_cache_dir_is_not_used(tiny_bot: Path, cache_dir: Path) -> None:
    (cache_dir / "nlu").mkdir(parents=True)
    (cache_dir / "nlu").chmod(0o777)
    _forget(tiny_bot)
    model = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    assert model.source == "trained"
    assert list((cache_dir / "nlu").iterdir()) == []


def test_disk_cache_can_be_disabled(tiny_bot: Path, cache_dir: Path) -> None:
    _forget(tiny_bot)
    load_bot_nlu(tiny_bot, cache_dir=cache_dir, disk_cache=False)
    assert not cache_dir.exists()


def test_env_var_selects_cache_dir(
    tiny_bot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMAN_CACHE_DIR", str(tmp_path / "envcache"))
    _forget(tiny_bot)
    load_bot_nlu(tiny_bot)
    assert list((tmp_path / "envcache" / "nlu").glob("*.npz"))


def test_parse_returns_intent_and_entities(tiny_bot: Path, cache_dir: Path) -> None:
    model = load_bot_nlu(tiny_bot, cache_dir=cache_dir)
    result = model.parse("sldo brp, mau tf 100rb besok", now=datetime(2026, 11, 26, tzinfo=UTC))
    assert result.prediction.intent == "check_balance"
    assert result.normalized.startswith("saldo berapa")
    assert [e.kind for e in result.entities] == ["money", "date"]
    assert model.intents == ("greeting", "check_balance", "block_card")


# ---------------------------------------------------------------- nlu.yaml checks
@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[1, 2]", "mapping"),
        (TINY.replace("threshold: 0.3", "threshold: 1.5"), "threshold"),
        (TINY.replace("threshold: 0.3", "threshold: yes"), "threshold"),
        (TINY.replace("language: [id, en]", "language: indonesian"), "language"),
        (TINY.replace("  greeting:", "  fallback:"), "reserved"),
        (TINY.replace("  greeting:", "  Greeting:"), "snake_case"),
        (TINY.replace("examples: [halo,", "examples: ['',"), "non-empty string"),
        (TINY.replace("hello, hi there", "hello, CEK SALDO"), "normalise to the same"),
        (TINY + "extra: 1\n", "unknown keys"),
        (TINY.replace("    examples: [halo", "    samples: [halo"), "examples"),
        ("language: [id]\nthreshold: 0.5\nintents: {a: {examples: [x]}}\n", "at least two"),
        ("language: [id\n", "YAML"),
    ],
)
def test_bad_nlu_yaml(doc: str, message: str) -> None:
    with pytest.raises(NluDataError, match=message):
        parse_nlu_yaml(doc, name="t")


def test_resolve_bot_dir(tiny_bot: Path) -> None:
    assert resolve_bot_dir("bank").name == "bank"
    assert resolve_bot_dir("shop").name == "shop"
    assert resolve_bot_dir(str(tiny_bot)) == tiny_bot
    for bad in ["", "nosuchbot", str(tiny_bot.parent / "missing")]:
        with pytest.raises(BotNotFoundError):
            resolve_bot_dir(bad)


def test_read_bot_nlu_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BotNotFoundError):
        read_bot_nlu(tmp_path)


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '["text", "intent"]',
        '{"text": "halo"}',
        '{"text": "", "intent": "greeting"}',
        '{"text": "halo", "intent": "nope"}',
    ],
)
def test_bad_test_set_lines(tmp_path: Path, line: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(NluDataError):
        read_test_set(path, {"greeting": ()})


def test_test_set_accepts_fallback_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"text": "halo", "intent": "greeting"}\n\n{"text": "x", "intent": "fallback"}\n'
    )
    rows = read_test_set(path, {"greeting": ()})
    assert [r.intent for r in rows] == ["greeting", FALLBACK]


def test_empty_test_set_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("\n")
    with pytest.raises(NluDataError):
        read_test_set(path, {})


def test_memory_hit_is_much_faster_than_training(tiny_bot: Path, cache_dir: Path) -> None:
    _forget(tiny_bot)
    started = time.perf_counter()
    load_bot_nlu(tiny_bot, cache_dir=cache_dir, disk_cache=False)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    load_bot_nlu(tiny_bot, cache_dir=cache_dir, disk_cache=False)
    warm = time.perf_counter() - started
    assert warm * 3 < cold
