"""The ingest baseline: a raw ASGI server that only checks the webhook HMAC and answers 200.

Same stack as ``aman serve`` (uvicorn + httptools + uvloop, no framework), so
the aman/bare ratio isolates what aman adds: parsing, encryption, blind index
and the durable group commit.  Run: ``BENCH_APP_SECRET=... python -m bench.bare_server
--port 8081``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SECRET_ENV = "BENCH_APP_SECRET"
_PREFIX = b"sha256="
_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]
# A signed POST gets what aman answers: 200 with an empty body (one write, not two).
_HEADERS_EMPTY = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0")]
_HEADERS_401 = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"17")]


class BareWebhook:
    """POST: an empty 200 when the HMAC matches, 401 otherwise. GET: 200 (readiness)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["method"] != "POST":
            await _answer(send, 200, _HEADERS, b"OK")
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        signature = b""
        for name, value in scope["headers"]:
            if name == b"x-hub-signature-256":
                signature = value
                break
        expected = _PREFIX + hmac.new(self._secret, body, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, signature):
            await _answer(send, 200, _HEADERS_EMPTY, b"")
        else:
            await _answer(send, 401, _HEADERS_401, b"invalid signature")


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(f"bare_server: set {SECRET_ENV}", file=sys.stderr)
        return 2
    uvicorn.run(
        BareWebhook(secret.encode()), host=args.host, port=args.port, loop="uvloop",
        http="httptools", lifespan="on", access_log=False, log_level="warning",
        server_header=False, backlog=4096,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
