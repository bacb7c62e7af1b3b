"""The ``http`` step against a local server on 127.0.0.1: HMAC-signed body, mapping, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from aman.engine.flows import FlowBot, load_bot
from aman.engine.flows.httpcall import pick_path, sign_body
from test_flows_support import Chat, FakeNlu, make_bot, texts

KEY = "flow-test-signing-key"  # test-only HMAC key


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        stamp = self.headers.get("X-Aman-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(KEY.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        )
        good = hmac.compare_digest(expected, self.headers.get("X-Aman-Signature", ""))
        self.seen.append({"path": self.path, "body": json.loads(raw), "signed": good})
        if self.path == "/slow":
            time.sleep(0.8)
            return  # the client has given up by now; answer nothing
        if self.path == "/boom" or not good:
            self.send_response(500 if good else 401)
            self.end_headers()
            return
        payload = (
            b"not json"
            if self.path == "/text"
            else json.dumps(
                {"data": {"points": 1250, "tier": "gold"}, "items": [{"name": "kopi"}]}
            ).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def loyalty_bot(
    tmp_path: Path, url: str, path: str, secret_env: str = "AMAN_TEST_FLOW_KEY"
) -> FlowBot:
    flow = f"""\
        flow: points
        triggers: [{{keyword: [poin]}}]
        steps:
          - set: {{member: "M-77"}}
          - http:
              url: "{url}{path}"
              body: {{member: "{{member}}", lang: id}}
              secret_env: {secret_env}
              timeout: 0.3
              map: {{points: data.points, tier: data.tier, first: items.0.name, none: data.nope}}
              on_error: failed
          - send: "Poin {{points}} ({{tier}}, {{first}}) status {{http_status}}"
          - end
          - id: failed
            send: gagal
        """
    return FlowBot(load_bot(make_bot(tmp_path / "bot", {"points": flow})), nlu=FakeNlu())


def test_signed_request_and_response_mapping(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMAN_TEST_FLOW_KEY", KEY)
    chat = Chat(loyalty_bot(tmp_path, server, "/points"))
    assert texts(chat.say("poin")) == ["Poin 1250 (gold, kopi) status 200"]
    [request] = _Handler.seen
    assert request == {"path": "/points", "body": {"member": "M-77", "lang": "id"}, "signed": True}
    assert "none" not in chat.state["fields"] or chat.state["fields"]["none"] is None


@pytest.mark.parametrize("path", ["/boom", "/text", "/slow"])
def test_failures_take_the_error_branch(
    tmp_path: Path, server: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMAN_TEST_FLOW_KEY", KEY)
    started = time.monotonic()
    assert texts(Chat(loyalty_bot(tmp_path, server, path)).say("poin")) == ["gagal"]
    assert time.monotonic() - started < 0.75  # the 0.3 s timeout held


def test_missing_signing_key_never_sends_unsigned(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMAN_TEST_FLOW_KEY", raising=False)
    assert texts(Chat(loyalty_bot(tmp_path, server, "/points")).say("poin")) == ["gagal"]
    assert _Handler.seen == []


def test_unreachable_host_takes_the_error_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMAN_TEST_FLOW_KEY", KEY)
    bot = loyalty_bot(tmp_path, "http://127.0.0.1:9", "/points")
    assert texts(Chat(bot).say("poin")) == ["gagal"]


def test_http_url_must_be_https_or_loopback(tmp_path: Path) -> None:
    from aman.engine.flows import inspect_bot

    flow = "flow: x\nsteps:\n  - http: {url: 'http://api.example.co.id/x'}\n"
    _, problems = inspect_bot(make_bot(tmp_path / "bot", {"x": flow}))
    assert any(p.line == 3 and "https://" in p.message for p in problems)


def test_sign_body_and_pick_path() -> None:
    mac = hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()
    assert sign_body(b"k", "1", b"{}") == f"sha256={mac}"
    data = {"a": [{"b": 1}], "c": None}
    assert pick_path(data, "a.0.b") == 1 and pick_path(data, "a.5.b") is None
    assert pick_path(data, "c.d") is None
