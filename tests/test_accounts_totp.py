"""TOTP step matching (RFC 6238, ±1 step, no reuse), enrolment URI/QR, recovery codes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from aman.accounts import totp
from aman.accounts.errors import ValidationError

T = 1_800_000_010.0


def test_rfc6238_sha1_reference_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) -> last 6 digits.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32("12345678901234567890")
    step = totp.match_step(secret, "287082", 59.0, None)
    assert step == 1


def test_accepts_previous_current_and_next_step_only() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32  # 160 bits
    gen = pyotp.TOTP(secret)
    current = int(T // 30)
    for offset in (-1, 0, 1):
        code = gen.at(T + 30 * offset)
        assert totp.match_step(secret, code, T, None) == current + offset
    for offset in (-3, -2, 2, 3):
        code = gen.at(T + 30 * offset)
        if code not in {gen.at(T - 30), gen.at(T), gen.at(T + 30)}:
            assert totp.match_step(secret, code, T, None) is None


def test_a_used_step_cannot_be_used_again() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(T)
    step = totp.match_step(secret, code, T, None)
    assert step is not None
    assert totp.match_step(secret, code, T, step) is None
    assert totp.match_step(secret, code, T + 30, step) is None  # still inside the window
    older = pyotp.TOTP(secret).at(T - 30)
    assert totp.match_step(secret, older, T, step) is None  # earlier steps are spent too


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 34 5", "１２３４５６"])
def test_malformed_codes_are_refused(bad: str) -> None:
    assert totp.match_step(totp.new_secret(), bad, T, None) is None


def test_provisioning_uri_and_svg_qr() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, "budi@bank.test", "aman bank-x")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["aman bank-x"]
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<script" not in svg and "href" not in svg


def test_recovery_codes_are_random_formatted_and_salted() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert len(code) == 19 and code.count("-") == 3
    a = totp.hash_recovery_code(codes[0])
    b = totp.hash_recovery_code(codes[0])
    assert a.salt != b.salt and a.code_hash != b.code_hash  # per-code salt
    assert totp.recovery_code_matches(codes[0].lower().replace("-", " "), a)
    assert not totp.recovery_code_matches(codes[1], a)
    assert not totp.recovery_code_matches("not a code", a)
    with pytest.raises(ValidationError):
        totp.hash_recovery_code("short")
