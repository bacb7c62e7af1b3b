"""KeyedMac gives exactly HMAC-SHA256(key, prefix + data) at every size, pieces or whole."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aman.security.keyed_mac import KeyedMac


@pytest.mark.parametrize(
    "size", [0, 1, 2046, 2047, 2048, 4094, 4095, 5000, 262144, 262145, 1 << 20]
)
def test_every_size_matches_the_one_shot_hmac(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    assert KeyedMac(b"k" * 32).digest(data) == hmac.digest(b"k" * 32, data, "sha256")
    assert KeyedMac(b"k" * 32, b"dom:").digest(data) == hmac.digest(
        b"k" * 32, b"dom:" + data, "sha256"
    )


@given(st.binary(max_size=64), st.binary(max_size=16), st.binary(max_size=6000))
def test_matches_for_any_key_prefix_and_data(key: bytes, prefix: bytes, data: bytes) -> None:
    mac = KeyedMac(key, prefix)
    assert mac.digest(data) == hmac.digest(key, prefix + data, "sha256")
    # The absorbed state is copied per call: a second call gives the same answer.
    assert mac.digest(data) == mac.digest(bytes(data))


def test_repr_hides_the_key() -> None:
    assert "secret" not in repr(KeyedMac(b"secret-key"))
