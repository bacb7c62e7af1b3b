"""One status order: ingest's SQL rank guard decides exactly as ``status_advances``.

Every (stored status, incoming status) pair is applied to an outbox row through
the Ingestor's real write path, by wamid and by callback ref, on SQLite and
PostgreSQL; the row changes iff ``webhook.parser.status_advances`` says so.  Also:
the Ingestor hands its observer the blind indexes it computed for the rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, text

from aman.security.crypto import generate_master_key, load_master_key
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault
from aman.webhook.ingest import CALLBACK_PREFIX, Ingestor
from aman.webhook.parser import STATUS_RANK, parse_webhook, replaces_below, status_advances
from aman.webhook.types import ParsedWebhook

STATUSES = list(STATUS_RANK)
PN = "106540352242922"


@pytest.fixture
def setup(db_url: str) -> Iterator[tuple[Engine, Vault]]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine, Vault.open_or_create(engine, "default", load_master_key(generate_master_key()))
    engine.dispose()


def _body(wamid: str, status: str, ref: str | None) -> dict[str, object]:
    st: dict[str, object] = {
        "id": wamid, "status": status, "timestamp": "1750000000", "recipient_id": "6281200000001",
    }
    if status == "failed":
        st["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    if ref is not None:
        st["biz_opaque_callback_data"] = CALLBACK_PREFIX + ref
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "6281100000001", "phone_number_id": PN},
             "statuses": [st]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}


def test_replaces_below() -> None:
    assert replaces_below("delivered") == STATUS_RANK["delivered"]
    assert replaces_below("failed") == STATUS_RANK["read"]
    assert replaces_below("warning") == 0
    assert max(STATUS_RANK, key=STATUS_RANK.__getitem__) == "failed"


@pytest.mark.parametrize("by_ref", [False, True])
def test_sql_guard_matches_status_advances(setup: tuple[Engine, Vault], by_ref: bool) -> None:
    engine, vault = setup
    ing = Ingestor(engine, vault, dialect=engine.dialect.name)
    pairs = list(itertools.product([None, *STATUSES], STATUSES))
    with engine.begin() as conn:
        for i, (current, _) in enumerate(pairs):
            conn.execute(
                text(
                    "insert into outbox (tenant, phone_number_id, ref, seq, kind, contact_ix, "
                    "body_enc, state, attempts, next_attempt_at, status_rank, delivery_status, "
                    "wamid, created_at, sent_at) values ('default', :pn, :ref, 0, 'message', "
                    "'c', :b, 'sent', 1, 0, :rank, :status, :wamid, 0, 0)"
                ),
                {"pn": PN, "ref": f"r{i}", "b": b"x", "wamid": f"wamid.{i}", "status": current,
                 "rank": STATUS_RANK.get(current or "", 0)},
            )
        batches = [
            ing.build(parse_webhook(_body(f"wamid.{i}", new, f"r{i}" if by_ref else None)))
            for i, (_, new) in enumerate(pairs)
        ]
    with engine.begin() as conn:
        ing._write(conn, batches)
    with engine.connect() as conn:
        got = dict(conn.execute(text("select ref, delivery_status from outbox")).all())
    for i, (current, new) in enumerate(pairs):
        expected = new if status_advances(current, new) else current
        assert got[f"r{i}"] == expected, (current, new)


@pytest.mark.anyio
async def test_observer_gets_the_rows_blind_indexes(setup: tuple[Engine, Vault]) -> None:
    engine, vault = setup
    seen: list[tuple[ParsedWebhook, Sequence[str]]] = []
    ing = Ingestor(engine, vault, dialect=engine.dialect.name,
                   observer=lambda parsed, contacts, now: seen.append((parsed, contacts)))
    ing.start()
    senders = ["6281200000001", "6281200000002", "6281200000001"]
    messages = [
        {"from": wa, "id": f"wamid.m{k}", "timestamp": "1750000000", "type": "text",
         "text": {"body": f"halo {k}"}}
        for k, wa in enumerate(senders)
    ]
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "6281100000001", "phone_number_id": PN},
             "contacts": [{"wa_id": wa, "profile": {"name": "X"}} for wa in senders],
             "messages": messages}
    body = {"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}
    try:
        await ing.store(parse_webhook(body))
    finally:
        await ing.close()
    assert len(seen) == 1
    assert list(seen[0][1]) == [vault.contact_index(wa) for wa in senders]
    with engine.connect() as conn:
        stored = conn.execute(text("select contact_ix from inbox order by id")).scalars().all()
    assert list(seen[0][1]) == stored
