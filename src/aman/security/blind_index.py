"""Keyed blind indexes (HMAC-SHA256) for equality lookups on encrypted identifiers, and log masking.

Phone numbers and WhatsApp ids are stored encrypted; to find a row by phone number the
storage layer stores ``BlindIndex(tenant_key).digest(phone)`` next to the ciphertext and
queries by that. Each tenant gets its own index key (:func:`derive_tenant_key`), so equal
numbers in two tenants do not produce equal digests.

Log masking policy (:func:`mask_id`): keep the first five digits (country code and mobile
operator prefix, shared by millions of subscribers) and the last two, replace the rest
with a fixed ``****`` so the number's length is not revealed either: ``6281234567890`` ->
``62812****90``. For correlating log lines about the same contact use
:meth:`BlindIndex.log_tag`, a short keyed tag that cannot be reversed without the key.
"""

from __future__ import annotations

import hmac
import re
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aman.security.crypto import KEY_LEN, CryptoError
from aman.security.keyed_mac import KeyedMac

__all__ = [
    "BlindIndex",
    "InvalidIdentifierError",
    "derive_tenant_key",
    "mask_id",
    "normalize_msisdn",
]

_HKDF_SALT = b"aman-hkdf-salt-v1"
_SEPARATORS = re.compile(r"[\s\-.()\u00a0]")
_MIN_DIGITS = 8
_MAX_DIGITS = 15  # E.164
_LOG_TAG_BYTES = 5
_MASK = "****"


class InvalidIdentifierError(CryptoError, ValueError):
    """An identifier (phone number, wa_id) or index key is malformed."""


def normalize_msisdn(value: str) -> str:
    """Canonical international digits of a phone number / wa_id.

    Strips spaces, dashes, dots and parentheses and a leading ``+`` or ``00``;
    Indonesian national numbers (``08…``, ``021…``) become ``628…`` / ``6221…``.
    Raises :class:`InvalidIdentifierError` unless 8-15 digits remain.
    """
    if not isinstance(value, str):
        raise InvalidIdentifierError("phone number must be a string")
    text = _SEPARATORS.sub("", value)
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    elif text.startswith("0"):
        text = "62" + text[1:]
    if not (text.isascii() and text.isdigit()):
        raise InvalidIdentifierError("phone number may only contain digits, spaces, '+', '-'")
    if not _MIN_DIGITS <= len(text) <= _MAX_DIGITS:
        raise InvalidIdentifierError(
            f"phone number must have {_MIN_DIGITS}-{_MAX_DIGITS} digits, got {len(text)}"
        )
    return text


def derive_tenant_key(master_key: bytes, tenant: str, purpose: str) -> bytes:
    """Derive a 32-byte key for one tenant and one purpose with HKDF-SHA256.

    ``info`` is the length-prefixed (tenant, purpose) pair, so no two distinct pairs
    can collide. Typical purposes: ``"blind-index"``, ``"kek"``.
    """
    if not isinstance(master_key, bytes) or len(master_key) != KEY_LEN:
        raise InvalidIdentifierError(f"master key must be exactly {KEY_LEN} bytes")
    if not isinstance(tenant, str) or not tenant:
        raise InvalidIdentifierError("tenant must be a non-empty string")
    if not isinstance(purpose, str) or not purpose:
        raise InvalidIdentifierError("purpose must be a non-empty string")
    t, p = tenant.encode(), purpose.encode()
    info = b"aman-tenant-key-v1" + len(t).to_bytes(4, "big") + t + len(p).to_bytes(4, "big") + p
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=_HKDF_SALT, info=info).derive(
        master_key
    )


class BlindIndex:
    """HMAC-SHA256 equality index with a per-tenant key.

    Digests are lowercase hex of the first ``length`` bytes (8-32, default 16) of
    HMAC(key, domain || value); the domain separates phone digests, text digests and
    log tags so one can never be matched against another.
    """

    __slots__ = ("_length", "_log", "_msisdn", "_text")

    def __init__(self, key: bytes, *, length: int = 16) -> None:
        if not isinstance(key, bytes) or len(key) < KEY_LEN:
            raise InvalidIdentifierError(f"blind index key must be at least {KEY_LEN} bytes")
        if not 8 <= length <= 32:
            raise InvalidIdentifierError("blind index length must be 8-32 bytes")
        self._length = length
        # The key and each domain are absorbed once (security.keyed_mac).
        self._msisdn = KeyedMac(key, b"aman-bidx-v1:msisdn:")
        self._text = KeyedMac(key, b"aman-bidx-v1:text:")
        self._log = KeyedMac(key, b"aman-bidx-v1:log:")

    def __repr__(self) -> str:
        return f"BlindIndex(length={self._length})"

    def digest(self, value: str) -> str:
        """Index digest of a phone number / wa_id (normalised with :func:`normalize_msisdn`)."""
        return self._msisdn.digest(normalize_msisdn(value).encode("utf-8"))[: self._length].hex()

    def digest_text(self, value: str) -> str:
        """Index digest of any other exact-match string (Unicode NFC, otherwise unchanged)."""
        if not isinstance(value, str):
            raise InvalidIdentifierError("value must be a string")
        norm = unicodedata.normalize("NFC", value)
        return self._text.digest(norm.encode("utf-8"))[: self._length].hex()

    def matches(self, value: str, digest: str) -> bool:
        """Constant-time check that ``digest`` is this index's digest of phone ``value``."""
        try:
            expected = self.digest(value)
        except InvalidIdentifierError:
            return False
        return hmac.compare_digest(expected, digest)

    def log_tag(self, value: str) -> str:
        """Short keyed tag (10 hex chars) for correlating log lines; never raises."""
        try:
            norm = normalize_msisdn(value)
        except InvalidIdentifierError:
            norm = unicodedata.normalize("NFC", value) if isinstance(value, str) else repr(value)
        return self._log.digest(norm.encode("utf-8"))[:_LOG_TAG_BYTES].hex()


def mask_id(value: str) -> str:
    """Mask a phone number / wa_id for logs: ``62812****90``; ``****`` if it is not one."""
    try:
        digits = normalize_msisdn(value)
    except InvalidIdentifierError:
        return _MASK
    if len(digits) < 10:
        return _MASK
    return f"{digits[:5]}{_MASK}{digits[-2:]}"
