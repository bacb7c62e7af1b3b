"""HMAC-SHA256 under a fixed key, computed without giving the GIL away for small inputs.

OpenSSL's one-shot ``hmac.digest`` releases the GIL on every call, and so does
``update`` with 2 KiB or more.  For a few microseconds of hashing that is a poor
trade in a busy process: the caller must win the GIL back from whichever thread
took it, which costs two context switches and up to the interpreter's switch
interval (5 ms) of waiting.  On the webhook path (signature, blind index) that
happened on every request.  ``KeyedMac`` absorbs the key (and an optional domain
prefix) once, copies that state per call and feeds inputs below the release
threshold; only inputs so large that hashing them is worth running in parallel
are passed whole.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["KeyedMac"]

# CPython's hashlib releases the GIL for updates of at least 2048 bytes.
_PIECE = 2047
# Above this, hashing takes long enough (about 0.16 ms here) to be worth releasing the GIL.
_WHOLE_ABOVE = 256 * 1024


class KeyedMac:
    """``KeyedMac(key, prefix).digest(data) == hmac.digest(key, prefix + data, "sha256")``."""

    __slots__ = ("_base",)

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        self._base = hmac.new(key, prefix, hashlib.sha256)

    def __repr__(self) -> str:
        return "KeyedMac(sha256)"

    def digest(self, data: bytes) -> bytes:
        mac = self._base.copy()
        size = len(data)
        if size <= _PIECE or size > _WHOLE_ABOVE:
            mac.update(data)
        else:
            view = memoryview(data)
            for start in range(0, size, _PIECE):
                mac.update(view[start : start + _PIECE])
        return mac.digest()
