"""Fuzzing the NLU text functions with hostile Unicode and number-heavy chat text.

The plain properties (never raises, idempotent on ``st.text()``, entity spans)
live in test_nlu_normalize.py and test_nlu_entities.py; this file adds the
Unicode that NFKC folding and ``str.isdigit`` treat specially (ligatures,
mathematical and full-width digits, Arabic-Indic digits, combining marks,
bidi controls) and checks that every extracted value is in range: money is a
finite non-negative Decimal that round-trips the written amount, dates and
times are valid ISO values that agree with the text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aman.nlu.entities import extract_entities
from aman.nlu.money import find_money
from aman.nlu.normalize import normalize
from aman.nlu.when import JAKARTA, find_datetimes

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

PIECES = [
    *"İıßẞΣσςﬁﬀ①²½⅓ⅫＡ１２３٣৪߂᠐𝟙𝟚ǅǈᾈŉΐⅱⓐ🅰ｶﾞ",
    *" .,:/-_'’`",
    *"\u0301\u0308\u0345\u200b\u200c\u200d\u202e\u2066\ufeff\u00a0\u3000",
    *"rbjtkmRpaeiou0123456789",
    "yaa",
    "brg2",
    "100rb",
    "1,5jt",
    "Rp",
    "rp.",
    "IDR",
    "ribu",
    "juta",
    "miliar",
    "seratus",
    "setengah",
    "dua puluh",
    "besok",
    "lusa",
    "jam",
    "pukul",
    "tgl",
    "sore",
    "malam",
    "senin depan",
    "hari lagi",
    "in 3 days",
    "3pm",
    "25/12",
    "31-02-2026",
    "𝟏𝟎𝟎𝐫𝐛",
    "ﬃ",
    "㎏",
    "℃",
    "№",
    "™",
    "maaaf",
    "sy",
    "İstanbul",
    "ORD-12345",
    "rek 1234567890",
    "0812-3456-7890",
]
hostile_text = st.lists(st.sampled_from(PIECES), max_size=30).map("".join) | st.text(max_size=80)
nows = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@settings(FUZZ, max_examples=700)
@given(hostile_text)
def test_normalize_never_raises_and_is_idempotent_on_hostile_unicode(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str) and once == once.strip() and "  " not in once
    assert normalize(once) == once


words = st.text(alphabet=st.sampled_from("abgrhiklmnstuyİßéσ"), min_size=3, max_size=8)


@settings(FUZZ, max_examples=400)
@given(
    st.sampled_from(["", "x ", "1.", "ok, "]),
    words,
    st.sampled_from([".", ",", ":", "/", "-"]),
    st.text(alphabet="0123456789", min_size=1, max_size=4),
    st.sampled_from(["", " ", "rb", ".", "2", " lagi"]),
)
def test_reduplication_next_to_a_number_is_idempotent(
    before: str, word: str, sep: str, digits: str, after: str
) -> None:
    """A "2" that starts a number ("brg2.9", "hari2:30") is a number, not reduplication."""
    text = f"{before}{word}2{sep}{digits}{after}"
    once = normalize(text)
    assert normalize(once) == once
    assert f" 2{sep}{digits}" in f" {once}"


@settings(FUZZ, max_examples=200)
@given(words, st.sampled_from(["", " ", ".", ". 9", "-an", "!"]))
def test_reduplication_without_a_number_still_doubles(word: str, after: str) -> None:
    once = normalize(f"{word}2{after}")
    assert normalize(once) == once
    assert "2" not in once and once.count(normalize(word)) >= 2


def _check_entities(text: str, now: datetime) -> None:
    for e in extract_entities(text, now=now):
        assert 0 <= e.start < e.end <= len(text) and text[e.start : e.end] == e.text
        if e.kind == "money":
            assert isinstance(e.value, Decimal) and e.value.is_finite()
            assert Decimal(0) <= e.value < Decimal(10) ** 25
        elif e.kind == "datetime":
            moment = datetime.fromisoformat(str(e.value))
            assert moment.utcoffset() == timedelta(hours=7)
        elif e.kind == "date":
            date.fromisoformat(str(e.value))
        elif e.kind == "time":
            time.fromisoformat(str(e.value))
        else:
            assert isinstance(e.value, str) and e.value


@settings(FUZZ, max_examples=800)
@given(hostile_text, nows)
def test_entities_never_raise_and_values_are_in_range(text: str, now: datetime) -> None:
    _check_entities(text, now)


@settings(FUZZ, max_examples=8)
@given(st.lists(st.sampled_from(PIECES), min_size=2000, max_size=3000).map(" ".join), nows)
def test_entities_on_long_messages(text: str, now: datetime) -> None:
    """Longer than the 10,000-character scan bound; still no error, spans inside."""
    _check_entities(text, now)


@settings(FUZZ, max_examples=300)
@given(
    st.integers(0, 10**15 - 1),
    st.sampled_from(["Rp ", "Rp", "IDR ", "rp. "]),
    st.sampled_from([".", ","]),
)
def test_grouped_rupiah_amounts_round_trip(n: int, prefix: str, sep: str) -> None:
    written = f"{n:,}".replace(",", sep)
    found = find_money(f"bayar {prefix}{written} ya")
    assert [v for _, _, v in found] == [Decimal(n)]


@settings(FUZZ, max_examples=300)
@given(
    st.integers(0, 999_999),
    st.sampled_from(
        [
            ("rb", 10**3),
            ("ribu", 10**3),
            ("k", 10**3),
            ("jt", 10**6),
            ("juta", 10**6),
            ("miliar", 10**9),
        ]
    ),
)
def test_multiplied_amounts_round_trip(n: int, mult: tuple[str, int]) -> None:
    found = find_money(f"transfer {n}{mult[0]}")
    assert [v for _, _, v in found] == [Decimal(n * mult[1])]


@settings(FUZZ, max_examples=200)
@given(st.integers(0, 999), st.sampled_from(["hari lagi", "hari kemudian"]), nows)
def test_day_offsets_land_on_the_right_date(n: int, words: str, now: datetime) -> None:
    today = now.astimezone(JAKARTA).date()
    found = find_datetimes(f"{n} {words}", now)
    assert [(k, v) for k, _, _, v in found] == [("date", (today + timedelta(days=n)).isoformat())]


@settings(FUZZ, max_examples=300)
@given(st.integers(0, 40), st.integers(0, 13), nows)
def test_day_month_dates_are_real_and_ahead(day: int, month: int, now: datetime) -> None:
    today = now.astimezone(JAKARTA).date()
    found = find_datetimes(f"tgl {day}/{month}", now)
    try:
        date(2024, month, day)  # a leap year: every real day/month exists
    except ValueError:
        assert found == []
        return
    if not found:
        assert (day, month) == (29, 2)  # no leap day in the coming years
        return
    got = date.fromisoformat(found[0][3])
    assert (got.day, got.month) == (day, month)
    assert today <= got <= today + timedelta(days=4 * 366)


@settings(FUZZ, max_examples=300)
@given(st.integers(0, 99), st.integers(0, 99), nows)
def test_clock_times_are_valid(hour: int, minute: int, now: datetime) -> None:
    found = find_datetimes(f"jam {hour}:{minute:02d}", now)
    for kind, _, _, value in found:
        clock = (
            time.fromisoformat(value) if kind == "time" else datetime.fromisoformat(value).time()
        )
        assert hour <= 24 and minute <= 59  # out-of-range clocks are not extracted
        assert (clock.hour, clock.minute) == (hour % 24, minute)
