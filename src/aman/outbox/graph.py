"""The single chokepoint for Graph API traffic: one pooled HTTP client, typed results.

Everything aman sends to Meta goes through ``GraphClient.send``.  It has an
injected base URL (the simulator in tests and demos), explicit timeouts, a
bounded number of requests in flight, certificate checks always on, no proxy
from the environment, and it never logs bodies or phone numbers.  Results are
classified into what the sender should do next (see ``classify``).

The client is pyreqwest (Rust's reqwest and hyper, rustls for TLS): on this
project's benchmark host one send costs about 45 µs of CPU against aiohttp's
120 µs, and a reply is one send (two with read receipts), so it is the largest
single cost of the echo path that could be removed (bench/NOTES.md item 18).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime

import orjson
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import (
    ConnectError,
    ConnectTimeoutError,
    PoolTimeoutError,
    PyreqwestError,
)

from aman.storage.sql import int32

__all__ = ["TRANSIENT_CODES", "Decision", "GraphClient", "GraphResult", "classify"]

# Retry with back-off: throughput / pair rate / app or account rate limits / transient.
TRANSIENT_CODES = frozenset({130429, 131056, 80007, 4, 17, 32, 613, 131000, 131016, 2, 1})
THROUGHPUT = 130429  # the number's messages per second
PAIR_RATE = 131056  # too many messages to one recipient
WINDOW_CLOSED = 131047  # outside the 24 h customer-service window: a template is needed
# Stop and alert an admin: expired token, policy block, locked account.
ALERT_CODES = frozenset({190, 368, 131031})


@dataclass(frozen=True, slots=True)
class GraphResult:
    http_status: int | None  # None when no HTTP answer was received
    wamid: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    retry_after: float | None = None
    sent_uncertain: bool = False  # the request may have reached Meta (timeout, reset)
    latency_ms: float = 0.0


Decision = str  # "sent" | "retry" | "failed" | "uncertain" | "window" | "halt"


def classify(result: GraphResult) -> Decision:
    """What to do with a result: retry transient errors, never permanent ones."""
    if result.http_status is not None and 200 <= result.http_status < 300:
        return "sent" if result.wamid or result.error_code is None else "failed"
    if result.http_status is None:
        return "uncertain" if result.sent_uncertain else "retry"
    if result.error_code == WINDOW_CLOSED:
        return "window"
    if result.error_code in ALERT_CODES:
        return "halt"  # every send of the number would fail alike: keep them, alert
    if result.error_code in TRANSIENT_CODES or result.http_status == 429:
        return "retry"
    if result.error_code is None and result.http_status >= 500:
        return "retry"
    if result.http_status >= 500:
        return "retry"
    return "failed"


MAX_RETRY_AFTER = 3600.0  # a longer wait asked for is cut to this, never ignored


def _retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110).

    A wait longer than ``MAX_RETRY_AFTER`` is cut to it (ignoring it would retry at once);
    a date in the past means no wait; garbage means no header.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


CLOSE_GRACE = 0.1  # seconds ``close`` waits for the HTTP client's runtime to let go


class GraphClient:
    """POSTs message bodies to ``{base_url}/{phone_number_id}/messages``."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        pool_size: int = 100,
        extra_ca_pem: bytes | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = access_token
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._extra_ca = extra_ca_pem  # tests: a local TLS server's own certificate
        self._client: Client | None = None
        self._starting = asyncio.Lock()  # two first sends must not build two clients
        self._urls: dict[str, str] = {}

    async def start(self) -> Client:
        async with self._starting:
            if self._client is not None:
                return self._client
            builder = (
                ClientBuilder()
                .timeout(timedelta(seconds=self._timeout))
                .connect_timeout(timedelta(seconds=min(self._connect_timeout, self._timeout)))
                .max_connections(self._pool_size)  # requests in flight; more wait for a slot
                .no_proxy()  # HTTPS_PROXY and friends are not followed: tokens go to Meta only
                .follow_redirects(False)  # nor a redirect: a 3xx is an answer like any other
                .user_agent("aman")
                .default_headers(
                    {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}
                )
            )
            if self._extra_ca is not None:
                builder = builder.add_root_certificate_pem(self._extra_ca)
            self._client = await builder.build().__aenter__()
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
            # pyreqwest drops its runtime's leftover tasks (a connection still being made
            # after a connect timeout) shortly after ``close``; if the interpreter is
            # already finalizing then, the process aborts ("PyGILState_Release").
            await asyncio.sleep(CLOSE_GRACE)

    def _url(self, phone_number_id: str) -> str:
        url = self._urls.get(phone_number_id)
        if url is None:
            url = self._urls[phone_number_id] = f"{self._base}/{phone_number_id}/messages"
        return url

    async def send(self, phone_number_id: str, body: bytes) -> GraphResult:
        """Send one JSON body; never raises for HTTP or network errors."""
        client = self._client or await self.start()
        started = time.perf_counter()
        try:
            request = client.post(self._url(phone_number_id)).body_bytes(body).build()
            resp = await request.send()
            raw = await resp.bytes()
            status = resp.status
            retry_after = _retry_after(resp.get_header("Retry-After"))
        except (PyreqwestError, TimeoutError, OSError) as exc:
            # Never connected: the request certainly did not reach Meta, retry it.  Else
            # it was sent (or partly sent) with no answer: Meta may have accepted it.
            uncertain = not _never_connected(exc)
            return GraphResult(None, sent_uncertain=uncertain, latency_ms=_ms(started))
        return _result(status, memoryview(raw), retry_after, _ms(started))


# hyper's client names the phase an error came from; only this one is before any byte
# of the request was written (refused, DNS, TLS handshake, connect timeout).  Waiting
# for a free slot (``max_connections``) is before it too.
_CONNECT_PHASE = "client error (Connect)"


def _never_connected(exc: BaseException) -> bool:
    """True only when the request certainly never left: the connection itself failed.

    pyreqwest's exception class alone does not say so: a timeout while waiting for the
    answer comes as ``ConnectTimeoutError`` and a connection closed after the request
    as ``ConnectError``.  hyper's cause chain does (tests/test_graph_client.py pins
    it): anything else is treated as maybe sent and reconciled, never resent blindly.
    """
    if isinstance(exc, PoolTimeoutError):
        return True  # the deadline passed while waiting for a slot: nothing was written
    if not isinstance(exc, ConnectError | ConnectTimeoutError):
        return False
    details = getattr(exc, "details", None)
    causes = details.get("causes") if isinstance(details, dict) else None
    if not isinstance(causes, list):
        return False
    return any(isinstance(c, dict) and c.get("message") == _CONNECT_PHASE for c in causes)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _result(
    status: int, raw: bytes | memoryview, retry_after: float | None, latency_ms: float
) -> GraphResult:
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if 200 <= status < 300:
        wamid = None
        messages = data.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            mid = messages[0].get("id")
            wamid = mid if isinstance(mid, str) and len(mid) <= 256 else None
        return GraphResult(status, wamid=wamid, latency_ms=latency_ms)
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    code = error.get("code") if isinstance(error, dict) else None
    title = error.get("message") if isinstance(error, dict) else None
    return GraphResult(
        status,
        # The column is 32-bit: a wilder code would make the outcome unstorable.
        error_code=int32(code),
        error_title=str(title)[:200] if title else None,
        retry_after=retry_after,
        latency_ms=latency_ms,
    )
