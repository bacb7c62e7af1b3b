"""Tests for the guard CLI and the quality targets on the shipped corpus."""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from aman.guard.cli import register
from aman.guard.errors import CorpusError
from aman.guard.evaluate import evaluate, load_corpus


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aman")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


class _CountingIO(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def _run(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    out, err = _CountingIO(), io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    args = _parser().parse_args(argv)
    code = args.func(args)
    return code, out.getvalue(), err.getvalue()


def test_scan_writes_one_json_line_per_input_line(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        "Halo min cek saldo",
        "https://bca-co.id/login",
        "Segera verifikasi akun Anda di https://bank-example.co.id/verifikasi",
        "",
    ]
    out = _CountingIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    monkeypatch.setattr("sys.stdout", out)
    args = _parser().parse_args(["guard", "scan", "--domain", "bank.example.co.id"])
    assert args.func(args) == 0
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["text"] for r in records] == lines
    assert [r["verdict"] for r in records] == ["benign", "phishing", "phishing", "benign"]
    assert "lookalike:bank.example.co.id" in records[2]["reasons"]
    assert all(set(r) == {"text", "verdict", "score", "reasons"} for r in records)
    assert out.flushes >= len(lines)


def test_scan_keeps_unicode_and_handles_crlf(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(["guard", "scan"], "Login: https://bсa.co.id/reset\r\n", monkeypatch)
    assert code == 0
    record = json.loads(out)
    assert record["text"] == "Login: https://bсa.co.id/reset"
    assert "mixed_script" in record["reasons"]


def test_eval_json_reports_both_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(["guard", "eval", "--json"], "", monkeypatch)
    assert code == 0
    payload = json.loads(out)
    assert set(payload["splits"]) == {"dev", "test", "all"}
    test = payload["splits"]["test"]
    assert {"precision", "recall", "fpr", "per_category", "misclassified"} <= set(test)
    assert "bank.example.co.id" in payload["own_domains"]


def test_eval_table_output(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(["guard", "eval", "--domain", "bca.co.id"], "", monkeypatch)
    assert code == 0
    assert "precision" in out
    assert "recall" in out
    assert "lookalike" in out
    assert "bca.co.id" in out


def test_eval_bad_corpus_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "evil", "category": "c", "lang": "id", '
                   '"split": "dev"}\n', encoding="utf-8")
    code, _, err = _run(["guard", "eval", "--corpus", str(bad)], "", monkeypatch)
    assert code == 2
    assert "label" in err
    code, _, err = _run(["guard", "eval", "--corpus", str(tmp_path / "nope.jsonl")], "",
                        monkeypatch)
    assert code == 2


def test_custom_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.jsonl"
    rows = [
        {"_meta": {"own_domains": ["bank.example.co.id"]}},
        {"text": "https://bank-example.co.id/login", "label": "malicious",
         "category": "lookalike", "lang": "id", "split": "test"},
        {"text": "halo min", "label": "benign", "category": "chat", "lang": "id",
         "split": "test"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, out, _ = _run(["guard", "eval", "--corpus", str(path), "--json"], "", monkeypatch)
    assert code == 0
    test = json.loads(out)["splits"]["test"]
    assert (test["tp"], test["fp"], test["tn"], test["fn"]) == (1, 0, 1, 0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "invalid JSON"),
        ('{"text": "x"}', "missing field"),
        ('{"text": 1, "label": "benign", "category": "c", "lang": "id", "split": "dev"}',
         "string"),
        ('{"text": "x", "label": "benign", "category": "c", "lang": "fr", "split": "dev"}',
         "lang"),
        ('{"text": "x", "label": "benign", "category": "c", "lang": "id", "split": "x"}',
         "split"),
        ('{"_meta": {"own_domains": "bank.example.co.id"}}', "own_domains"),
    ],
)
def test_corpus_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_corpus(path)


# --- the shipped corpus and the quality targets -------------------------------------------


def test_corpus_shape() -> None:
    corpus = load_corpus()
    items = corpus.items
    assert len(items) >= 400
    splits = Counter(i.split for i in items)
    assert splits["test"] >= 150
    labels_in_test = Counter(i.label for i in items if i.split == "test")
    assert labels_in_test["benign"] >= 60 and labels_in_test["malicious"] >= 60
    texts = [i.text for i in items]
    assert len(texts) == len(set(texts)), "duplicate corpus texts"
    assert {"id", "en", "mix"} == {i.lang for i in items}
    malicious_cats = {i.category for i in items if i.label == "malicious"}
    assert {"fake_cs_otp", "tariff_change", "courier_apk", "prize", "job_fee", "lookalike",
            "shortener", "ip_host", "userinfo", "homoglyph", "display_mismatch",
            "data_js", "suspicious_tld"} <= malicious_cats
    assert {"scam_report", "security_tip", "legit_link"} <= {
        i.category for i in items if i.label == "benign"
    }
    assert "bank.example.co.id" in corpus.own_domains


@pytest.mark.parametrize(
    "extra_domains",
    [(), ("bca.co.id", "klikbca.com", "bankmandiri.co.id", "bri.co.id", "bni.co.id")],
)
def test_quality_targets_on_held_out_split(extra_domains: tuple[str, ...]) -> None:
    corpus = load_corpus()
    own = (*corpus.own_domains, *extra_domains)
    reports = evaluate(corpus, own, ("dev", "test"))
    for name in ("test", "dev"):
        rep = reports[name]
        misses = [(m.item.category, m.item.text[:60]) for m in rep.misses]
        assert rep.recall >= 0.95, (name, misses)
        assert rep.fpr <= 0.02, (name, misses)
