"""The ``http`` step: one synchronous JSON request with an HMAC-signed body and a short timeout.

The body (JSON) is signed with HMAC-SHA256 using the key in the environment
variable named by ``secret_env``; the signature travels as
``X-Aman-Signature: sha256=<hex>`` together with ``X-Aman-Timestamp`` (also
covered by the MAC: ``timestamp + "." + body``) so a receiver can reject replays.
The response must be JSON; ``map`` copies values from it into fields by dotted
path (``data.balance``, ``items.0.name``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["HttpFailure", "HttpOutcome", "call_json", "pick_path", "sign_body"]

_MAX_RESPONSE = 256 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are failures: a flow talks to exactly the URL it names."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


class HttpFailure(Exception):
    """The request failed (network, timeout, status, not JSON); ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    status: int
    data: Any


def sign_body(key: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>``."""
    mac = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def pick_path(data: Any, path: str) -> Any:
    """``a.b.0.c`` from nested dicts/lists; None when any part is missing."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def call_json(
    url: str,
    method: str,
    body: Any,
    *,
    secret_env: str | None,
    timeout: float,
    now: float,
) -> HttpOutcome:
    """Send the request; HttpFailure for anything but a 2xx JSON answer."""
    payload = b"" if method == "GET" else json.dumps(body, separators=(",", ":")).encode()
    headers = {"Accept": "application/json", "User-Agent": "aman-flows/1"}
    if method != "GET":
        headers["Content-Type"] = "application/json"
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise HttpFailure("signing key missing")
        stamp = str(int(now))
        headers["X-Aman-Timestamp"] = stamp
        headers["X-Aman-Signature"] = sign_body(secret.encode(), stamp, payload)
    request = urllib.request.Request(  # noqa: S310 - scheme checked when the flow loads
        url, data=payload if method != "GET" else None, headers=headers, method=method
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # nosec B310
            raw = response.read(_MAX_RESPONSE + 1)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise HttpFailure(f"status {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise HttpFailure(type(exc).__name__) from None
    if len(raw) > _MAX_RESPONSE:
        raise HttpFailure("response too large")
    if not raw:
        return HttpOutcome(status, None)
    try:
        return HttpOutcome(status, json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        raise HttpFailure("response is not JSON") from None
