"""Tests for aman.nlu.normalize: table of cases, slang-table validation, properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.nlu.errors import NluDataError, NluInputError
from aman.nlu.normalize import RULES_VERSION, Normalizer, load_slang_table, normalize

CASES = [
    ("Sldo brp yaaa?? 🙏", "saldo berapa ya"),
    ("gmn cara tf ke rek BCA", "bagaimana cara transfer ke rekening bca"),
    ("kartu sy ilang tolong blokir!!!", "kartu saya hilang tolong blokir"),
    ("bisa ngomong sm orang?", "bisa ngomong sama orang"),
    ("mau retur brg", "mau retur barang"),
    ("Where's my package", "wheres my package"),
    ("tf 100rb ke rek 1234567890", "transfer 100 ribu ke rekening 1234567890"),
    ("bangeeet", "banget"),
    ("maaaaf kakkk", "maaf kak"),
    ("gooooood morning", "good morning"),
    ("hellooooo", "hello"),
    ("Rp 1.500.000,- aja", "rp 1.500.000 saja"),
    ("jam 10:30 bsk", "jam 10:30 besok"),
    ("ORD-12345", "ord 12345"),
    ("5 mnt lg", "5 menit lagi"),
    ("mnt tolong", "minta tolong"),
    ("brg2 udh smpe", "barang barang sudah sampai"),
    ("hati2 ya", "hati hati ya"),
    ("brg2.9", "barang 2.9"),  # a 2 that starts a number is not reduplication
    ("hari2:30", "hari 2:30"),
    ("brg2. 9", "barang barang 9"),
    ("ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ", "fullwidth text"),
    ("İstanbul", "istanbul"),
    ("e-wallet 50k", "e wallet 50 ribu"),
    ("gw gk tau", "saya tidak tau"),
    ("pesenan sy blm dtg", "pesanan saya belum datang"),
    ("cs nya mana", "customer service nya mana"),
    ("norek sy", "nomor rekening saya"),
    ("dongg pliss", "dong please"),
    ("kalo bs jg", "kalau bisa juga"),
    ("mau tanya dll", "mau tanya dan lain lain"),
    ("25/12/2026", "25/12/2026"),
    ("...1..5...", "1 5"),
    ("café naïve", "café naïve"),
    ("  \t\n ", ""),
    ("🙏🙏🙏", ""),
    ("under_score", "under score"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_normalize_table(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_rejects_non_str() -> None:
    with pytest.raises(NluInputError):
        normalize(b"bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["sy", "gmn", "tf", "brg2", "yaaa", "maaaf", "100rb", "5", "mnt", "k", "?!"]
        ),
        max_size=12,
    )
)
def test_normalize_idempotent_on_slang_mixes(words: list[str]) -> None:
    once = normalize(" ".join(words))
    assert normalize(once) == once


def test_packaged_table_is_valid_and_has_digest() -> None:
    table = load_slang_table()
    assert table.words["sldo"] == ("saldo",)
    assert table.after_number["rb"] == ("ribu",)
    assert len(table.digest) == 64


def test_digest_covers_the_rules_version() -> None:
    """A model cached under an older rules version must not match the current key."""
    doc = "words: {tf: transfer}\n"
    assert load_slang_table(doc).digest == load_slang_table(doc).digest
    assert load_slang_table(doc).digest != hashlib.sha256(doc.encode()).hexdigest()
    assert (
        load_slang_table(doc).digest
        == hashlib.sha256(f"{RULES_VERSION}\n{doc}".encode()).hexdigest()
    )


@pytest.mark.parametrize(
    "doc",
    [
        "- just a list",
        "words: {tf: transfer, transfer: kirim}",  # expansion is itself a key
        "words: {Tf: transfer}",  # not lower-case
        "words: {tf: ''}",  # empty expansion
        "words: {tf: trans-fer}",  # not a plain token
        "keep_double: [good, bad]",  # 'bad' has no double letter
        "particles: [ya, yaa]",  # stretches another particle
        "unknown_section: {}",
        "words: [a, b]",
        "words: {a: [b]}",
        "words: {tf: transfer",  # invalid YAML
    ],
)
def test_bad_slang_tables_are_rejected(doc: str) -> None:
    with pytest.raises(NluDataError):
        load_slang_table(doc)


def test_custom_table_after_number_beats_words() -> None:
    norm = Normalizer(load_slang_table("words: {mnt: minta}\nafter_number: {mnt: menit}\n"))
    assert norm("5 mnt") == "5 menit"
    assert norm("mnt dong") == "minta dong"
