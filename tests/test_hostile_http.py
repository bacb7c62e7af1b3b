"""Hostile webhook bodies over real HTTP: each gets a clear 400/413 or is stored and answered.

Runs the echo bot in a DemoStack on SQLite and on PostgreSQL.  After every
batch of hostile input a normal message must still get its echo: the process
keeps serving.  Field-by-field wrong types and the known bugs live in
``test_hostile_fields.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from aman.demo import DemoStack
from aman.webhook.signature import sign
from fuzz.hostile_support import (
    MAX_TEXT,
    count_like,
    echo_of,
    echoes_to,
    message_with,
    module_stack,
    nested,
    new_wa_id,
    still_serving,
    with_raw,
)
from helpers import envelope, post, scalar, status, text_body, until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def st(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DemoStack]:
    """One echo stack per dialect for this module (tests use their own senders)."""
    # No read receipts: they double the sends and are not what this module is about.
    async with module_stack(
        request.param, tmp_path_factory.mktemp("hostile"), mark_read=False
    ) as stack:
        yield stack


# ----------------------------------------------------------------- transport


async def _raw_exchange(port: int, head: bytes, chunks: list[bytes], delay: float) -> int:
    """Write a request by hand (optionally trickled) and return the answer's status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        for chunk in chunks:
            await asyncio.sleep(delay)
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break  # the server already answered and closed
        line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    parts = line.split()
    assert len(parts) >= 2 and parts[0].startswith(b"HTTP/1."), line
    return int(parts[1])


def _head(body_len: int | None, signature: str = "sha256=" + "0" * 64) -> bytes:
    framing = (
        b"Transfer-Encoding: chunked" if body_len is None else b"Content-Length: %d" % body_len
    )
    return (
        b"POST /webhook HTTP/1.1\r\nHost: t\r\nX-Hub-Signature-256: "
        + signature.encode()
        + b"\r\n"
        + framing
        + b"\r\n\r\n"
    )


async def test_oversize_and_malformed_transport(st: DemoStack) -> None:
    limit = st.settings.max_body
    assert limit == 3 * 1024 * 1024  # Meta's documented maximum, the default
    before = int(scalar(st, "select count(*) from inbox"))
    # Declared too large: refused from the header alone, the body is never sent.
    assert await _raw_exchange(st.port, _head(limit + 1), [], 0) == 413
    # One byte over the limit, honestly declared and sent (and validly signed).
    wa_id = new_wa_id()
    body = text_body("wamid.tr.over", wa_id, "x")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["pad"] = ""
    filler = limit - len(orjson.dumps(body)) + 1
    body["entry"][0]["changes"][0]["value"]["messages"][0]["pad"] = "p" * filler
    secret = st.settings.app_secret.reveal().encode()  # type: ignore[union-attr]
    over = orjson.dumps(body)
    assert len(over) == limit + 1
    assert await _raw_exchange(st.port, _head(len(over), sign(secret, over)), [over], 0) == 413
    # Exactly at the limit is accepted.
    body["entry"][0]["changes"][0]["value"]["messages"][0]["pad"] = "p" * (filler - 1)
    at = orjson.dumps(body)
    assert await _raw_exchange(st.port, _head(len(at), sign(secret, at)), [at], 0) == 200
    assert await echo_of(st, wa_id) == "x"
    # Chunked without a length, trickled past the limit in 64 KiB pieces.
    piece = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    chunks = [piece] * (limit // 0x10000 + 2)
    assert await _raw_exchange(st.port, _head(None), chunks, 0.002) == 413
    # A valid body trickled in 16-byte pieces is accepted.
    wa_id = new_wa_id()
    raw = orjson.dumps(text_body("wamid.tr.trickle", wa_id, "pelan pelan"))
    pieces = [raw[i : i + 16] for i in range(0, len(raw), 16)]
    assert await _raw_exchange(st.port, _head(len(raw), sign(secret, raw)), pieces, 0.002) == 200
    assert await echo_of(st, wa_id) == "pelan pelan"
    # Lying or malformed framing is refused by the HTTP layer.
    for framing in (
        b"Content-Length: -1\r\n",
        b"Content-Length: 1e3\r\n",
        b"Content-Length: 99999999999999999999999\r\n",
        b"Content-Length: 5\r\nContent-Length: 10\r\n",
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    ):
        head = b"POST /webhook HTTP/1.1\r\nHost: t\r\n" + framing + b"\r\n0123456789"
        assert await _raw_exchange(st.port, head, [], 0) in (400, 413), framing
    assert int(scalar(st, "select count(*) from inbox")) == before + 2
    await still_serving(st)


# ----------------------------------------------------------- not JSON / not UTF-8

_PREFIX = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages"'
_VALUE = b',"value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"from":"6281234567890","id":"wamid.enc","timestamp":"1700000000","type":"text","text":{"body":"'  # noqa: E501
_SUFFIX = b'"}}]}}]}]}'

UNDECODABLE = {
    "invalid utf-8 byte": b"a\xffb",
    "truncated utf-8": b"a\xe2\x82",
    "overlong slash (C0 AF)": b"\xc0\xaf",
    "overlong NUL (C0 80)": b"\xc0\x80",
    "overlong 3-byte (E0 80 AF)": b"\xe0\x80\xaf",
    "CESU-8 surrogate (ED A0 80)": b"\xed\xa0\x80",
    "above U+10FFFF (F4 90 80 80)": b"\xf4\x90\x80\x80",
    "5-byte form": b"\xf8\x88\x80\x80\x80",
    "lone high surrogate escape": b"\\ud800",
    "lone low surrogate escape": b"\\udc00",
    "high surrogate then letter": b"\\ud800\\u0041",
    "reversed surrogate pair": b"\\ude00\\ud83d",
    "raw control char in string": b"a\x01b",
}

NOT_JSON = {
    "empty": b"",
    "whitespace": b" \r\n\t",
    "BOM then JSON": b"\xef\xbb\xbf{}",
    "NaN": b'{"object":NaN}',
    "Infinity": b'{"object":Infinity}',
    "1e400": b'{"object":1e400}',
    "single quotes": b"{'object':'whatsapp_business_account'}",
    "comment": b'{"object":"whatsapp_business_account" /* x */, "entry":[]}',
    "trailing garbage": b'{"object":"whatsapp_business_account","entry":[]} x',
    "two documents": b"{}{}",
    "10k nested arrays": nested(10_000, "array"),
    "10k nested objects": nested(10_000, "object"),
    "10k arrays in a message": message_with(nested(10_000, "array")),
    "10k objects in a message": message_with(nested(10_000, "object")),
    "1100 arrays in a message": message_with(nested(1100, "array")),
    "deep unclosed": b"[" * 200_000,
}

HUGE_NUMBERS: dict[str, object] = {
    "timestamp 10^30": 10**30,
    "timestamp 10^30 as digits": "1" + "0" * 30,
    "timestamp 1e308": 1e308,
    "timestamp negative": -1,
    "timestamp negative digits": "-1",
    "timestamp float": 1700000000.5,
    "timestamp float string": "1700000000.5",
    "timestamp exponent string": "1.7e9",
    "timestamp 2^64-1": 2**64 - 1,
    "timestamp full-width digits": "１７００００００００",
    "timestamp empty": "",
}


async def test_undecodable_and_not_json_bodies_are_400(st: DemoStack) -> None:
    before = int(scalar(st, "select count(*) from inbox"))
    for name, fragment in UNDECODABLE.items():
        code, text = await post(st, _PREFIX + _VALUE + fragment + _SUFFIX)
        assert code == 400, (name, code, text)
        assert text.startswith("bad webhook body: body: invalid JSON"), (name, text)
    for name, raw in NOT_JSON.items():
        code, text = await post(st, raw)
        assert code == 400, (name, code, text)
    assert int(scalar(st, "select count(*) from inbox")) == before
    # The control: the same frame with a clean string is accepted.
    assert (await post(st, _PREFIX + _VALUE + b"ok" + _SUFFIX))[0] == 200
    assert count_like(st, "inbox", "wamid.enc") == 1
    await still_serving(st)


async def test_out_of_range_numbers_are_400(st: DemoStack) -> None:
    for name, value in HUGE_NUMBERS.items():
        for kind in ("messages", "statuses"):
            if kind == "messages":
                body = text_body(f"wamid.num.{name}", new_wa_id())
            else:
                body = envelope(statuses=[status(f"wamid.num.{name}", "sent")])
            body["entry"][0]["changes"][0]["value"][kind][0]["timestamp"] = "@@"
            literal = b"1" + b"0" * 30 if value == 10**30 else orjson.dumps(value)
            code, text = await post(st, with_raw(body, "@@", literal))
            assert code == 400, (name, kind, code, text)
            assert "timestamp" in text, (name, kind, text)
    assert count_like(st, "inbox", "wamid.num.") == 0
    assert count_like(st, "status_events", "wamid.num.") == 0
    # The largest accepted timestamp (15 digits) is stored, not overflowed.
    wa_id = new_wa_id()
    body = text_body("wamid.num.max", wa_id, "jauh di depan", ts=10**15 - 1)
    assert (await post(st, body))[0] == 200
    assert await echo_of(st, wa_id) == "jauh di depan"
    assert scalar(st, "select msg_ts from inbox where wamid = 'wamid.num.max'") == 10**15 - 1
    await still_serving(st)


# -------------------------------------------------------- stored and answered

STORED_TEXTS = {
    "emoji ZWJ family": "👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 🇮🇩 ❤️‍🔥",
    "RTL Arabic and Hebrew": "مرحبا بالعالم — שלום עולם",
    "bidi override": "transfer \u202e000.001 pR\u202c ke rekening",
    "combining marks": "e\u0301 a\u0308 Z\u0351\u0358\u0362\u0341\u035e\u0322\u0355",
    "zero-width and BOM": "a\u200bb\u200cc\u200dd\ufeffe",
    "SQL injection": "'; DROP TABLE inbox; -- \" OR 1=1; --",
    "SQL in identifiers": "Robert'); DROP TABLE contacts;--",
    "HTML and script": "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>",
    "template braces": "{{7*7}} ${7*7} {name} %s %(x)s",
    "NUL inside text": "sebelum\x00sesudah",
    "control characters": "\x01\x02\x1b[31mmerah\x1b[0m\x7f\x08",
    "line separators": "satu\u2028dua\u2029tiga\r\nempat",
    "whitespace only": "   ",
    "astral characters": "𝕬𝖒𝖆𝖓 𓀀 𠜎",
    "noncharacters": "\ufffe\uffff\U0010ffff",
    "4096 ASCII characters": "x" * MAX_TEXT,
    "4096 astral emoji": "😀" * MAX_TEXT,
}

HOSTILE_NAMES = [
    "Robert'); DROP TABLE contacts;--",
    "<script>alert(1)</script>",
    "Bu\x00di",
    "‮ibuB",
    "N" * 100_000,
    "",
]


async def test_hostile_text_is_stored_and_echoed_exactly(
    st: DemoStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contacts_before = int(scalar(st, "select count(*) from contacts"))
    sent: dict[str, tuple[str, str]] = {}
    for i, (name, text) in enumerate(STORED_TEXTS.items()):
        wa_id = new_wa_id()
        body = text_body(f"wamid.txt.{i}", wa_id, text, name=HOSTILE_NAMES[i % len(HOSTILE_NAMES)])
        msg = body["entry"][0]["changes"][0]["value"]["messages"][0]
        msg["x-nul\x00key"] = {"nested\x00": ["\x00", "<b>", "'; --"]}
        code, reply = await post(st, body)
        assert code == 200, (name, code, reply)
        sent[name] = (wa_id, text)
    for name, (wa_id, text) in sent.items():
        assert await echo_of(st, wa_id) == text, name
    assert count_like(st, "inbox", "wamid.txt.") == len(STORED_TEXTS)
    assert int(scalar(st, "select count(*) from contacts")) == contacts_before + len(STORED_TEXTS)
    assert st.simulator.stats()["rejected"].get("100", 0) == 0
    await still_serving(st)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("RTL Arabic and Hebrew", "SQL injection", "HTML and script", "NUL inside text"):
        assert STORED_TEXTS[name] not in logged, f"message text logged: {name}"


async def test_duplicated_keys_take_the_last_value(st: DemoStack) -> None:
    wa_id, decoy = new_wa_id(), new_wa_id()
    raw = (
        b'{"object":"page","object":"whatsapp_business_account","entry":[{"id":"1",'
        b'"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":'
        b'"106540352242922"},"messages":[{"from":"'
        + decoy.encode()
        + b'","from":"'
        + wa_id.encode()
        + b'","id":"wamid.dupkey","timestamp":"1","timestamp":"1700000000",'
        b'"type":"image","type":"text","text":{"body":"pertama","body":"terakhir"}}]}}]}]}'
    )
    assert (await post(st, raw))[0] == 200
    assert await echo_of(st, wa_id) == "terakhir"
    assert echoes_to(st, decoy) == []
    await still_serving(st)


async def test_text_over_4096_gets_a_valid_reply(st: DemoStack) -> None:
    """Users can type more than the Cloud API lets a business send back.

    What aman does: the echo is cut to the first 4096 characters (code points),
    so the send stays valid (the simulator rejects a longer body, as Meta does)
    and nothing fails or retries; the rest of the text is not sent, and a cut
    can fall inside an emoji ZWJ sequence.
    """
    cases = {
        "4097 ASCII": "y" * (MAX_TEXT + 1),
        "10000 ASCII": "".join(chr(ord("a") + i % 26) for i in range(10_000)),
        "4097 emoji": "😀" * (MAX_TEXT + 1),
        "ZWJ family across the cut": "x" * (MAX_TEXT - 3) + "👨‍👩‍👧‍👦",
        "65536 characters": "z" * 65_536,
    }
    who = {}
    for i, (name, text) in enumerate(cases.items()):
        wa_id = who[name] = new_wa_id()
        assert (await post(st, text_body(f"wamid.long.{i}", wa_id, text)))[0] == 200
    for name, text in cases.items():
        echo = await echo_of(st, who[name])
        assert echo == text[:MAX_TEXT], name
        assert len(echo) == MAX_TEXT
    assert st.simulator.stats()["rejected"].get("100", 0) == 0
    await still_serving(st)


# ----------------------------------------------------------------- big bodies


async def test_thousand_messages_and_thousand_entries(st: DemoStack) -> None:
    ids = [new_wa_id() for _ in range(1000)]
    messages = [
        {
            "from": w,
            "id": f"wamid.many.{i}",
            "timestamp": "1700000000",
            "type": "text",
            "text": {"body": f"pesan {i}"},
        }
        for i, w in enumerate(ids)
    ]
    contacts = [{"profile": {"name": f"N{i}"}, "wa_id": w} for i, w in enumerate(ids)]
    assert (await post(st, envelope(messages, contacts=contacts)))[0] == 200
    assert count_like(st, "inbox", "wamid.many.") == 1000  # all durable before the 200
    # 1000 entries, each with one delivery status (no replies to wait for).
    entries = [
        envelope(statuses=[status(f"wamid.entry.{i}", "delivered")])["entry"][0]
        for i in range(1000)
    ]
    code, _ = await post(st, {"object": "whatsapp_business_account", "entry": entries})
    assert code == 200
    assert count_like(st, "status_events", "wamid.entry.") == 1000
    # A redelivery of the whole batch is stored once.
    assert (await post(st, envelope(messages, contacts=contacts)))[0] == 200
    assert count_like(st, "inbox", "wamid.many.") == 1000
    want = {f"pesan {i}" for i in range(1000)}

    def echoed() -> bool:
        return want <= {m.body["text"]["body"] for m in st.simulator.sent if m.type == "text"}

    await until(echoed, 60, "1000 echoes")
    await still_serving(st)


async def test_concurrent_hostile_and_normal_traffic(st: DemoStack) -> None:
    """Garbage posted alongside real messages does not disturb them."""
    normal = {new_wa_id(): f"normal {i}" for i in range(40)}
    garbage = [*NOT_JSON.values(), *(_PREFIX + _VALUE + f + _SUFFIX for f in UNDECODABLE.values())]

    async def one_normal(wa_id: str, text: str) -> int:
        return (await post(st, text_body(f"wamid.conc.{wa_id}", wa_id, text)))[0]

    async def one_bad(raw: bytes, signed: bool) -> int:
        return (await post(st, raw, signature="auto" if signed else None))[0]

    codes = await asyncio.gather(
        *(one_normal(w, t) for w, t in normal.items()),
        *(one_bad(g, True) for g in garbage),
        *(one_bad(g, False) for g in garbage),
    )
    n = len(normal)
    assert codes[:n] == [200] * n
    assert codes[n:] == [400] * len(garbage) + [401] * len(garbage)
    for wa_id, text in normal.items():
        assert await echo_of(st, wa_id) == text
    assert count_like(st, "inbox", "wamid.conc.") == len(normal)
    async with aiohttp.ClientSession() as s, s.get(f"{st.url}/healthz") as r:
        assert r.status == 200
