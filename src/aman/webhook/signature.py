"""Meta's webhook signature: HMAC-SHA256 of the raw body, compared in constant time."""

from __future__ import annotations

import hmac

__all__ = ["sign", "verify_signature"]

_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return _PREFIX + hmac.digest(secret, body, "sha256").hex()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True only when ``header`` is ``sha256=<hex>`` and matches the body's HMAC."""
    if not header or len(header) != len(_PREFIX) + 64 or not header.startswith(_PREFIX):
        return False
    expected = hmac.digest(secret, body, "sha256").hex()  # one-shot: no HMAC object
    return hmac.compare_digest(expected, header[len(_PREFIX) :].lower())
