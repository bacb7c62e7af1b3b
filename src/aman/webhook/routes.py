"""The webhook endpoint as a lean ASGI app: verify, read bounded, check HMAC, store, ack.

GET answers Meta's subscription challenge.  POST reads at most ``max_body``
bytes (413 beyond), verifies ``X-Hub-Signature-256`` before parsing (401, nothing
stored), parses (400 on a bad shape) and answers 200 only after the durable
write.  When storage is overloaded or down it answers 503 so Meta retries; a body
the database refuses for itself is kept aside (``aman webhooks replay``) and acked.
This is the hot path: no framework routing, no per-request set-up.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from aman import metrics
from aman.storage.groupcommit import Overloaded, StorageUnavailable, Unstorable
from aman.webhook.ingest import Ingestor
from aman.webhook.parser import WebhookShapeError, parse_webhook_bytes
from aman.webhook.signature import verify_signature

__all__ = ["WebhookApp"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class _TooLarge(Exception):
    pass


async def _respond(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = list(_TEXT)
    headers.append((b"content-length", str(len(body)).encode()))
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class WebhookApp:
    """ASGI app for ``/webhook``.

    ``on_bad_signature(ts, client_ip)`` is told about every POST that fails the HMAC
    check (``aman.monitor.Monitor.signature_failure`` fits); it must be cheap and is
    never allowed to change the 401.
    """

    def __init__(
        self,
        *,
        app_secret: bytes,
        verify_token: bytes,
        ingestor: Ingestor,
        max_body: int,
        on_bad_signature: Callable[[float, str], None] | None = None,
    ) -> None:
        self._secret = app_secret
        self._verify_token = verify_token
        self._ingestor = ingestor
        self._max_body = max_body
        self.on_bad_signature = on_bad_signature

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST":
            await self._post(scope, receive, send)
        elif method in ("GET", "HEAD"):
            await self._verify(scope, send)
        else:
            await _respond(send, 405, b"method not allowed", [(b"allow", b"GET, POST")])

    async def _verify(self, scope: Scope, send: Send) -> None:
        try:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=10)
        except ValueError:  # more fields than a subscription challenge has: not one
            query = {}
        mode = query.get("hub.mode", [""])[0]
        token = query.get("hub.verify_token", [""])[0].encode()
        challenge = query.get("hub.challenge", [""])[0]
        if (
            mode == "subscribe"
            and hmac.compare_digest(token, self._verify_token)
            and challenge
            and len(challenge) <= 256
            and challenge.isprintable()
        ):
            await _respond(send, 200, challenge.encode())
            return
        metrics.WEBHOOK_VERIFY_FAILED.inc()
        await _respond(send, 403, b"forbidden")

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self._max_body
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        raise _TooLarge
                except ValueError:
                    raise _TooLarge from None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client went away")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._read_body(scope, receive)
        except _TooLarge:
            metrics.WEBHOOK_RESULTS.labels("too_large").inc()
            await _respond(send, 413, b"payload too large")
            return
        except ConnectionError:
            return
        signature = None
        for name, value in scope["headers"]:
            if name == b"x-hub-signature-256":
                signature = value.decode("latin-1")
                break
        if not verify_signature(self._secret, body, signature):
            metrics.WEBHOOK_RESULTS.labels("bad_signature").inc()
            hook = self.on_bad_signature
            if hook is not None:
                client = scope.get("client")
                try:
                    hook(time.time(), str(client[0]) if client else "unknown")
                except Exception as exc:  # noqa: BLE001 - monitoring must not change the answer
                    log.warning("bad-signature hook failed: %s", type(exc).__name__)
            await _respond(send, 401, b"invalid signature")
            return
        try:
            parsed = parse_webhook_bytes(body)
        except WebhookShapeError as exc:
            metrics.WEBHOOK_RESULTS.labels("bad_shape").inc()
            await _respond(send, 400, f"bad webhook body: {exc}"[:300].encode())
            return
        try:
            stored = await self._ingestor.store(parsed, body)
        except WebhookShapeError as exc:
            metrics.WEBHOOK_RESULTS.labels("bad_shape").inc()
            await _respond(send, 400, f"bad webhook body: {exc}"[:300].encode())
            return
        except Overloaded:
            metrics.WEBHOOK_RESULTS.labels("overloaded").inc()
            await _respond(send, 503, b"busy, retry later", [(b"retry-after", b"1")])
            return
        except (StorageUnavailable, Unstorable):  # Unstorable: not even kept aside
            metrics.WEBHOOK_RESULTS.labels("storage_down").inc()
            log.warning("webhook not stored: storage unavailable")
            await _respond(send, 503, b"storage unavailable, retry later", [(b"retry-after", b"5")])
            return
        if not stored:  # kept aside for `aman webhooks replay`: Meta need not retry it
            metrics.WEBHOOK_RESULTS.labels("kept_aside").inc()
            await _respond(send, 200, b"")
            return
        metrics.child(metrics.WEBHOOK_RESULTS, "stored").inc()
        metrics.WEBHOOK_ITEMS.inc(len(parsed.messages) + len(parsed.statuses) + len(parsed.events))
        # An empty 200 (Meta reads only the status): uvicorn sends the head and a
        # non-empty body in two writes, each a trip through the TCP stack.
        await _respond(send, 200, b"")
