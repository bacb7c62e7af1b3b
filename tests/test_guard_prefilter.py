"""The literal pre-filter and the guard's fast path give exactly the full scan's answers.

``LiteralGate`` may only leave out a regex that cannot match; ``scan``'s fast path
may only answer "benign, no reasons" where the full analysis says the same.  Both
are checked on the labelled corpus, on the benchmark's texts and on generated
texts built from the very literals the gate looks for (so near-misses are common).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.guard import extract_urls, scan
from aman.guard.evaluate import CorpusItem, load_corpus
from aman.guard.prefilter import LiteralGate, required_literals
from aman.guard.scan import MAX_SCAN_CHARS, _full_scan, _nothing_to_find
from aman.guard.text import _REQUEST_PATTERNS, _SIGNALS, _clauses, normalize_text

CORPUS = load_corpus()
OWN = CORPUS.own_domains
RULES = [*(s.pattern for s in _SIGNALS), *_REQUEST_PATTERNS]
GATE = LiteralGate(RULES)
LITERALS = sorted({s for p in RULES for group in required_literals(p) for s in group})
PLAIN = [
    "halo kak, pesanan A-000123 sudah dikirim belum?",
    "min, brg B-77 kok blm sampai ya",
    "hi, where is my package C-9?",
    "mau tanya ongkir ke Bandung utk D-1 berapa?",
    "terima kasih, paket E-2 sudah diterima \U0001f64f",
    "selamat siang, saya mau ganti alamat pengiriman F-3",
]


def groups(pattern: str) -> list[set[str]]:
    return [set(g) for g in required_literals(re.compile(pattern))]


def test_required_literals_of_simple_patterns() -> None:
    assert groups(r"\bkirim(?:kan)?\s+kode") == [{"kirim", "kirimkan"}, {"kode"}]
    assert {"otp", "pin"} in groups(r"(?:otp|pin)\s+\d+")
    # One group per choice of a group in each branch: "a b" or "c" needs (a|c) and (b|c).
    assert groups(r"alpha\s+beta|gamma") == [{"alpha", "gamma"}, {"beta", "gamma"}]
    assert groups(r"x+") == [{"x"}]
    # Nothing is required where the derivation cannot tell.
    assert groups(r"(?:kode)?\w+") == []
    assert groups(r"(?i)kode") == []
    assert groups(r"(?i:kode)\s+x") == [{"x"}]
    assert groups(r"[^a]bc") == [{"bc"}]


def test_gate_leaves_out_only_what_cannot_match() -> None:
    gate = LiteralGate([re.compile(r"\bkirim\s+kode"), re.compile(r"\d+"), re.compile("otp")])
    names = [p.pattern for p in gate.candidates("tolong kirim kode")]
    assert names == [r"\bkirim\s+kode", r"\d+"]
    assert [p.pattern for p in gate.candidates("kode kirim")] == [r"\bkirim\s+kode", r"\d+"]
    assert [p.pattern for p in gate.candidates("halo")] == [r"\d+"]
    assert [p.pattern for p in gate.candidates("xotpx")] == [r"\d+", "otp"]


def _sound(text: str) -> None:
    """Every text rule that matches a clause of ``text`` is among the gate's candidates."""
    norm = normalize_text(text)
    candidates = {id(p) for p in GATE.candidates(norm)}
    for pattern in RULES:
        if any(pattern.search(c) for c in _clauses(norm)):
            assert id(pattern) in candidates, (pattern.pattern[:60], text)


def _same(text: str) -> None:
    fast, full = scan(text, OWN), _full_scan(text, OWN)
    assert fast == full, text
    # Both paths hand over the links of the text as written, found once.
    links = tuple(extract_urls(text[:MAX_SCAN_CHARS]))
    assert fast.urls == links and full.urls == links, text


def test_corpus_fast_path_equals_full_scan_and_is_used() -> None:
    fast = 0
    for item in CORPUS.items:
        _sound(item.text)
        _same(item.text)
        fast += _nothing_to_find(item.text)
    # The fast path answers a good share of the benign messages by itself ...
    assert fast >= 100
    # ... and never a malicious one.
    assert not any(_nothing_to_find(i.text) for i in CORPUS.items if i.label == "malicious")


@pytest.mark.parametrize("text", PLAIN)
def test_plain_customer_texts_take_the_fast_path(text: str) -> None:
    assert _nothing_to_find(text)
    assert scan(text).verdict == "benign" and scan(text).reasons == []


@pytest.mark.parametrize(
    "text",
    [
        "Kode OTP yang masuk ke nomor Anda tolong dikirim ke sini ya",
        "Unduh aplikasi cek-resi.apk untuk melihat paket",
        "tadi ada yg telpon ngaku CS minta PIN",  # a fraud report, not a scam
        "cek di bank.example.co.id",  # a link, even our own, goes the long way
        "cek \uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d ya",  # after NFKC
        "cek bit\u200b.ly/abc \U0001f64f",  # a zero-width space inside the link
        "cek bit.ly/abc \U0001f64f\u200b",  # a link as written, the body not NFKC-stable
    ],
)
def test_texts_with_findings_take_the_full_path(text: str) -> None:
    assert not _nothing_to_find(text)
    _same(text)


fragments = st.one_of(
    st.sampled_from(LITERALS),
    st.sampled_from([" ", ", ", ". ", "? ", "\n", " anda ", " kode ", " ke ", " dong "]),
    st.text(alphabet="abdegikmnoprstuy0123456789 .,?!'-/:\u200b\uff0e\uff43\xe9\U0001f64f",
            max_size=8),
    st.sampled_from(["bit.ly/x", "http://", ".com", "www.", "\uff4c\uff59", "\uff0e"]),
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(parts=st.lists(fragments, max_size=14))
def test_generated_texts(parts: list[str]) -> None:
    text = "".join(parts)
    _sound(text)
    _same(text)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(item=st.sampled_from(CORPUS.items), cut=st.integers(0, 200), extra=fragments)
def test_cut_and_extended_corpus_texts(item: CorpusItem, cut: int, extra: str) -> None:
    text = item.text[cut:] + " " + extra
    _sound(text)
    _same(text)
