"""Tests for aman.security.redact: secrets are removed, ordinary numbers stay."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.security.patterns import luhn_valid
from aman.security.redact import (
    _KEYWORDS,
    KINDS,
    SECRET_WARNING_EN,
    SECRET_WARNING_ID,
    Finding,
    RedactionError,
    _may_have_keyword,
    contains_secret,
    redact,
)

# (message, expected redacted text)
POSITIVE: list[tuple[str, str]] = [
    # PIN
    ("PIN saya 123456", "PIN saya [PIN]"),
    ("pin atm saya adalah 1234", "pin atm saya adalah [PIN]"),
    ("pinnya 9876 kak", "pinnya [PIN] kak"),
    ("m-pin 654321", "m-pin [PIN]"),
    ("mpin nya 112233", "mpin nya [PIN]"),
    ("PIN lama 1234 baru 5678", "PIN lama [PIN] baru [PIN]"),
    ("My PIN is 4321", "My PIN is [PIN]"),
    ("1234 itu pin saya", "[PIN] itu pin saya"),
    ("kode pin 2468", "kode pin [PIN]"),
    # OTP
    ("kode OTP nya 123456", "kode OTP nya [OTP]"),
    ("OTP: 482913", "OTP: [OTP]"),
    ("otpnya 9911", "otpnya [OTP]"),
    (
        "<#> 482913 adalah kode OTP Anda. JANGAN BERIKAN kode ini ke siapapun",
        "<#> [OTP] adalah kode OTP Anda. JANGAN BERIKAN kode ini ke siapapun",
    ),
    ("Kode verifikasi WhatsApp Anda: 123-456", "Kode verifikasi WhatsApp Anda: [OTP]"),
    ("kode verif 778899", "kode verif [OTP]"),
    ("kode rahasia 5566", "kode rahasia [OTP]"),
    ("kodenya 4821 ya kak", "kodenya [OTP] ya kak"),
    ("kode 123456", "kode [OTP]"),
    ("token 12345678", "token [OTP]"),
    (
        "Kode OTP Anda untuk transaksi di Tokopedia adalah 123456",
        "Kode OTP Anda untuk transaksi di Tokopedia adalah [OTP]",
    ),
    ("Your verification code is 839201", "Your verification code is [OTP]"),
    ("839201 is your verification code", "[OTP] is your verification code"),
    ("one-time password: 5512", "one-time password: [OTP]"),
    ("1 2 3 4 5 6 itu kode OTP saya", "[OTP] itu kode OTP saya"),
    ("otp \uff11\uff12\uff13\uff14\uff15\uff16", "otp [OTP]"),  # full-width digits
    # PASSWORD
    ("password saya: Rahasia123!", "password saya: [PASSWORD]"),
    ("passwordnya hunter22", "passwordnya [PASSWORD]"),
    ("kata sandi baru: abc", "kata sandi baru: [PASSWORD]"),
    ("pw: qwerty", "pw: [PASSWORD]"),
    ("sandi 123456", "sandi [PASSWORD]"),
    ("my password is Tr0ub4dor&3", "my password is [PASSWORD]"),
    ("pasword = s3cr3t ok", "pasword = [PASSWORD] ok"),
    # CVV
    ("CVV 123", "CVV [CVV]"),
    ("cvv nya 4567", "cvv nya [CVV]"),
    ("3 angka di belakang kartu: 456", "3 angka di belakang kartu: [CVV]"),
    ("kode keamanan 789", "kode keamanan [CVV]"),
    ("security code 321", "security code [CVV]"),
    # CARD
    ("kartu saya 4111111111111111", "kartu saya [CARD]"),
    (
        "Nomor kartu 4111 1111 1111 1111 exp 12/26 cvv 123",
        "Nomor kartu [CARD] exp 12/26 cvv [CVV]",
    ),
    ("my card 5555-5555-5555-4444", "my card [CARD]"),
    ("amex 378282246310005", "amex [CARD]"),
    # NIK
    ("NIK saya 3171234567890001", "NIK saya [NIK]"),
    ("3171234567890002", "[NIK]"),
    ("ktp: 3171 2345 6789 0001", "ktp: [NIK]"),
    # ACCOUNT
    ("no rek BCA 1234567890 a.n. Budi", "no rek BCA [ACCOUNT] a.n. Budi"),
    ("norek 1234567890", "norek [ACCOUNT]"),
    ("no. rek. 123-456-7890", "no. rek. [ACCOUNT]"),
    ("my account number is 12345678901", "my account number is [ACCOUNT]"),
    ("transfer ke rekening 0123456789 ya", "transfer ke rekening [ACCOUNT] ya"),
    ("rekening mandiri 123-00-1234567-8", "rekening mandiri [ACCOUNT]"),
    # several in one message
    (
        "PIN saya 1234, transfer 100000 ke rek 1234567890",
        "PIN saya [PIN], transfer 100000 ke rek [ACCOUNT]",
    ),
]

NEGATIVE: list[str] = [
    "transfer 100000 ke rekening saya ya",
    "harga 150000, kode promo HEMAT",
    "kode pos 12345",
    "kode booking 123456",
    "kode unik 123",
    "pinjaman 5000000",
    "shopping 1234 items",
    "pin lokasi 1234",
    "hubungi 081234567890",
    "+62 812-3456-7890",
    "6281234567890",
    "order ORD-12345 sudah dikirim",
    "order #123456 belum sampai",
    "Rp 1.500.000",
    "100rb aja kak",
    "1,5jt bisa?",
    "tanggal 12-05-2024 jam 10.30",
    "kode OTP berlaku 5 menit",
    "invoice INV/2024/0001",
    "token listrik 1234 5678 9012 3456 7890",
    "saldo saya 12345678",
    "zip code 10110",
    "discount code 5521",
    "I paid 250000 yesterday",
    "I forgot my password",
    "reset password please",
    "password saya lupa",
    "transfer 250000 pakai pin",
    "kirim 3 pcs ke alamat no 12",
    "meeting at 10:30 on 2024-05-12",
    "saya lahir tahun 1990",
    "pesanan 2 dus, total 3 item",
]


@pytest.mark.parametrize(("message", "expected"), POSITIVE)
def test_secrets_are_redacted(message: str, expected: str) -> None:
    result = redact(message)
    assert result.text == expected
    assert contains_secret(message)


@pytest.mark.parametrize("message", NEGATIVE)
def test_ordinary_text_is_untouched(message: str) -> None:
    result = redact(message)
    assert result.text == message
    assert result.findings == ()
    assert not contains_secret(message)


def test_case_counts() -> None:
    assert len(POSITIVE) + len(NEGATIVE) >= 40
    assert {k for _, text in POSITIVE for k in KINDS if f"[{k}]" in text} == KINDS


def test_fixture_numbers_are_what_they_claim() -> None:
    for card in ("4111111111111111", "5555555555554444", "378282246310005"):
        assert luhn_valid(card)
    assert not luhn_valid("3171234567890002")  # bare 16 digits, not a card: NIK
    assert luhn_valid("3171234567890001")  # passes Luhn, yet "NIK"/"ktp" keeps it a NIK


def test_findings_point_at_the_original_text() -> None:
    message = "PIN saya 1234 dan OTP: 987654, kartu 4111 1111 1111 1111"
    result = redact(message)
    spans = [(f.kind, message[f.start : f.end]) for f in result.findings]
    assert spans == [("PIN", "1234"), ("OTP", "987654"), ("CARD", "4111 1111 1111 1111")]
    assert result.kinds == frozenset({"PIN", "OTP", "CARD"})
    assert result.text == "PIN saya [PIN] dan OTP: [OTP], kartu [CARD]"


def test_card_takes_precedence_but_account_keyword_wins() -> None:
    assert redact("4111111111111111").findings == (Finding("CARD", 0, 16),)
    assert redact("rekening 4111111111111111").findings[0].kind == "ACCOUNT"
    assert redact("nik 4111111111111111").findings[0].kind == "NIK"


def test_phone_number_that_passes_luhn_is_not_a_card() -> None:
    phone = next(
        f"62812{n:08d}" for n in range(10_000_000, 10_000_100) if luhn_valid(f"62812{n:08d}")
    )
    assert redact(f"wa saya {phone}").findings == ()
    assert redact(f"wa saya +{phone}").findings == ()


@pytest.mark.parametrize(
    ("message", "expecting", "expected"),
    [
        ("123456", {"OTP"}, "[OTP]"),
        ("  1234 ", {"PIN"}, "  [PIN] "),
        ("123 456", {"OTP", "PIN"}, "[OTP]"),
        ("4321", {"PIN", "OTP"}, "[OTP]"),
        ("987", {"CVV"}, "[CVV]"),
        ("1234567890", {"ACCOUNT"}, "[ACCOUNT]"),
        ("hunter2", {"PASSWORD"}, "[PASSWORD]"),
        ("123456", set(), "123456"),
        ("12-05-2024", {"PIN"}, "12-05-2024"),
        ("halo 123456", {"OTP"}, "halo 123456"),
        ("123", {"PIN"}, "123"),
        ("lupa pin", {"PASSWORD"}, "lupa pin"),
    ],
)
def test_expecting_bare_values(message: str, expecting: set[str], expected: str) -> None:
    assert redact(message, expecting=frozenset(expecting)).text == expected


def test_unknown_expecting_kind_is_an_error() -> None:
    with pytest.raises(RedactionError, match="unknown kinds in expecting: \\['SSN'\\]"):
        redact("1234", expecting=frozenset({"SSN"}))


def test_non_string_input_is_an_error() -> None:
    with pytest.raises(RedactionError):
        redact(1234)  # type: ignore[arg-type]


def test_warning_texts_cover_every_secret() -> None:
    for warning in (SECRET_WARNING_ID, SECRET_WARNING_EN):
        for word in ("PIN", "OTP", "password", "CVV"):
            assert word in warning
    assert "bank" in SECRET_WARNING_ID and "bank" in SECRET_WARNING_EN
    assert len(SECRET_WARNING_ID) < 300 and len(SECRET_WARNING_EN) < 300


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.sampled_from(["PIN saya", "pin:", "kode OTP", "OTP nya", "kodenya", "mpin"]),
    digits=st.from_regex(r"\A[0-9]{4,8}\Z"),
    suffix=st.sampled_from(["", " ya", " kak", ". Makasih", " tolong dicek"]),
)
def test_keyword_secrets_never_survive(prefix: str, digits: str, suffix: str) -> None:
    result = redact(f"{prefix} {digits}{suffix}")
    assert digits not in result.text
    assert result.text.endswith(suffix)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_findings_are_ordered_disjoint_and_consistent(text: str) -> None:
    result = redact(text)
    previous_end = 0
    rebuilt: list[str] = []
    for f in result.findings:
        assert f.kind in KINDS
        assert previous_end <= f.start < f.end <= len(text)
        rebuilt.append(text[previous_end : f.start] + f"[{f.kind}]")
        previous_end = f.end
    rebuilt.append(text[previous_end:])
    assert "".join(rebuilt) == result.text


@settings(max_examples=100, deadline=None)
@given(amount=st.integers(min_value=1000, max_value=99_999_999))
def test_amounts_stay(amount: int) -> None:
    for message in (f"Rp {amount}", f"transfer {amount} ya", f"harga {amount:,}".replace(",", ".")):
        assert redact(message).text == message


# The keyword scan is skipped for texts that contain none of the keywords' pieces: every
# text the pattern matches must pass that check, or a secret would be kept.
@settings(max_examples=500, deadline=None)
@given(st.from_regex(_KEYWORDS, alphabet=st.characters(codec="ascii")))
def test_every_keyword_passes_the_quick_check(text: str) -> None:
    assert _KEYWORDS.search(text) is not None
    assert _may_have_keyword(text), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=80))
def test_the_quick_check_never_hides_a_keyword_in_ascii_text(text: str) -> None:
    if _KEYWORDS.search(text) is not None:
        assert _may_have_keyword(text)


def test_texts_with_other_letters_get_the_full_scan() -> None:
    # Case-insensitive matching folds the Kelvin sign onto k and the long s onto s,
    # which lower() does not: such texts never take the quick path.
    assert redact("\u212aode OTP 123456").text == "\u212aode OTP [OTP]"
    assert _may_have_keyword("pesanan sudah sampai \U0001f64f")
    assert not _may_have_keyword("pesanan ie1000-000123 sudah sampai, makasih")
    assert redact("PIN saya 123456 \U0001f64f").text == "PIN saya [PIN] \U0001f64f"
