"""Fuzzing the webhook path: signed random bodies over HTTP, and parser + ingest in process.

Bounded for CI (the whole file well under 30 s).  Over HTTP a signed body,
however mangled, gets 200 or 400 and never a 5xx, and the server keeps serving.
In process, every body the parser accepts becomes rows whose sealed payload
opens back to exactly what the body said.  Inputs that hit a known bug (see
``tests/fuzz/known_bugs.py``) are skipped so the fuzzers keep hunting for new
ones; Merkle proofs are fuzzed in ``tests/test_security_merkle.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from aman.demo import DemoStack
from aman.security.crypto import generate_master_key, load_master_key
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault
from aman.webhook.ingest import Ingestor
from aman.webhook.parser import WebhookShapeError, parse_webhook, parse_webhook_bytes
from aman.webhook.signature import sign
from fuzz.hostile_support import module_stack, still_serving
from fuzz.known_bugs import body_hits_known_bug
from fuzz.webhook_strategies import HOSTILE_STRINGS, mutated_bodies, mutated_bytes

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def st_(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoStack]:
    async with module_stack("sqlite", tmp_path_factory.mktemp("fuzz")) as stack:
        yield stack


@pytest.fixture(scope="module")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _skip_known(raw: bytes) -> None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    bug = body_hits_known_bug(body)
    if bug is not None:
        event("skipped: known bug")
    assume(bug is None)


def _encode(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # a hostile float/int orjson cannot write: not a webhook body
        assume(False)
        raise


# ------------------------------------------------------------------ over HTTP


@pytest.mark.anyio
@settings(FUZZ, max_examples=250)
@given(data=mutated_bodies().map(_encode) | mutated_bytes())
async def test_signed_random_bodies_never_get_a_5xx(
    st_: DemoStack, session: aiohttp.ClientSession, data: bytes
) -> None:
    _skip_known(data)
    secret = st_.settings.app_secret.reveal().encode()  # type: ignore[union-attr]
    headers = {"x-hub-signature-256": sign(secret, data)}
    async with session.post(f"{st_.url}/webhook", data=data, headers=headers) as r:
        event(f"HTTP {r.status}")
        assert r.status in (200, 400), (r.status, await r.text())


@pytest.mark.anyio
async def test_server_keeps_serving_after_the_fuzz(st_: DemoStack) -> None:
    await still_serving(st_)
    async with aiohttp.ClientSession() as s, s.get(f"{st_.url}/healthz") as r:
        assert r.status == 200


# ------------------------------------------------------------- parser + ingest


@pytest.fixture(scope="module")
def ingestor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ingestor, Vault]]:
    """An Ingestor for building rows (nothing is committed: no thread is started)."""
    path: Path = tmp_path_factory.mktemp("ingest") / "aman.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    vault = Vault.open_or_create(engine, "default", load_master_key(generate_master_key()))
    yield Ingestor(engine, vault, dialect="sqlite"), vault
    engine.dispose()


@settings(FUZZ, max_examples=300)
@given(body=mutated_bodies())
def test_every_accepted_body_becomes_rows_that_open_back(
    ingestor: tuple[Ingestor, Vault], body: Any
) -> None:
    ing, vault = ingestor
    try:
        parsed = parse_webhook(body)
    except WebhookShapeError as exc:
        assert exc.path and exc.reason
        event("rejected")
        return
    assume(body_hits_known_bug(body) is None)
    try:
        batch = ing.build(parsed)
    except WebhookShapeError as exc:
        # Parsed but not storable (e.g. a 'from' that is no phone number): a clear 400.
        assert exc.path and exc.reason
        event("refused at ingest")
        return
    event("accepted")
    assert len(batch.inbox) == len(parsed.messages)
    assert len(batch.statuses) == len(parsed.statuses)
    assert len(batch.events) == len(parsed.events)
    for row, msg in zip(batch.inbox, parsed.messages, strict=True):
        assert row["wamid"] == msg.wamid.replace("\x00", "\ufffd") and len(row["wamid"]) <= 256
        assert row["contact_ix"] == vault.contact_index(msg.wa_id)
        payload = vault.open_json("inbox", "payload", row["wamid"], row["payload_enc"])
        assert payload["wa"] == msg.wa_id and payload["type"] == msg.type
        if not payload["secrets"]:
            assert payload["text"] == msg.text
            assert payload["name"] == msg.profile_name
    for row, stu in zip(batch.statuses, parsed.statuses, strict=True):
        assert row["wamid"] == stu.wamid.replace("\x00", "\ufffd")
        assert row["status"] == stu.status.replace("\x00", "\ufffd")
        raw = vault.open_json(
            "status_events", "payload", f"{row['wamid']}:{row['status']}", row["payload_enc"]
        )
        assert raw == stu.raw


_phone = st.integers(10**9, 10**12 - 1).map(lambda n: f"628{n}")
_hostile = st.sampled_from(HOSTILE_STRINGS) | st.text(st.characters(codec="utf-8"), max_size=40)


@st.composite
def hostile_valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed text messages whose every free string is hostile, plus unknown keys."""
    messages, contacts = [], []
    for i, wa_id in enumerate(draw(st.lists(_phone, min_size=1, max_size=4, unique=True))):
        msg: dict[str, Any] = {
            "from": wa_id,
            "id": f"wamid.{i}.{draw(_hostile)}"[:200],
            "timestamp": str(draw(st.integers(0, 10**15 - 1))),
            "type": "text",
            "text": {"body": draw(_hostile)},
        }
        msg["x-" + draw(_hostile)] = draw(_hostile)  # an unknown key, kept as-is
        if draw(st.booleans()):
            msg["context"] = {"from": draw(_hostile), "id": draw(_hostile)}
        messages.append(msg)
        contacts.append({"profile": {"name": draw(_hostile)}, "wa_id": wa_id})
    value = {
        "messaging_product": draw(_hostile),
        "metadata": {"display_phone_number": draw(_hostile), "phone_number_id": draw(_hostile)},
        "contacts": contacts,
        "messages": messages,
    }
    change = {"field": "messages", "value": value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": draw(_hostile), "changes": [change]}],
    }


@settings(FUZZ, max_examples=100)
@given(body=hostile_valid_bodies())
def test_hostile_strings_round_trip_exactly(ingestor: tuple[Ingestor, Vault], body: Any) -> None:
    ing, vault = ingestor
    parsed = parse_webhook_bytes(orjson.dumps(body))
    value = body["entry"][0]["changes"][0]["value"]
    want = [(m["id"], m["from"], m["text"]["body"], int(m["timestamp"])) for m in value["messages"]]
    got = [(m.wamid, m.wa_id, m.text, m.timestamp) for m in parsed.messages]
    assert got == want
    names = {c["wa_id"]: c["profile"]["name"] for c in value["contacts"]}
    assert all(m.profile_name == names[m.wa_id] for m in parsed.messages)
    assert all(m.phone_number_id == value["metadata"]["phone_number_id"] for m in parsed.messages)
    batch = ing.build(parsed)
    for row, msg in zip(batch.inbox, parsed.messages, strict=True):
        payload = vault.open_json("inbox", "payload", row["wamid"], row["payload_enc"])
        if not payload["secrets"]:
            assert payload["text"] == msg.text
        assert payload["name"] == msg.profile_name and payload["wa"] == msg.wa_id
