"""Tests for aman.guard.outbound: the check run on every message aman sends."""

from __future__ import annotations

import pytest

from aman.guard.errors import GuardError
from aman.guard.outbound import (
    InvalidDomainError,
    OutboundBlocked,
    Violation,
    check_outbound,
    enforce_outbound,
)

ALLOWED = ("bank.example.co.id", "aman-shop.example.id")

CASES: list[tuple[str, set[str]]] = [
    # security warnings must pass
    ("Jangan pernah berikan PIN atau kode OTP kepada siapa pun, termasuk petugas kami.", set()),
    ("We will NEVER ask for your PIN, OTP or password.", set()),
    ("Never share your OTP, and do not send your PIN to anyone.", set()),
    ("Bank tidak pernah meminta PIN, password, atau CVV melalui WhatsApp.", set()),
    ("Kode OTP Anda 482913. Jangan berikan kode ini kepada siapa pun.", set()),
    ("Jangan berikan PIN, atau kirimkan OTP kepada siapa pun.", set()),
    ("Masukkan PIN Anda di aplikasi untuk menyelesaikan transaksi.", set()),
    ("Our staff will never ask you to type your PIN in this chat.", set()),
    # requests for secrets must not
    ("Silakan kirimkan kode OTP yang masuk ke HP Anda untuk verifikasi.", {"asks_secret"}),
    ("Please reply with your 6-digit verification code.", {"asks_secret"}),
    ("Silakan ketik PIN Anda untuk konfirmasi.", {"asks_secret"}),
    ("Mohon sebutkan 3 digit di belakang kartu Anda.", {"asks_secret"}),
    ("Jangan lupa kirimkan kode OTP ke kami ya", {"asks_secret"}),
    (
        "Kami tidak akan pernah meminta PIN Anda. Silakan kirimkan kode OTP yang Anda terima.",
        {"asks_secret"},
    ),
    ("Kami tidak meminta PIN, cukup kirimkan kode OTP saja.", {"asks_secret"}),
    ("What is your card number and CVV?", {"asks_secret"}),
    # links
    ("Info promo: https://bank.example.co.id/promo", set()),
    ("Info promo: https://promo.bank.example.co.id/x", set()),
    ("Belanja di aman-shop.example.id/produk/1", set()),
    ("Info promo: http://bank.example.co.id/promo", {"link_insecure"}),
    ("Cek di https://bit.ly/abc", {"link_not_allowed"}),
    ("Cek di bank-example.co.id/login", {"link_not_allowed"}),
    ("Lihat https://example.co.id/x", {"link_not_allowed"}),
    ("Cek [bank.example.co.id](https://evil.example.net)", {"link_not_allowed",
                                                           "link_display_mismatch"}),
    ("Klik [bca.co.id](https://bank.example.co.id/a)", {"link_display_mismatch"}),
    ("Login https://bank.example.co.id@evil.xyz", {"link_userinfo", "link_not_allowed"}),
    ("Buka data:text/html,hi", {"link_scheme"}),
    ("Buka javascript:alert(1)", {"link_scheme"}),
    ("Lihat https://bаnk.example.co.id/masuk", {"link_not_allowed"}),
    # numbers
    ("Saldo rekening ****1234 Anda Rp 1.250.000.000", set()),
    ("Kartu Anda 4111 **** **** 1111 telah aktif", set()),
    ("Rekening tujuan 1234567890 a.n. Budi", {"account_number"}),
    ("Rekening tujuan 123-456-7890 a.n. Budi", {"account_number"}),
    ("Nomor kartu 4111 1111 1111 1111", {"card_number"}),
    ("NIK 3174015208900001 terdaftar", {"nik"}),
    ("Hubungi call center 1500888 atau WA 0812 3456 7890", set()),
    ("Call us at +62 21 2358 8000", set()),
    ("No. Ref: 240115093012", set()),
    ("Bayar ke Virtual Account 8808 0812 3456 7890", set()),
    ("Transfer Rp 50.000.000 berhasil", set()),
    ("Pesanan INV/20240115/MPL/3928475 sudah dikirim", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_outbound_cases(text: str, expected: set[str]) -> None:
    assert {v.code for v in check_outbound(text, ALLOWED)} == expected


def test_enough_cases() -> None:
    assert len(CASES) >= 25


def test_violation_messages_do_not_echo_numbers() -> None:
    for v in check_outbound("Rekening 1234567890, kartu 4111 1111 1111 1111", ALLOWED):
        assert "1234567890" not in v.message
        assert "4111" not in v.message


def test_enforce_raises_with_violations() -> None:
    with pytest.raises(OutboundBlocked) as info:
        enforce_outbound("Kirimkan kode OTP ke https://bit.ly/x", ALLOWED)
    codes = {v.code for v in info.value.violations}
    assert codes == {"asks_secret", "link_not_allowed"}
    assert isinstance(info.value, GuardError)
    assert all(isinstance(v, Violation) for v in info.value.violations)


def test_enforce_passes_clean_message() -> None:
    enforce_outbound("Terima kasih, pesanan Anda sedang diproses.", ALLOWED)


@pytest.mark.parametrize("bad", ["https://bank.example.co.id", "bank", "", "a b.com", "x/y.com"])
def test_invalid_allowlist_entry(bad: str) -> None:
    with pytest.raises(InvalidDomainError):
        check_outbound("halo", [bad])


def test_allowlist_must_be_a_sequence_not_a_string() -> None:
    with pytest.raises(InvalidDomainError):
        check_outbound("halo", "bank.example.co.id")


def test_allowlist_accepts_wildcard_and_case() -> None:
    assert check_outbound("https://a.Bank.Example.co.id/x", ["*.BANK.example.co.id"]) == []


def test_empty_allowlist_blocks_every_link() -> None:
    assert [v.code for v in check_outbound("https://bank.example.co.id", [])] == [
        "link_not_allowed"
    ]


def test_non_str_text_is_rejected() -> None:
    with pytest.raises(TypeError):
        check_outbound(b"halo", ALLOWED)  # type: ignore[arg-type]
