"""Envelope encryption of stored values with AES-256-GCM data keys wrapped by a key provider.

Layout
------
* A *master key* (32 random bytes, kept outside the database) or a cloud KMS / Vault
  implements :class:`KeyProvider` and only ever wraps and unwraps *data keys*.
* A :class:`Keyring` holds the unwrapped data keys of one tenant in memory. One of them
  is *active* and seals new values; older ones stay for reading until the storage layer
  re-seals their rows (:meth:`Keyring.needs_rewrap`, :meth:`Keyring.rewrap`).
* Every sealed value is bound to its place with an :class:`Aad` (tenant, table, column,
  row), so a ciphertext copied into another row or column fails to open.

Sealed blob format (all lengths in bytes)::

    version (1, = 1) | key-id length (1) | key id (ASCII) | nonce (12) | ciphertext || tag (16)

The version byte and key id are authenticated (they are part of the associated data).
Nonces are random (:func:`random_bytes`); rotate a data key well before 2**32 seals
under it (NIST SP 800-38D).

Crypto-shredding
----------------
The storage layer (:class:`aman.storage.vault.Vault`) gives each contact its own random
data key (purpose ``"contact"``, id ``ck:<random>``) and seals that contact's values
under it with ``seal(..., key_id=...)``. Erasing a contact wipes that key's wrapped copy
and calls :meth:`Keyring.forget`; every blob under it then raises :class:`KeyDestroyedError`.
Key ids are stored in clear inside every blob: they are random, never phone numbers.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "PURPOSE_CONTACT",
    "PURPOSE_DATA",
    "Aad",
    "CryptoError",
    "DataKey",
    "DecryptionError",
    "KeyDestroyedError",
    "KeyProvider",
    "Keyring",
    "LocalKeyProvider",
    "MasterKeyError",
    "WrappedKey",
    "generate_master_key",
    "key_id_of",
    "load_master_key",
    "new_data_key",
    "random_bytes",
]

PURPOSE_DATA = "data"
PURPOSE_CONTACT = "contact"

KEY_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16
_BLOB_VERSION = 1
_WRAP_VERSION = 1
_KEY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._@+/-]{0,254}")
_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_AAD_PREFIX = b"aman-aad-v1"
_DEK_CONTEXT_PREFIX = b"aman-dek-v1"


class CryptoError(Exception):
    """Root of every error raised by :mod:`aman.security.crypto`."""


class MasterKeyError(CryptoError, ValueError):
    """A master key or data key has the wrong encoding or length."""


class DecryptionError(CryptoError):
    """A blob or wrapped key could not be opened."""


class KeyDestroyedError(DecryptionError):
    """The blob references a data key that was deliberately erased (crypto-shredded)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"key {key_id!r} was destroyed (erased); data sealed under it can no longer be read"
        )
        self.key_id = key_id


def _check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not key_id.isascii() or not _KEY_ID_RE.fullmatch(key_id):
        raise CryptoError(
            f"invalid key id {key_id!r}: use 1-255 ASCII letters, digits or ':._@+/-'"
        )
    return key_id


def _check_purpose(purpose: str) -> str:
    if not isinstance(purpose, str) or not _PURPOSE_RE.fullmatch(purpose):
        raise CryptoError(f"invalid key purpose {purpose!r}: use lowercase letters, digits, '_-'")
    return purpose


def random_bytes(n: int) -> bytes:
    """``n`` cryptographically strong random bytes (nonces, data keys, key ids).

    From OpenSSL's DRBG (``ssl.RAND_bytes``: seeded from the OS, reseeded in a forked
    child), because ``os.urandom`` releases the GIL on every call: winning it back
    beside a busy thread took about 180 µs here instead of 0.4 µs, and every sealed
    value paid that on the event loop and in the inbox worker.
    """
    return ssl.RAND_bytes(n)


def _length_prefixed(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def load_master_key(b64: str) -> bytes:
    """Decode a base64 (standard or URL-safe) master key that must hold exactly 32 bytes."""
    if not isinstance(b64, str):
        raise MasterKeyError("master key must be given as a base64 string")
    text = b64.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError("master key is not valid base64") from None
    if len(raw) != KEY_LEN:
        raise MasterKeyError(
            f"master key must be base64 of exactly {KEY_LEN} bytes, got {len(raw)} bytes"
        )
    return raw


def generate_master_key() -> str:
    """Return a fresh random 32-byte master key as standard base64 text."""
    return base64.b64encode(secrets.token_bytes(KEY_LEN)).decode("ascii")


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps and unwraps data keys; implemented locally or by a KMS / Vault adapter."""

    key_id: str

    def wrap(self, dek: bytes, context: bytes) -> bytes:
        """Encrypt ``dek`` bound to ``context`` (authenticated, not secret)."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Return the data key; raise :class:`DecryptionError` if anything does not match."""
        ...


class LocalKeyProvider:
    """:class:`KeyProvider` that wraps data keys with AES-256-GCM under an in-process master key.

    Wrapped format: version (1) | provider key-id length (1) | provider key id | nonce (12) |
    ciphertext || tag. The header and the caller's context are the associated data.
    """

    __slots__ = ("_aead", "_header", "key_id")

    def __init__(self, master_key: bytes, key_id: str = "local:1") -> None:
        if not isinstance(master_key, bytes) or len(master_key) != KEY_LEN:
            raise MasterKeyError(f"master key must be exactly {KEY_LEN} bytes")
        self.key_id = _check_key_id(key_id)
        kid = key_id.encode("ascii")
        self._header = bytes((_WRAP_VERSION, len(kid))) + kid
        self._aead = AESGCM(master_key)

    def __repr__(self) -> str:
        return f"LocalKeyProvider(key_id={self.key_id!r})"

    def wrap(self, dek: bytes, context: bytes) -> bytes:
        """Encrypt ``dek`` under the master key, authenticating ``context``."""
        if not isinstance(dek, bytes) or len(dek) != KEY_LEN:
            raise MasterKeyError(f"data key must be exactly {KEY_LEN} bytes")
        nonce = random_bytes(_NONCE_LEN)
        return self._header + nonce + self._aead.encrypt(nonce, dek, self._header + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt a wrapped data key made by :meth:`wrap` with the same context."""
        if len(wrapped) < 2 or wrapped[0] != _WRAP_VERSION:
            raise DecryptionError("wrapped key is malformed or has an unknown version")
        kid_len = wrapped[1]
        header_len = 2 + kid_len
        if len(wrapped) != header_len + _NONCE_LEN + KEY_LEN + _TAG_LEN:
            raise DecryptionError("wrapped key is malformed (wrong length)")
        kid = wrapped[2:header_len]
        if kid != self._header[2:]:
            raise DecryptionError(
                f"wrapped key was made by key provider {kid.decode('ascii', 'replace')!r}, "
                f"not {self.key_id!r}"
            )
        nonce = wrapped[header_len : header_len + _NONCE_LEN]
        try:
            return self._aead.decrypt(
                nonce, wrapped[header_len + _NONCE_LEN :], self._header + context
            )
        except InvalidTag:
            raise DecryptionError(
                "wrapped key could not be unwrapped: wrong master key, altered bytes, "
                "or it belongs to another key id"
            ) from None


@dataclass(frozen=True, slots=True)
class Aad:
    """Where a sealed value lives; authenticated so blobs cannot be moved between rows."""

    tenant: str
    table: str
    column: str
    row: str

    def __post_init__(self) -> None:
        for name in ("tenant", "table", "column", "row"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise CryptoError(f"Aad.{name} must be a non-empty string")

    def encode(self) -> bytes:
        """Unambiguous byte encoding: a version tag, then each field length-prefixed."""
        row = self.row.encode()
        return _aad_head(self.tenant, self.table, self.column) + len(row).to_bytes(4, "big") + row


@lru_cache(maxsize=1024)
def _aad_head(tenant: str, table: str, column: str) -> bytes:
    """The encoding of an :class:`Aad` up to its row: the same for every row of a column."""
    return _AAD_PREFIX + _length_prefixed(tenant.encode(), table.encode(), column.encode())


@dataclass(frozen=True, slots=True)
class DataKey:
    """An unwrapped 32-byte AES-256-GCM data key (the secret is hidden from repr)."""

    key_id: str
    secret: bytes = field(repr=False)
    purpose: str = PURPOSE_DATA
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)
        _check_purpose(self.purpose)
        if not isinstance(self.secret, bytes) or len(self.secret) != KEY_LEN:
            raise MasterKeyError(f"data key {self.key_id!r} must be exactly {KEY_LEN} bytes")


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key as persisted: encrypted by a :class:`KeyProvider`, with its metadata."""

    key_id: str
    wrapped: bytes = field(repr=False)
    purpose: str
    created_at: float


def new_data_key(key_id: str, purpose: str = PURPOSE_DATA) -> DataKey:
    """Create a fresh random data key."""
    return DataKey(key_id, random_bytes(KEY_LEN), purpose)


def _dek_context(key_id: str, purpose: str) -> bytes:
    return _DEK_CONTEXT_PREFIX + _length_prefixed(key_id.encode("ascii"), purpose.encode("ascii"))


def _split_blob(blob: bytes) -> tuple[str, int]:
    """Return (key id, header length) of a sealed blob or raise DecryptionError."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise DecryptionError("sealed value must be bytes")
    if len(blob) < 2:
        raise DecryptionError("sealed value is malformed (too short)")
    if blob[0] != _BLOB_VERSION:
        raise DecryptionError(f"sealed value has unknown format version {blob[0]}")
    header_len = 2 + blob[1]
    if blob[1] == 0 or len(blob) < header_len + _NONCE_LEN + _TAG_LEN:
        raise DecryptionError("sealed value is malformed (too short)")
    try:
        key_id = bytes(blob[2:header_len]).decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("sealed value is malformed (key id is not ASCII)") from None
    return key_id, header_len


def _blob_header(key_id: str) -> bytes:
    kid = key_id.encode("ascii")
    return bytes((_BLOB_VERSION, len(kid))) + kid


def key_id_of(blob: bytes) -> str:
    """Return the id of the data key a sealed blob was made with."""
    return _split_blob(blob)[0]


class Keyring:
    """The data keys of one tenant: seals new values under the active key, opens any known one."""

    __slots__ = ("_active", "_ciphers", "_destroyed", "_keys")

    def __init__(
        self, keys: Iterable[DataKey], active: str, *, destroyed: Iterable[str] = ()
    ) -> None:
        self._keys: dict[str, DataKey] = {}
        self._ciphers: dict[str, tuple[AESGCM, bytes]] = {}
        self._destroyed: set[str] = set(destroyed)
        for key in keys:
            self.add(key)
        if active not in self._keys:
            raise CryptoError(f"active key {active!r} is not in the keyring")
        self._active = active

    @classmethod
    def generate(cls, key_id: str | None = None) -> Keyring:
        """A keyring with one new random active data key."""
        key = new_data_key(key_id or _fresh_key_id())
        return cls([key], key.key_id)

    @classmethod
    def from_wrapped(
        cls,
        provider: KeyProvider,
        wrapped: Iterable[WrappedKey],
        active: str,
        *,
        destroyed: Iterable[str] = (),
    ) -> Keyring:
        """Unwrap persisted keys with ``provider``; ``destroyed`` lists erased key ids."""
        keys: list[DataKey] = []
        for item in wrapped:
            _check_key_id(item.key_id)
            _check_purpose(item.purpose)
            secret = provider.unwrap(item.wrapped, _dek_context(item.key_id, item.purpose))
            keys.append(DataKey(item.key_id, secret, item.purpose, item.created_at))
        return cls(keys, active, destroyed=destroyed)

    def __repr__(self) -> str:
        return f"Keyring(active={self._active!r}, keys={len(self._keys)})"

    @property
    def active_key_id(self) -> str:
        """Id of the key that seals new values."""
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of all readable keys."""
        return tuple(self._keys)

    @property
    def destroyed(self) -> frozenset[str]:
        """Ids of keys known to be erased."""
        return frozenset(self._destroyed)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def key(self, key_id: str) -> DataKey:
        """The unwrapped key ``key_id`` (for moving it into another keyring)."""
        key = self._keys.get(key_id)
        if key is None:
            raise self._missing(key_id)
        return key

    def add(self, key: DataKey) -> None:
        """Add a data key (e.g. one created elsewhere); its id must be new."""
        if key.key_id in self._destroyed:
            raise KeyDestroyedError(key.key_id)
        if key.key_id in self._keys:
            raise CryptoError(f"key id {key.key_id!r} is already in the keyring")
        if key.purpose != PURPOSE_CONTACT:
            # Tenant keys are few and hot: their AES-GCM context is built once.  A contact
            # key's context (about 2.5 KB, built in about 1.4 µs) is built per use, so
            # a cache of many thousand contact keys holds little more than their secrets.
            self._ciphers[key.key_id] = (AESGCM(key.secret), _blob_header(key.key_id))
        self._keys[key.key_id] = key

    def _cipher(self, key_id: str) -> tuple[AESGCM, bytes]:
        entry = self._ciphers.get(key_id)
        if entry is not None:
            return entry
        key = self._keys.get(key_id)
        if key is None:
            raise self._missing(key_id)
        return AESGCM(key.secret), _blob_header(key_id)

    def rotate(self, key_id: str | None = None) -> DataKey:
        """Make a new active data key; previous keys stay readable."""
        key = new_data_key(key_id or _fresh_key_id())
        self.add(key)
        self._active = key.key_id
        return key

    def forget(self, key_id: str) -> None:
        """Erase a key from memory and remember it as destroyed (crypto-shredding)."""
        _check_key_id(key_id)
        if key_id == self._active:
            raise CryptoError("cannot forget the active key; rotate to a new key first")
        self._keys.pop(key_id, None)
        self._ciphers.pop(key_id, None)
        self._destroyed.add(key_id)

    def discard(self, key_id: str) -> None:
        """Drop a key from memory only (a cache eviction); it can be added again later."""
        if key_id == self._active:
            raise CryptoError("cannot discard the active key")
        self._keys.pop(key_id, None)
        self._ciphers.pop(key_id, None)

    def seal(self, plaintext: bytes, aad: Aad, *, key_id: str | None = None) -> bytes:
        """Encrypt ``plaintext`` for the place ``aad`` under the active key (or ``key_id``)."""
        aead, header = self._cipher(self._active if key_id is None else key_id)
        nonce = random_bytes(_NONCE_LEN)
        return header + nonce + aead.encrypt(nonce, plaintext, header + aad.encode())

    def open(self, blob: bytes, aad: Aad) -> bytes:
        """Decrypt a blob made by :meth:`seal` for the same ``aad``."""
        kid, header_len = _split_blob(blob)
        aead, header = self._cipher(kid)
        nonce_end = header_len + _NONCE_LEN
        try:
            return aead.decrypt(blob[header_len:nonce_end], blob[nonce_end:], header + aad.encode())
        except InvalidTag:
            raise DecryptionError("ciphertext was altered or belongs to another row") from None

    def seal_str(self, plaintext: str, aad: Aad, *, key_id: str | None = None) -> bytes:
        """:meth:`seal` for UTF-8 text."""
        return self.seal(plaintext.encode("utf-8"), aad, key_id=key_id)

    def open_str(self, blob: bytes, aad: Aad) -> str:
        """:meth:`open` for UTF-8 text."""
        data = self.open(blob, aad)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("sealed value is not UTF-8 text") from None

    def needs_rewrap(self, blob: bytes) -> bool:
        """True when a blob is under a retired data key and should be re-sealed.

        Blobs under per-contact keys never need it (rotation does not replace those),
        and neither do blobs under destroyed keys (they cannot be read any more).
        """
        kid = key_id_of(blob)
        if kid == self._active or kid in self._destroyed:
            return False
        key = self._keys.get(kid)
        if key is None:
            raise self._missing(kid)
        return key.purpose == PURPOSE_DATA

    def rewrap(self, blob: bytes, aad: Aad) -> bytes:
        """Open a blob and seal it again under the active key."""
        return self.seal(self.open(blob, aad), aad)

    def export_wrapped(
        self, provider: KeyProvider, key_ids: Iterable[str] | None = None
    ) -> list[WrappedKey]:
        """Wrap all keys (or just ``key_ids``) with ``provider`` for persistence."""
        ids = list(self._keys) if key_ids is None else list(key_ids)
        out: list[WrappedKey] = []
        for kid in ids:
            key = self._keys.get(kid)
            if key is None:
                raise self._missing(kid)
            wrapped = provider.wrap(key.secret, _dek_context(key.key_id, key.purpose))
            out.append(WrappedKey(key.key_id, wrapped, key.purpose, key.created_at))
        return out

    def _missing(self, key_id: str) -> DecryptionError:
        if key_id in self._destroyed:
            return KeyDestroyedError(key_id)
        return DecryptionError(f"unknown key id {key_id!r}")


def _fresh_key_id() -> str:
    return f"dek:{int(time.time())}:{random_bytes(4).hex()}"
