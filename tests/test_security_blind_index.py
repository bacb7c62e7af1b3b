"""Tests for aman.security.blind_index: phone normalisation, HMAC blind index, HKDF, masking."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.security.blind_index import (
    BlindIndex,
    InvalidIdentifierError,
    derive_tenant_key,
    mask_id,
    normalize_msisdn,
)

MASTER = bytes(range(32))


@pytest.mark.parametrize(
    "raw",
    [
        "6281234567890",
        "+6281234567890",
        "+62 812-3456-7890",
        "081234567890",
        "0812 3456 7890",
        "0812-3456-7890",
        "(0812) 3456.7890",
        "0062 812 3456 7890",
        "\u00a0+62 812 3456 7890 ",
    ],
)
def test_normalize_indonesian_forms(raw: str) -> None:
    assert normalize_msisdn(raw) == "6281234567890"


def test_normalize_keeps_other_countries_and_landlines() -> None:
    assert normalize_msisdn("+1 (415) 555-0100") == "14155550100"
    assert normalize_msisdn("021-5550123") == "62215550123"


@pytest.mark.parametrize(
    "raw", ["", "abc", "0812-abc-7890", "1234567", "+1234567890123456", "++62"]
)
def test_normalize_rejects_garbage(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        normalize_msisdn(raw)
    assert isinstance(info.value, ValueError)


def _hkdf_reference(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out with the standard library, to cross-check the library call."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes((counter,)), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def test_derive_tenant_key_matches_rfc5869() -> None:
    info = b"aman-tenant-key-v1" + (4).to_bytes(4, "big") + b"bank" + (11).to_bytes(4, "big")
    info += b"blind-index"
    expected = _hkdf_reference(MASTER, b"aman-hkdf-salt-v1", info, 32)
    assert derive_tenant_key(MASTER, "bank", "blind-index") == expected


def test_derive_tenant_key_separates_tenants_and_purposes() -> None:
    keys = {
        derive_tenant_key(MASTER, "bank-a", "blind-index"),
        derive_tenant_key(MASTER, "bank-b", "blind-index"),
        derive_tenant_key(MASTER, "bank-a", "kek"),
        derive_tenant_key(MASTER, "bank-ab", "lind-index"),
        derive_tenant_key(bytes(32), "bank-a", "blind-index"),
    }
    assert len(keys) == 5
    assert derive_tenant_key(MASTER, "bank-a", "kek") == derive_tenant_key(MASTER, "bank-a", "kek")


@pytest.mark.parametrize(
    ("master", "tenant", "purpose"),
    [(b"short", "t", "p"), (MASTER, "", "p"), (MASTER, "t", "")],
)
def test_derive_tenant_key_rejects_bad_input(master: bytes, tenant: str, purpose: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        derive_tenant_key(master, tenant, purpose)


def test_digest_equal_for_equivalent_numbers() -> None:
    index = BlindIndex(derive_tenant_key(MASTER, "bank-a", "blind-index"))
    forms = ["081234567890", "+62 812-3456-7890", "6281234567890"]
    digests = {index.digest(f) for f in forms}
    assert len(digests) == 1
    digest = digests.pop()
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert index.digest("081234567891") != digest
    assert "81234567890" not in digest


def test_digest_is_hmac_of_normalised_value() -> None:
    key = derive_tenant_key(MASTER, "bank-a", "blind-index")
    expected = hmac.new(key, b"aman-bidx-v1:msisdn:6281234567890", hashlib.sha256).digest()
    assert BlindIndex(key, length=32).digest("0812 3456 7890") == expected.hex()
    assert BlindIndex(key, length=8).digest("0812 3456 7890") == expected[:8].hex()


def test_digest_differs_per_tenant_and_domain() -> None:
    a = BlindIndex(derive_tenant_key(MASTER, "bank-a", "blind-index"))
    b = BlindIndex(derive_tenant_key(MASTER, "bank-b", "blind-index"))
    assert a.digest("081234567890") != b.digest("081234567890")
    assert a.digest("081234567890") != a.digest_text("6281234567890")
    assert a.digest_text("Cafe\u0301") == a.digest_text("Caf\u00e9")  # NFC


def test_matches_and_bad_values() -> None:
    index = BlindIndex(MASTER)
    digest = index.digest("081234567890")
    assert index.matches("+62 812 3456 7890", digest)
    assert not index.matches("081234567891", digest)
    assert not index.matches("not a phone", digest)
    with pytest.raises(InvalidIdentifierError):
        index.digest("not a phone")


@pytest.mark.parametrize(("key", "length"), [(b"k" * 31, 16), (MASTER, 7), (MASTER, 33)])
def test_blind_index_rejects_bad_parameters(key: bytes, length: int) -> None:
    with pytest.raises(InvalidIdentifierError):
        BlindIndex(key, length=length)


def test_repr_hides_key() -> None:
    assert MASTER.hex() not in repr(BlindIndex(MASTER))


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("6281234567890", "62812****90"),
        ("+62 812-3456-7890", "62812****90"),
        ("0812 3456 7890", "62812****90"),
        ("14155550100", "14155****00"),
        ("hello", "****"),
        ("12345678", "****"),
        ("", "****"),
    ],
)
def test_mask_id(raw: str, masked: str) -> None:
    assert mask_id(raw) == masked


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"\A(\+62|0)8[1-9][0-9]{7,10}\Z"))
def test_mask_never_reveals_the_subscriber_number(phone: str) -> None:
    digits = normalize_msisdn(phone)
    masked = mask_id(phone)
    assert digits not in masked
    assert masked == digits[:5] + "****" + digits[-2:]
    assert len(masked.replace("*", "")) == 7  # 7 digits shown whatever the number length


def test_log_tag_is_short_keyed_and_total() -> None:
    a, b = BlindIndex(MASTER), BlindIndex(bytes(32))
    tag = a.log_tag("081234567890")
    assert len(tag) == 10
    assert tag == a.log_tag("+62 812 3456 7890")
    assert tag != b.log_tag("081234567890")
    assert tag not in a.digest("081234567890")
    assert len(a.log_tag("not a phone at all")) == 10
