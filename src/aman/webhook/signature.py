"""Meta's webhook signature: HMAC-SHA256 of the raw body, compared in constant time."""

from __future__ import annotations

import functools
import hmac

from aman.security.keyed_mac import KeyedMac

__all__ = ["sign", "verify_signature"]

_PREFIX = "sha256="


@functools.lru_cache(maxsize=8)
def _mac(secret: bytes) -> KeyedMac:
    """The app secret absorbed once (a process has one or two secrets)."""
    return KeyedMac(secret)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return _PREFIX + _mac(secret).digest(body).hex()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True only when ``header`` is ``sha256=<hex>`` and matches the body's HMAC.

    Anything else is False, never an exception: a header with non-ASCII characters
    (which ``hmac.compare_digest`` refuses to compare as text) is simply wrong.
    """
    if not header or len(header) != len(_PREFIX) + 64 or not header.startswith(_PREFIX):
        return False
    if not header.isascii():
        return False
    expected = _mac(secret).digest(body).hex()
    return hmac.compare_digest(expected, header[len(_PREFIX) :].lower())
