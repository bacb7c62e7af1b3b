"""Password policy, the shipped common-password list, argon2id parameters and rehashing."""

from __future__ import annotations

import time

import pytest

from aman.accounts.errors import PasswordPolicyError, ValidationError
from aman.accounts.passwords import (
    OWASP_MINIMUM,
    Argon2Params,
    PasswordHasher,
    check_password,
    common_passwords,
)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw1!", "too_short"),
        ("x" * 257, "too_long"),
        ("aaaaaaaaaaaaaa", "too_simple"),
        ("qwertyuiop123", "common"),
        ("Bismillah2024!", "common"),
        ("P@ssw0rd123456", "common"),
        ("PASSWORD12345678", "common"),
        ("sayangku@1995", "common"),
        ("1ndonesia2025!!", "common"),
        ("123456789012", "common"),
        ("1q2w3e4r5t6y", "common"),
        ("Budi.Santoso#77!", "contains_email"),
        ("santoso-rocks-2026", "contains_email"),
        ("bank-x forever 2026", "context"),
    ],
)
def test_policy_rejects(password: str, reason: str) -> None:
    with pytest.raises(PasswordPolicyError) as info:
        check_password(password, email="budi.santoso@bank.test", context=("bank-x", "Bank X"))
    assert info.value.reason == reason
    assert str(info.value)


@pytest.mark.parametrize(
    "password",
    [
        "Kopi-tubruk di Senayan 47",
        "correct horse battery staple",
        "t7#Lq9!vR2@wXz",
        "saya suka nasi uduk pagi-pagi",
        "a" * 200 + "bcde",
    ],
)
def test_policy_accepts(password: str) -> None:
    assert check_password(password, email="budi.santoso@bank.test", context=("bank-x",))


def test_policy_normalises_unicode_and_bounds() -> None:
    # NFKC: full-width letters are the same password as ASCII ones.
    assert check_password("ｃｏｒｒｅｃｔ horse battery") == "correct horse battery"
    assert check_password("wxyz" * 64) == "wxyz" * 64  # exactly 256
    with pytest.raises(PasswordPolicyError):
        check_password("wxyz" * 64 + "w")


def test_common_list_is_large_and_lower_case() -> None:
    words = common_passwords()
    assert len(words) >= 10_000
    assert all(w == w.lower() for w in words)
    for expected in ("password", "sayang", "bismillah", "indonesia", "qwerty", "123456"):
        assert expected in words


def test_argon2_parameters_below_owasp_are_refused() -> None:
    with pytest.raises(ValidationError):
        Argon2Params(memory_kib=16 * 1024, time_cost=2)
    with pytest.raises(ValidationError):
        Argon2Params(memory_kib=64 * 1024, time_cost=1)
    default = Argon2Params()
    assert (default.memory_kib, default.time_cost, default.parallelism) == (65536, 3, 1)


def test_hash_is_argon2id_with_configured_params() -> None:
    hasher = PasswordHasher(OWASP_MINIMUM)
    stored = hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(stored, "correct horse battery")
    assert not hasher.verify(stored, "correct horse batterY")
    assert not hasher.verify("not-a-hash", "correct horse battery")
    assert not hasher.verify(stored, "y" * 300)


def test_needs_rehash_when_parameters_rise() -> None:
    weak = PasswordHasher(OWASP_MINIMUM).hash("correct horse battery")
    strong = PasswordHasher(Argon2Params(memory_kib=32 * 1024, time_cost=3))
    assert strong.needs_rehash(weak)
    assert strong.verify(weak, "correct horse battery")  # old hashes still verify
    assert not strong.needs_rehash(strong.hash("correct horse battery"))


def test_default_hashing_time_is_reported() -> None:
    """The default (m=64 MiB, t=3, p=1) must cost real work but stay usable (< 1 s)."""
    hasher = PasswordHasher()
    hasher.hash("warm-up password")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        hasher.hash("correct horse battery")
        times.append(time.perf_counter() - start)
    median = sorted(times)[1]
    print(f"argon2id m=64MiB t=3 p=1: {median * 1000:.0f} ms per hash")
    assert 0.02 < median < 1.0
