"""``GraphClient`` over real sockets: what Meta's answers and network failures become.

A small local server plays the Graph API (and misbehaves on purpose).  What matters
for exactly-once sending is the line between "never sent" (safe to retry at once)
and "maybe sent" (reconciled from status webhooks, never guessed).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aman.outbox.graph import GraphClient, GraphResult, classify

TOKEN = "EAAG-test-token"
BODY = orjson.dumps({"messaging_product": "whatsapp", "to": "6281234567890", "type": "text"})

Answer = Callable[[bytes], Awaitable[bytes | None]]  # request head+body -> raw response


@dataclass
class FakeGraph:
    """Answers each request with ``answer``; None keeps the socket silent until the client
    hangs up.  Each connection is closed before its handler ends, so no transport is left
    for the garbage collector (a ResourceWarning there fails a later test)."""

    answer: Answer
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    close_after: bool = False  # close the connection right after reading a request

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if self.close_after:
                    break
                raw = await self.answer(request)
                if raw is None:
                    await reader.read()  # silent until the client gives up and hangs up
                    break
                writer.write(raw)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def response(status: int, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def ok(wamid: str) -> Answer:
    async def answer(request: bytes) -> bytes:
        return response(200, orjson.dumps({"messages": [{"id": wamid}]}))

    return answer


async def serve(
    fake: FakeGraph, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1]


async def send_once(base: str, *, timeout: float = 5.0, ca: bytes | None = None) -> GraphResult:
    graph = GraphClient(base, TOKEN, timeout=timeout, extra_ca_pem=ca)
    try:
        return await graph.send("1234567890", BODY)
    finally:
        await graph.close()


def test_a_send_posts_the_body_with_the_token_and_returns_the_wamid() -> None:
    async def main() -> tuple[GraphResult, FakeGraph]:
        fake = FakeGraph(ok("wamid.HBgL"))
        server, port = await serve(fake)
        async with server:
            result = await send_once(f"http://127.0.0.1:{port}/v23.0/")
        return result, fake

    result, fake = asyncio.run(main())
    assert (result.http_status, result.wamid, classify(result)) == (200, "wamid.HBgL", "sent")
    (request,) = fake.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v23.0/1234567890/messages HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert body == BODY


def test_connections_are_kept_alive_and_bounded() -> None:
    async def main() -> tuple[list[GraphResult], FakeGraph]:
        fake = FakeGraph(ok("wamid.A"))
        server, port = await serve(fake)
        async with server:
            graph = GraphClient(f"http://127.0.0.1:{port}/v23.0", TOKEN, pool_size=4)
            try:
                results = [await graph.send("1", BODY) for _ in range(20)]
                results += await asyncio.gather(*(graph.send("1", BODY) for _ in range(40)))
            finally:
                await graph.close()
        return results, fake

    results, fake = asyncio.run(main())
    assert all(classify(r) == "sent" for r in results)
    assert len(fake.requests) == 60
    assert fake.connections <= 4  # one for the sequential sends, at most the pool for the rest


def test_meta_errors_and_retry_after_come_back_typed() -> None:
    async def main(answer: Answer) -> GraphResult:
        server, port = await serve(FakeGraph(answer))
        async with server:
            return await send_once(f"http://127.0.0.1:{port}/v23.0")

    async def throttled(request: bytes) -> bytes:
        body = b'{"error":{"code":130429,"message":"Rate limit hit"}}'
        return response(429, body, "Retry-After: 7")

    async def closed_window(request: bytes) -> bytes:
        body = b'{"error":{"code":131047,"message":"Re-engagement message"}}'
        return response(400, body)

    async def html(request: bytes) -> bytes:
        return response(502, b"<html>Bad Gateway</html>")

    r = asyncio.run(main(throttled))
    assert (r.http_status, r.error_code, r.retry_after, classify(r)) == (429, 130429, 7.0, "retry")
    r = asyncio.run(main(closed_window))
    assert (r.error_code, r.error_title, classify(r)) == (131047, "Re-engagement message", "window")
    r = asyncio.run(main(html))
    assert (r.http_status, r.error_code, classify(r)) == (502, None, "retry")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_refused_connection_was_never_sent() -> None:
    result = asyncio.run(send_once(f"http://127.0.0.1:{_closed_port()}/v23.0"))
    assert (result.http_status, result.sent_uncertain, classify(result)) == (None, False, "retry")


def test_no_answer_or_a_dropped_connection_after_the_request_is_uncertain() -> None:
    async def main(fake: FakeGraph) -> GraphResult:
        server, port = await serve(fake)
        async with server:
            return await send_once(f"http://127.0.0.1:{port}/v23.0", timeout=0.5)

    async def silent(request: bytes) -> None:
        return None

    for fake in (FakeGraph(silent), FakeGraph(ok("wamid.A"), close_after=True)):
        result = asyncio.run(main(fake))
        # The request reached the server: Meta may have accepted it, so it is reconciled.
        assert len(fake.requests) == 1
        assert (result.http_status, result.sent_uncertain) == (None, True)
        assert classify(result) == "uncertain"


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(signer, hashes.SHA256())


def _local_ca(tmp: Path) -> tuple[ssl.SSLContext, bytes]:
    """A server context for 127.0.0.1 and the PEM of the CA that signed it."""
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aman test CA")])
    ca = _cert("aman test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = _cert("127.0.0.1", leaf_key, ca.subject, ca_key, ca=False)
    (tmp / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx, ca.public_bytes(serialization.Encoding.PEM)


def test_tls_certificates_are_checked(tmp_path: Path) -> None:
    """The access token is never sent to a server whose certificate we do not trust."""
    tls, pem = _local_ca(tmp_path)

    async def main(ca: bytes | None) -> tuple[GraphResult, FakeGraph]:
        fake = FakeGraph(ok("wamid.TLS"))
        server, port = await serve(fake, tls)
        async with server:
            return await send_once(f"https://127.0.0.1:{port}/v23.0", ca=ca), fake

    refused, fake = asyncio.run(main(None))
    assert (refused.http_status, refused.sent_uncertain, fake.requests) == (None, False, [])
    trusted, fake = asyncio.run(main(pem))
    assert (trusted.wamid, len(fake.requests)) == ("wamid.TLS", 1)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"])
def test_a_proxy_in_the_environment_is_not_followed(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The bearer token goes to the configured Graph URL, never to an inherited proxy."""
    proxy = FakeGraph(ok("wamid.PROXY"))
    graph = FakeGraph(ok("wamid.DIRECT"))

    async def main() -> GraphResult:
        proxy_server, proxy_port = await serve(proxy)
        graph_server, graph_port = await serve(graph)
        monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy_port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with proxy_server, graph_server:
            return await send_once(f"http://127.0.0.1:{graph_port}/v23.0")

    result = asyncio.run(main())
    assert result.wamid == "wamid.DIRECT"
    assert proxy.requests == []


def test_a_send_that_waited_for_a_free_slot_until_the_deadline_was_never_sent() -> None:
    async def silent(request: bytes) -> None:
        return None

    async def main() -> tuple[list[GraphResult], FakeGraph]:
        fake = FakeGraph(silent)
        server, port = await serve(fake)
        async with server:
            graph = GraphClient(f"http://127.0.0.1:{port}/v23.0", TOKEN, timeout=0.5, pool_size=1)
            try:
                results = await asyncio.gather(graph.send("1", BODY), graph.send("1", BODY))
            finally:
                await graph.close()
        return list(results), fake

    results, fake = asyncio.run(main())
    assert len(fake.requests) == 1  # one request got the only slot; the other never left
    assert sorted(r.sent_uncertain for r in results) == [False, True]
    assert all(r.http_status is None for r in results)


def test_a_redirect_is_not_followed() -> None:
    """Meta does not redirect API calls; the token is not carried anywhere else."""
    elsewhere = FakeGraph(ok("wamid.ELSEWHERE"))

    async def main() -> GraphResult:
        other, other_port = await serve(elsewhere)

        async def redirect(request: bytes) -> bytes:
            return response(307, b"", f"Location: http://127.0.0.1:{other_port}/v23.0/1/messages")

        server, port = await serve(FakeGraph(redirect))
        async with other, server:
            return await send_once(f"http://127.0.0.1:{port}/v23.0")

    result = asyncio.run(main())
    assert (result.http_status, result.wamid, classify(result)) == (307, None, "failed")
    assert elsewhere.requests == []


_EXIT_AFTER_A_CONNECT_TIMEOUT = """
import asyncio, socket
from aman.outbox.graph import GraphClient

async def main():
    backlog = socket.socket()
    backlog.bind(("127.0.0.1", 0))
    backlog.listen(0)
    port = backlog.getsockname()[1]
    queued = []
    for _ in range(4):  # fill the accept queue: the next connect hangs until its timeout
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        queued.append(s)
    await asyncio.sleep(0.2)

    async def answer(reader, writer):
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
        await writer.drain()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    good = server.sockets[0].getsockname()[1]
    graph = GraphClient(f"http://127.0.0.1:{port}/v23.0", "T", timeout=2.0, connect_timeout=0.5)
    result = await graph.send("1", b"{}")
    assert result.http_status is None and not result.sent_uncertain, result
    graph._base, graph._urls = f"http://127.0.0.1:{good}/v23.0", {}
    assert (await graph.send("1", b"{}")).http_status == 200
    await graph.close()
    for s in (*queued, backlog):
        s.close()
    server.close()
    await server.wait_closed()

asyncio.run(main())
"""


def test_the_process_exits_cleanly_after_a_connect_timeout() -> None:
    """pyreqwest lets go of a connection still being made only shortly after ``close``;
    exiting at once aborted the interpreter (SIGABRT) in about half the runs."""
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", _EXIT_AFTER_A_CONNECT_TIMEOUT],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
