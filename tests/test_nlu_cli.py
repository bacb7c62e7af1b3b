"""Tests for the `aman nlu` command group (predict / eval / calibrate)."""

from __future__ import annotations

import argparse
import io
import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from aman.nlu.cli import main, register, run_predict
from aman.nlu.data import resolve_bot_dir
from aman.nlu.model import load_bot_nlu

TINY = """\
language: [id, en]
threshold: 0.3
intents:
  greeting:
    examples: [halo, hai min, selamat pagi, hello, hi there, pagi kak]
  check_balance:
    examples: [cek saldo, sldo brp, berapa saldo saya, check my balance, saldo rekening, info saldo]
out_of_scope:
  examples: [cuaca hari ini, tell me a joke, resep nasi goreng, skor bola, aku bosen, film apa]
"""


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cache = tmp_path_factory.getbasetemp() / "nlu-cli-cache"
    monkeypatch.setenv("AMAN_CACHE_DIR", str(cache))
    return cache


def test_register_adds_nlu_group() -> None:
    parser = argparse.ArgumentParser(prog="aman")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["nlu", "predict", "--bot", "bank"])
    assert args.command == "nlu" and args.nlu_command == "predict" and args.bot == "bank"
    assert callable(args.func)
    args = parser.parse_args(["nlu", "eval", "x.jsonl", "--bot", "shop", "--json"])
    assert args.file == "x.jsonl" and args.json
    with pytest.raises(SystemExit):
        parser.parse_args(["nlu", "predict"])  # --bot is required


def test_run_predict_writes_one_json_object_per_line() -> None:
    model = load_bot_nlu(resolve_bot_dir("bank"))
    out = io.StringIO()
    lines = "sldo brp\n\n   \nkartu sy ilang tolong blokir\r\nbesok hujan gak?\n"
    assert run_predict(model, io.StringIO(lines), out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["text"] for r in rows] == [
        "sldo brp",
        "kartu sy ilang tolong blokir",
        "besok hujan gak?",
    ]
    for row in rows:
        assert set(row) == {"text", "intent", "confidence"}
        assert 0.0 <= row["confidence"] <= 1.0
    assert rows[0]["intent"] == "check_balance"
    assert rows[1]["intent"] == "block_card"


def test_predict_subprocess_flushes_each_line(private_cache: Path) -> None:
    load_bot_nlu(resolve_bot_dir("shop"), cache_dir=private_cache)  # warm the disk cache
    env = {**os.environ, "AMAN_CACHE_DIR": str(private_cache)}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    with (
        subprocess.Popen(
            [sys.executable, "-m", "aman.nlu.cli", "nlu", "predict", "--bot", "shop"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc,
        selectors.DefaultSelector() as sel,
    ):
        assert proc.stdin is not None and proc.stdout is not None
        try:
            sel.register(proc.stdout, selectors.EVENT_READ)
            proc.stdin.write("mau retur brg\n")
            proc.stdin.flush()
            assert sel.select(timeout=30), "no output before stdin was closed: not flushed"
            first = json.loads(proc.stdout.readline())
            assert first["intent"] == "return_item"
            proc.stdin.write("\nwhere's my package\n")
            proc.stdin.close()
            rest = [json.loads(line) for line in proc.stdout.read().splitlines()]
            assert [r["intent"] for r in rest] == ["track_order"]
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_eval_json(capsys: pytest.CaptureFixture[str]) -> None:
    test_file = str(resolve_bot_dir("bank") / "nlu_test.jsonl")
    assert main(["nlu", "eval", test_file, "--bot", "bank", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bot"] == "bank"
    assert report["in_domain_accuracy"] >= 0.9
    assert report["labels"][-1] == "fallback"
    assert len(report["confusion"]) == len(report["labels"])
    assert sum(map(sum, report["confusion"])) == report["total"]
    assert {"intent", "precision", "recall", "f1", "support"} <= set(report["per_intent"][0])


def test_eval_rich_tables(capsys: pytest.CaptureFixture[str]) -> None:
    test_file = str(resolve_bot_dir("shop") / "nlu_test.jsonl")
    assert main(["nlu", "eval", test_file, "--bot", "shop"]) == 0
    out = capsys.readouterr().out
    assert "in-domain accuracy" in out
    assert "per intent" in out and "confusion matrix" in out
    assert "track_order" in out


def test_calibrate_writes_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot = tmp_path / "tiny"
    bot.mkdir()
    (bot / "nlu.yaml").write_text("# comment kept\n" + TINY, encoding="utf-8")
    args = ["nlu", "calibrate", "--bot", str(bot), "--folds", "3", "--repeats", "1", "--json"]
    assert main([*args, "--write"]) == 0
    report = json.loads(capsys.readouterr().out)
    text = (bot / "nlu.yaml").read_text(encoding="utf-8")
    assert text.startswith("# comment kept\n")
    assert f"threshold: {report['threshold']:.2f}" in text
    assert len(report["curve"]) == 96


def test_unknown_bot_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nlu", "predict", "--bot", "no-such-bot"]) == 2
    assert "error" in capsys.readouterr().err


def test_missing_test_file_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nlu", "eval", str(tmp_path / "missing.jsonl"), "--bot", "bank"]) == 2
    assert "cannot read" in capsys.readouterr().err
