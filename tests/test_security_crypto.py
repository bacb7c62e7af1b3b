"""Tests for aman.security.crypto: envelope encryption, key wrapping, rotation, crypto-shredding."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.security.crypto import (
    PURPOSE_CONTACT,
    Aad,
    CryptoError,
    DataKey,
    DecryptionError,
    KeyDestroyedError,
    KeyProvider,
    Keyring,
    LocalKeyProvider,
    MasterKeyError,
    WrappedKey,
    generate_master_key,
    key_id_of,
    load_master_key,
    new_data_key,
    random_bytes,
)

AAD = Aad("bank-a", "messages", "body", "42")


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate("bank-a:1")


@pytest.fixture
def provider() -> LocalKeyProvider:
    return LocalKeyProvider(load_master_key(generate_master_key()), "local:1")


# --- master keys --------------------------------------------------------------------


def test_generated_master_key_round_trips() -> None:
    text = generate_master_key()
    raw = load_master_key(text)
    assert len(raw) == 32
    assert base64.b64encode(raw).decode() == text
    assert generate_master_key() != text


def test_master_key_accepts_urlsafe_and_whitespace() -> None:
    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    assert load_master_key("  " + base64.urlsafe_b64encode(raw).decode() + "\n") == raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (base64.b64encode(b"k" * 16).decode(), "exactly 32 bytes, got 16 bytes"),
        (base64.b64encode(b"k" * 33).decode(), "got 33 bytes"),
        ("not base64!!", "not valid base64"),
        ("", "got 0 bytes"),
    ],
)
def test_bad_master_key_is_a_clear_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        load_master_key(text)
    assert isinstance(info.value, MasterKeyError)
    assert text.strip() == "" or text not in str(info.value)


def test_local_provider_rejects_short_master_key() -> None:
    with pytest.raises(MasterKeyError):
        LocalKeyProvider(b"short")


# --- Aad -----------------------------------------------------------------------------


def test_aad_encoding_is_unambiguous() -> None:
    assert Aad("ab", "c", "d", "e").encode() != Aad("a", "bc", "d", "e").encode()
    assert Aad("a", "b", "c", "d").encode() == Aad("a", "b", "c", "d").encode()
    assert Aad("a", "b", "c", "d").encode() != Aad("a", "b", "d", "c").encode()


def test_aad_encoding_is_the_stored_format() -> None:
    # Every stored blob was sealed with this layout: changing it makes them unreadable.
    assert Aad("bank-a", "inbox", "payload", "wamid.Ü1").encode() == (
        b"aman-aad-v1" + b"\0\0\0\x06bank-a" + b"\0\0\0\x05inbox" + b"\0\0\0\x07payload"
        + b"\0\0\0\x09" + "wamid.Ü1".encode()
    )


@pytest.mark.parametrize("field", ["tenant", "table", "column", "row"])
def test_aad_rejects_empty_fields(field: str) -> None:
    values = {"tenant": "t", "table": "m", "column": "c", "row": "1", field: ""}
    with pytest.raises(CryptoError, match=f"Aad.{field}"):
        Aad(**values)


# --- seal / open ---------------------------------------------------------------------


def test_seal_open_round_trip(keyring: Keyring) -> None:
    blob = keyring.seal(b"saldo saya berapa?", AAD)
    assert keyring.open(blob, AAD) == b"saldo saya berapa?"
    assert keyring.open_str(keyring.seal_str("halo 👋", AAD), AAD) == "halo 👋"
    assert keyring.open(keyring.seal(b"", AAD), AAD) == b""


def test_blob_layout(keyring: Keyring) -> None:
    blob = keyring.seal(b"abc", AAD)
    kid = b"bank-a:1"
    assert blob[0] == 1
    assert blob[1] == len(kid)
    assert blob[2 : 2 + len(kid)] == kid
    assert len(blob) == 2 + len(kid) + 12 + 3 + 16
    assert key_id_of(blob) == "bank-a:1"
    assert b"abc" not in blob


def test_nonces_are_fresh(keyring: Keyring) -> None:
    blobs = {keyring.seal(b"same", AAD) for _ in range(50)}
    assert len(blobs) == 50


def test_random_bytes_are_fresh_and_sized() -> None:
    draws = {random_bytes(12) for _ in range(1000)}
    assert len(draws) == 1000 and {len(d) for d in draws} == {12}
    keys = {new_data_key(f"k{i}").secret for i in range(100)}
    assert len(keys) == 100 and {len(k) for k in keys} == {32}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_repeats_the_parents_nonces(keyring: Keyring) -> None:
    # A DRBG state copied into a child by fork must not hand out the parent's next
    # bytes: the same nonce under the same key would break AES-GCM.
    random_bytes(12)  # the generator is in use before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write_end, random_bytes(32) + keyring.seal(b"x", AAD)[-29:-17])
        finally:
            os._exit(0)
    os.close(write_end)
    child = b""
    while chunk := os.read(read_end, 64):
        child += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = random_bytes(32) + keyring.seal(b"x", AAD)[-29:-17]
    assert len(child) == 44
    assert child[:32] != parent[:32]
    assert child[32:] != parent[32:]  # the nonces of the two seals


def test_every_flipped_byte_is_detected(keyring: Keyring) -> None:
    blob = keyring.seal(b"PIN never stored", AAD)
    for pos in range(len(blob)):
        altered = bytearray(blob)
        altered[pos] ^= 0x01
        with pytest.raises(DecryptionError):
            keyring.open(bytes(altered), AAD)


def test_tampered_ciphertext_message(keyring: Keyring) -> None:
    blob = bytearray(keyring.seal(b"hello", AAD))
    blob[-1] ^= 0x80
    with pytest.raises(DecryptionError, match="ciphertext was altered or belongs to another row"):
        keyring.open(bytes(blob), AAD)


@pytest.mark.parametrize(
    "other",
    [
        Aad("bank-a", "messages", "body", "43"),
        Aad("bank-a", "messages", "caption", "42"),
        Aad("bank-a", "contacts", "body", "42"),
        Aad("bank-b", "messages", "body", "42"),
    ],
)
def test_ciphertext_swapped_between_rows_fails(keyring: Keyring, other: Aad) -> None:
    blob = keyring.seal(b"row 42 body", AAD)
    with pytest.raises(DecryptionError, match="belongs to another row"):
        keyring.open(blob, other)


def test_truncated_and_malformed_blobs(keyring: Keyring) -> None:
    blob = keyring.seal(b"x", AAD)
    for bad in (b"", b"\x01", blob[:20], b"\x02" + blob[1:], b"\x01\x00" + blob[2:]):
        with pytest.raises(DecryptionError):
            keyring.open(bad, AAD)
    with pytest.raises(DecryptionError, match="unknown format version 2"):
        key_id_of(b"\x02" + blob[1:])


def test_unknown_key_id(keyring: Keyring) -> None:
    other = Keyring.generate("bank-b:1")
    blob = other.seal(b"x", AAD)
    with pytest.raises(DecryptionError, match="unknown key id 'bank-b:1'") as info:
        keyring.open(blob, AAD)
    assert not isinstance(info.value, KeyDestroyedError)


def test_open_str_rejects_non_utf8(keyring: Keyring) -> None:
    blob = keyring.seal(b"\xff\xfe", AAD)
    with pytest.raises(DecryptionError, match="not UTF-8"):
        keyring.open_str(blob, AAD)


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(max_size=2048),
    row=st.text(min_size=1, max_size=20),
    tenant=st.text(min_size=1, max_size=20),
)
def test_round_trip_property(data: bytes, row: str, tenant: str) -> None:
    ring = _SHARED
    aad = Aad(tenant, "t", "c", row)
    blob = ring.seal(data, aad)
    assert ring.open(blob, aad) == data
    with pytest.raises(DecryptionError):
        ring.open(blob, Aad(tenant, "t", "c", row + "x"))


_SHARED = Keyring.generate("prop:1")


# --- keys, wrapping ------------------------------------------------------------------


def test_data_key_validation_and_repr() -> None:
    key = new_data_key("k:1")
    assert key.secret.hex() not in repr(key)
    assert len(key.secret) == 32
    with pytest.raises(MasterKeyError):
        DataKey("k:2", b"short")
    for bad_id in ("", "has space", "é", "x" * 256, ":leading"):
        with pytest.raises(CryptoError, match="invalid key id"):
            DataKey(bad_id, bytes(32))
    with pytest.raises(CryptoError, match="invalid key purpose"):
        DataKey("k:3", bytes(32), "Bad Purpose")


def test_provider_satisfies_protocol_and_hides_key(provider: LocalKeyProvider) -> None:
    assert isinstance(provider, KeyProvider)
    assert "local:1" in repr(provider)


def test_export_and_reload_with_same_master_key(keyring: Keyring) -> None:
    master = load_master_key(generate_master_key())
    blob = keyring.seal(b"persist me", AAD)
    wrapped = keyring.export_wrapped(LocalKeyProvider(master))
    assert [w.key_id for w in wrapped] == ["bank-a:1"]
    assert all(isinstance(w, WrappedKey) and len(w.wrapped) > 32 for w in wrapped)
    reloaded = Keyring.from_wrapped(LocalKeyProvider(master), wrapped, active="bank-a:1")
    assert reloaded.open(blob, AAD) == b"persist me"


def test_wrong_master_key_fails_to_unwrap(keyring: Keyring, provider: LocalKeyProvider) -> None:
    wrapped = keyring.export_wrapped(provider)
    wrong = LocalKeyProvider(load_master_key(generate_master_key()), "local:1")
    with pytest.raises(DecryptionError, match="wrong master key"):
        Keyring.from_wrapped(wrong, wrapped, active="bank-a:1")


def test_wrapped_key_from_another_provider_id(keyring: Keyring) -> None:
    master = load_master_key(generate_master_key())
    wrapped = keyring.export_wrapped(LocalKeyProvider(master, "local:1"))
    with pytest.raises(DecryptionError, match="made by key provider 'local:1', not 'local:2'"):
        Keyring.from_wrapped(LocalKeyProvider(master, "local:2"), wrapped, active="bank-a:1")


def test_wrapped_key_bound_to_its_id_and_purpose(
    keyring: Keyring, provider: LocalKeyProvider
) -> None:
    keyring.rotate("bank-a:2")
    first, second = keyring.export_wrapped(provider)
    relabelled = WrappedKey("bank-a:2", first.wrapped, first.purpose, first.created_at)
    with pytest.raises(DecryptionError):
        Keyring.from_wrapped(provider, [relabelled], active="bank-a:2")
    repurposed = WrappedKey(second.key_id, second.wrapped, PURPOSE_CONTACT, second.created_at)
    with pytest.raises(DecryptionError):
        Keyring.from_wrapped(provider, [repurposed], active="bank-a:2")
    flipped = bytearray(first.wrapped)
    flipped[-3] ^= 1
    with pytest.raises(DecryptionError):
        provider.unwrap(bytes(flipped), b"ctx")


def test_from_wrapped_requires_the_active_key(keyring: Keyring, provider: LocalKeyProvider) -> None:
    with pytest.raises(CryptoError, match="active key 'nope' is not in the keyring"):
        Keyring.from_wrapped(provider, keyring.export_wrapped(provider), active="nope")


def test_duplicate_key_ids_rejected(keyring: Keyring) -> None:
    with pytest.raises(CryptoError, match="already in the keyring"):
        keyring.add(new_data_key("bank-a:1"))


# --- rotation ------------------------------------------------------------------------


def test_rotation_keeps_old_blobs_readable(keyring: Keyring) -> None:
    old = keyring.seal(b"before", AAD)
    new_key = keyring.rotate("bank-a:2")
    assert keyring.active_key_id == "bank-a:2" == new_key.key_id
    new = keyring.seal(b"after", AAD)
    assert key_id_of(new) == "bank-a:2"
    assert keyring.open(old, AAD) == b"before"
    assert keyring.open(new, AAD) == b"after"
    assert keyring.needs_rewrap(old)
    assert not keyring.needs_rewrap(new)
    rewrapped = keyring.rewrap(old, AAD)
    assert not keyring.needs_rewrap(rewrapped)
    assert keyring.open(rewrapped, AAD) == b"before"


def test_rotate_without_id_generates_unique_ids(keyring: Keyring) -> None:
    ids = {keyring.rotate().key_id for _ in range(5)}
    assert len(ids) == 5
    assert keyring.active_key_id in ids
    assert set(keyring.key_ids) == ids | {"bank-a:1"}


def test_needs_rewrap_unknown_key(keyring: Keyring) -> None:
    blob = Keyring.generate("elsewhere:1").seal(b"x", AAD)
    with pytest.raises(DecryptionError, match="unknown key id"):
        keyring.needs_rewrap(blob)


# --- per-contact keys and crypto-shredding ---------------------------------------------


def test_contact_key_crypto_shredding(keyring: Keyring, provider: LocalKeyProvider) -> None:
    key = new_data_key("ck:17", PURPOSE_CONTACT)
    keyring.add(key)
    assert keyring.key("ck:17") is key
    blob = keyring.seal(b"Budi's message", AAD, key_id=key.key_id)
    assert key_id_of(blob) == "ck:17"
    assert keyring.open(blob, AAD) == b"Budi's message"
    keyring.rotate("bank-a:2")
    assert not keyring.needs_rewrap(blob)  # contact keys are not replaced by rotation

    keyring.forget("ck:17")
    assert "ck:17" in keyring.destroyed
    assert "ck:17" not in keyring
    with pytest.raises(KeyDestroyedError, match=r"key 'ck:17' was destroyed \(erased\)"):
        keyring.open(blob, AAD)
    assert not keyring.needs_rewrap(blob)
    with pytest.raises(KeyDestroyedError):
        keyring.add(new_data_key("ck:17", PURPOSE_CONTACT))
    with pytest.raises(KeyDestroyedError):
        keyring.seal(b"x", AAD, key_id="ck:17")
    assert "ck:17" not in [w.key_id for w in keyring.export_wrapped(provider)]


def test_discard_is_an_eviction_not_an_erasure(keyring: Keyring) -> None:
    key = new_data_key("ck:9", PURPOSE_CONTACT)
    keyring.add(key)
    blob = keyring.seal(b"x", AAD, key_id="ck:9")
    keyring.discard("ck:9")
    assert "ck:9" not in keyring and "ck:9" not in keyring.destroyed
    with pytest.raises(DecryptionError) as info:
        keyring.open(blob, AAD)
    assert not isinstance(info.value, KeyDestroyedError)
    keyring.add(key)
    assert keyring.open(blob, AAD) == b"x"
    with pytest.raises(CryptoError, match="cannot discard the active key"):
        keyring.discard(keyring.active_key_id)


def test_destroyed_keys_survive_reload(keyring: Keyring, provider: LocalKeyProvider) -> None:
    keyring.add(new_data_key("ck:5", PURPOSE_CONTACT))
    blob = keyring.seal(b"x", AAD, key_id="ck:5")
    wrapped = [w for w in keyring.export_wrapped(provider) if w.key_id != "ck:5"]
    reloaded = Keyring.from_wrapped(provider, wrapped, "bank-a:1", destroyed=["ck:5"])
    with pytest.raises(KeyDestroyedError):
        reloaded.open(blob, AAD)
    with pytest.raises(KeyDestroyedError):
        reloaded.add(new_data_key("ck:5", PURPOSE_CONTACT))


def test_cannot_forget_the_active_key(keyring: Keyring) -> None:
    with pytest.raises(CryptoError, match="cannot forget the active key"):
        keyring.forget("bank-a:1")


def test_seal_with_unknown_key_id(keyring: Keyring) -> None:
    with pytest.raises(DecryptionError, match="unknown key id 'contact:9'"):
        keyring.seal(b"x", AAD, key_id="contact:9")


def test_contact_keys_build_their_cipher_per_use_tenant_keys_once() -> None:
    # A process caches 20,000 contact keys: an AES-GCM context per key (about 2.5 KB)
    # made that cache cost about 100 MB.  Contact keys keep only their secret.
    ring = Keyring.generate("t1")
    contact = new_data_key("ck_0001", PURPOSE_CONTACT)
    ring.add(contact)
    aad = Aad("bank", "inbox", "payload", "wamid.1")
    blob = ring.seal(b"halo", aad, key_id=contact.key_id)
    assert ring.open(blob, aad) == b"halo"
    assert ring.open(ring.seal(b"tenant", aad), aad) == b"tenant"
    assert set(ring._ciphers) == {"t1"}  # only the tenant key's context is kept
    ring.discard(contact.key_id)
    with pytest.raises(CryptoError):
        ring.open(blob, aad)
