"""Tests for aman.nlu.entities (money, dates/times, order ids, accounts, phones)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.nlu.entities import Entity, extract_entities, mask_account
from aman.nlu.errors import NluInputError
from aman.nlu.money import parse_number

JKT = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=JKT)  # a Thursday, 09:30 WIB

D = Decimal
# (text, [(kind, value, matched text)]) with NOW as the reference time.
CASES: list[tuple[str, list[tuple[str, object, str]]]] = [
    # money
    ("100rb", [("money", D("100000"), "100rb")]),
    ("100 ribu", [("money", D("100000"), "100 ribu")]),
    ("1,5 jt", [("money", D("1500000"), "1,5 jt")]),
    ("1.5jt", [("money", D("1500000"), "1.5jt")]),
    ("Rp 250.000", [("money", D("250000"), "Rp 250.000")]),
    ("Rp250rb", [("money", D("250000"), "Rp250rb")]),
    ("IDR 2.5m", [("money", D("2500000"), "IDR 2.5m")]),
    ("2 juta", [("money", D("2000000"), "2 juta")]),
    ("50k aja", [("money", D("50000"), "50k")]),
    ("seratus ribu", [("money", D("100000"), "seratus ribu")]),
    ("dua juta lima ratus ribu", [("money", D("2500000"), "dua juta lima ratus ribu")]),
    ("Rp 1.500.000,- ya", [("money", D("1500000"), "Rp 1.500.000")]),
    ("IDR 2,500,000.50", [("money", D("2500000.5"), "IDR 2,500,000.50")]),
    ("bayar 75.000 rupiah", [("money", D("75000"), "75.000 rupiah")]),
    ("3 miliar", [("money", D("3000000000"), "3 miliar")]),
    ("Rp. 1.250jt", [("money", D("1250000"), "Rp. 1.250jt")]),
    ("panjang 5 m", []),
    ("beli 3 barang", []),
    # dates and times
    ("besok jam 10", [("datetime", "2026-11-27T10:00:00+07:00", "besok jam 10")]),
    ("lusa", [("date", "2026-11-28", "lusa")]),
    ("senin depan", [("date", "2026-11-30", "senin depan")]),
    ("kamis depan", [("date", "2026-12-03", "kamis depan")]),
    ("kamis ini", [("date", "2026-11-26", "kamis ini")]),
    ("hari minggu", [("date", "2026-11-29", "hari minggu")]),
    ("25/12", [("date", "2026-12-25", "25/12")]),
    ("25 Des", [("date", "2026-12-25", "25 Des")]),
    ("tanggal 25 desember 2027", [("date", "2027-12-25", "tanggal 25 desember 2027")]),
    ("1/2", [("date", "2027-02-01", "1/2")]),
    ("2026-12-25", [("date", "2026-12-25", "2026-12-25")]),
    ("Dec 25th, 2026", [("date", "2026-12-25", "Dec 25th, 2026")]),
    ("tgl 5", [("date", "2026-12-05", "tgl 5")]),
    ("tomorrow 3pm", [("datetime", "2026-11-27T15:00:00+07:00", "tomorrow 3pm")]),
    ("jam 2 siang", [("time", "14:00:00", "jam 2 siang")]),
    ("jam 7 malam", [("time", "19:00:00", "jam 7 malam")]),
    ("pukul 14.30", [("time", "14:30:00", "pukul 14.30")]),
    ("jam setengah 3 sore", [("time", "14:30:00", "jam setengah 3 sore")]),
    ("nanti sore", [("datetime", "2026-11-26T16:00:00+07:00", "nanti sore")]),
    ("besok pagi", [("datetime", "2026-11-27T09:00:00+07:00", "besok pagi")]),
    ("besok sore jam 4", [("datetime", "2026-11-27T16:00:00+07:00", "besok sore jam 4")]),
    (
        "senin depan pukul 9 pagi",
        [("datetime", "2026-11-30T09:00:00+07:00", "senin depan pukul 9 pagi")],
    ),
    (
        "next friday at 10:30 am",
        [("datetime", "2026-11-27T10:30:00+07:00", "next friday at 10:30 am")],
    ),
    ("2 jam lagi", [("datetime", "2026-11-26T11:30:00+07:00", "2 jam lagi")]),
    ("in 3 days", [("date", "2026-11-29", "in 3 days")]),
    ("selamat pagi kak", []),
    ("31/02", []),
    ("jam 25", []),
    # order ids
    ("ORD-12345 blm sampai", [("order_id", "ORD-12345", "ORD-12345")]),
    ("cek ord12345678", [("order_id", "ORD-12345678", "ord12345678")]),
    ("#INV20261126", [("order_id", "INV20261126", "#INV20261126")]),
    ("pesanan 123456 gmn", [("order_id", "ORD-123456", "123456")]),
    ("order #99887", [("order_id", "ORD-99887", "99887")]),
    ("ORD-1234", []),
    # accounts and phones
    ("no rek saya 1234-5678-9012", [("account_number", "123456789012", "1234-5678-9012")]),
    ("rekening BCA 8881234567", [("account_number", "8881234567", "8881234567")]),
    ("hubungi 0812-3456-7890", [("phone", "6281234567890", "0812-3456-7890")]),
    ("+62 812 3456 7890", [("phone", "6281234567890", "+62 812 3456 7890")]),
    ("wa ke 6281234567890", [("phone", "6281234567890", "6281234567890")]),
    ("angka 1234567890", []),
    (
        "tf Rp 1.500.000 ke rekening BCA 8881234567 besok jam 9 pagi",
        [
            ("money", D("1500000"), "Rp 1.500.000"),
            ("account_number", "8881234567", "8881234567"),
            ("datetime", "2026-11-27T09:00:00+07:00", "besok jam 9 pagi"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_entity_table(text: str, expected: list[tuple[str, object, str]]) -> None:
    found = extract_entities(text, now=NOW)
    assert [(e.kind, e.value, e.text) for e in found] == expected
    for e in found:
        assert text[e.start : e.end] == e.text


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40


def test_account_entity_is_masked() -> None:
    (acct,) = extract_entities("norek 1234567890123", now=NOW)
    assert acct.kind == "account_number"
    assert acct.masked == "****0123"
    assert acct.value == "1234567890123"


def test_now_in_another_zone_resolves_in_jakarta() -> None:
    # 20:00 UTC on the 26th is already 03:00 on the 27th in Jakarta.
    now_utc = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    (ent,) = extract_entities("besok", now=now_utc)
    assert ent.value == "2026-11-28"


def test_naive_now_is_rejected() -> None:
    with pytest.raises(NluInputError):
        extract_entities("besok", now=datetime(2026, 11, 26, 9, 30))


def test_non_str_text_is_rejected() -> None:
    with pytest.raises(NluInputError):
        extract_entities(123, now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("1234567890", "****7890"), ("1234-5678-9012", "****9012"), ("12", "****"), ("", "****")],
)
def test_mask_account(raw: str, masked: str) -> None:
    assert mask_account(raw) == masked


def test_mask_account_rejects_non_str() -> None:
    with pytest.raises(NluInputError):
        mask_account(1234567890)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "hint", "value"),
    [
        ("250.000", False, D("250000")),
        ("1.5", True, D("1.5")),
        ("1.500", True, D("1.5")),
        ("1.500.000", False, D("1500000")),
        ("1,2,3", False, None),
        ("12.34.5", False, None),
        ("1.000,5,0", False, None),
    ],
)
def test_parse_number(raw: str, hint: bool, value: Decimal | None) -> None:
    assert parse_number(raw, decimal_hint=hint) == value


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=120)
    | st.lists(
        st.sampled_from(
            [
                "rp",
                "Rp.",
                "100",
                "1.5",
                "jt",
                "rb",
                "k",
                "besok",
                "jam",
                "10",
                "setengah",
                "sore",
                "25/12",
                "ORD-",
                "#",
                "rek",
                "0812",
                "+62",
                "-",
                ",",
                ".",
                ":",
                "juta",
                "dua",
                "puluh",
                "senin",
                "depan",
                "in",
                "3",
                "days",
                "lagi",
                "tanggal",
                "31",
                "Des",
                "9999",
            ]
        ),
        max_size=15,
    ).map(" ".join),
    st.datetimes(timezones=st.just(UTC))
    | st.sampled_from([datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)]),
)
def test_entities_never_raise(text: str, now: datetime) -> None:
    found = extract_entities(text, now=now)
    assert all(isinstance(e, Entity) for e in found)
    spans = [(e.start, e.end) for e in found]
    assert spans == sorted(spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    assert all(text[e.start : e.end] == e.text for e in found)
