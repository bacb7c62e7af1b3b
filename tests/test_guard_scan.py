"""Tests for aman.guard.scan: verdicts, scoring rules and robustness."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.guard.reasons import Reason, merge_reasons, noisy_or
from aman.guard.scan import (
    MAX_SCAN_CHARS,
    PHISHING_THRESHOLD,
    SUSPICIOUS_THRESHOLD,
    Verdict,
    scan,
)

OWN = ("bank.example.co.id", "klikbank.example.co.id", "aman-shop.example.id")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Halo min, saya mau cek saldo rekening saya", "benign"),
        ("Ini link produknya https://aman-shop.example.id/produk/sepatu", "benign"),
        ("Jangan pernah berikan kode OTP kepada siapa pun.", "benign"),
        ("tadi ada yg telpon ngaku CS minta PIN, sy ga kasih", "benign"),
        ("https://bca-co.id/login", "phishing"),
        ("Kami dari pihak bank. Mohon kirimkan kode OTP yang masuk ke HP Anda.", "phishing"),
        ("Permisi kak, dari J&T, cek foto paketnya ya Lihat Foto Paket.apk", "phishing"),
        ("Info penting terkait rekening Anda: https://bit.ly/3xYzAbC", "suspicious"),
    ],
)
def test_verdicts(text: str, verdict: str) -> None:
    assert scan(text, OWN).verdict == verdict


def test_score_is_noisy_or_of_reason_weights() -> None:
    v = scan("Silakan login di [bank.example.co.id](http://bank-login-secure.xyz/masuk)", OWN)
    assert v.score == pytest.approx(noisy_or(r.weight for r in v.details))
    assert v.reasons == [r.code for r in v.details]
    assert "display_mismatch" in v.reasons
    assert v.verdict == "phishing"


def test_thresholds_are_ordered() -> None:
    assert 0.0 < SUSPICIOUS_THRESHOLD < PHISHING_THRESHOLD < 1.0


def test_fraud_report_damps_text_but_not_links() -> None:
    report = scan("Ada yang ngaku CS bank minta saya sebutkan kode OTP, itu penipuan ya?", OWN)
    assert report.verdict == "benign"
    assert "fraud_report" in report.reasons
    assert "ask_secret" in report.reasons
    pasted = scan("Ada yang ngaku CS kirim link ini https://bca-co.id/login, penipuan ya?", OWN)
    assert "fraud_report" in pasted.reasons
    assert pasted.verdict == "phishing"


def test_link_lure_needs_an_untrusted_link() -> None:
    trusted = scan("Klik https://bank.example.co.id/promo untuk info", OWN)
    assert "link_lure" not in trusted.reasons
    untrusted = scan("Klik https://promo-nasabah.net/a untuk info", OWN)
    assert "link_lure" in untrusted.reasons


def test_own_domains_change_the_outcome() -> None:
    text = "Segera verifikasi akun Anda di https://bank-example.co.id/verifikasi"
    assert "lookalike:bank.example.co.id" in scan(text, OWN).reasons
    assert not any(r.startswith("lookalike:") for r in scan(text).reasons)


def test_bare_url_line() -> None:
    v = scan("https://bankmandiri.co.id.verify-login.xyz")
    assert v.verdict == "phishing"
    assert v.reasons[0] == "lookalike:bankmandiri.co.id"


def test_to_dict_shape() -> None:
    d = scan("https://bit.ly/x").to_dict()
    assert set(d) == {"text", "verdict", "score", "reasons"}
    assert d["verdict"] in {"benign", "suspicious", "phishing"}
    assert 0.0 <= d["score"] <= 1.0


def test_long_text_is_truncated_with_reason() -> None:
    v = scan("a " * (MAX_SCAN_CHARS // 2 + 10))
    assert "truncated" in v.reasons
    assert v.verdict == "benign"


def test_non_str_is_rejected() -> None:
    with pytest.raises(TypeError):
        scan(None)  # type: ignore[arg-type]


def test_empty_text() -> None:
    assert scan("") == Verdict(text="", verdict="benign", score=0.0, reasons=[], details=[])


def test_merge_reasons_keeps_heaviest() -> None:
    merged = merge_reasons([Reason("a", "x", 0.2), Reason("b", "y", 0.1), Reason("a", "z", 0.5)])
    assert [(r.code, r.weight) for r in merged] == [("a", 0.5), ("b", 0.1)]
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)


def test_scan_is_fast() -> None:
    messages = [
        "Selamat! Anda memenangkan undian Rp 100.000.000. Klaim di http://undian-bank.xyz",
        "Halo min, saya mau transfer Rp 1.500.000 ke rekening 1234567890",
        "Login KlikBCA: https://kIikbca.com dan kirimkan kode OTP",
    ] * 100
    start = time.perf_counter()
    for m in messages:
        scan(m, OWN)
    per_message = (time.perf_counter() - start) / len(messages)
    assert per_message < 0.01


_url_like = st.sampled_from(
    ["http://", "https://", "xn--", ".co.id", ".xyz", "@", "/", ":", "[", "]", "bca", " ", ".",
     "%", "\\", "data:", "javascript:", "www.", ".apk", "OTP", "PIN", "jangan", ",", "\n",
     "Rp 1.500.000", "bсa", "0x7f", "::1", "(", ")", "<a href=", "</a>", "](", "1."]
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_scan_never_raises_on_arbitrary_text(text: str) -> None:
    v = scan(text)
    assert v.verdict in {"benign", "suspicious", "phishing"}
    assert 0.0 <= v.score <= 1.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_url_like, st.text(max_size=8)), max_size=40).map("".join))
def test_scan_never_raises_on_url_shaped_text(text: str) -> None:
    v = scan(text, OWN)
    assert 0.0 <= v.score <= 1.0
