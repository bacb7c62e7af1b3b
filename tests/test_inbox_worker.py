"""The inbox worker's transactions: one claims a batch and reads what handling it needs,
one completes it; a failure while reading leaves nothing claimed and no key behind.

On SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select

from aman.audit.service import AuditService
from aman.engine.builtin import EchoBot
from aman.inbox import worker as worker_module
from aman.inbox.worker import InboxWorker
from aman.storage import workers
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.models import DataKeyRow, Inbox, Outbox
from aman.storage.vault import Vault
from aman.webhook.ingest import Ingestor
from aman.webhook.parser import parse_webhook
from helpers import text_body

USERS = ("6281200000001", "6281200000002", "6281200000003")


class Stack:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        master = secrets.token_bytes(32)
        self.vault = Vault.open_or_create(engine, "default", master)
        self.dialect = engine.dialect.name
        with engine.begin() as conn:
            self.worker_id = workers.register(conn, "worker")
        self.worker = InboxWorker(
            engine=engine,
            vault=self.vault,
            bot=EchoBot(),
            dialect=self.dialect,
            worker_id=lambda: self.worker_id,
            audit=AuditService(master),
        )

    def receive(self, wa_id: str, body: str) -> str:
        ingestor = Ingestor(self.engine, self.vault, dialect=self.dialect)
        wamid = f"wamid.{secrets.token_hex(8)}"
        rows = ingestor.build(parse_webhook(text_body(wamid, wa_id, body))).inbox
        with self.engine.begin() as conn:
            conn.execute(insert(Inbox), rows)
        return str(rows[0]["contact_ix"])

    def inbox(self) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            q = select(Inbox.status, Inbox.attempts, Inbox.worker_id).order_by(Inbox.id)
            return [tuple(r) for r in conn.execute(q)]

    def keys_of(self, ixs: list[str]) -> int:
        with self.engine.connect() as conn:
            q = select(DataKeyRow.key_id).where(DataKeyRow.subject.in_(ixs))
            return len(conn.execute(q).all())

    def replies(self) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            q = select(Outbox.contact_ix, Outbox.kind).order_by(Outbox.id)
            return [tuple(r) for r in conn.execute(q)]


@pytest.fixture
def stack(db_url: str) -> Iterator[Stack]:
    engine = make_engine(db_url)
    upgrade(engine)
    st = Stack(engine)
    yield st
    st.worker.close()  # gives its kept connection back before the engine goes
    engine.dispose()


def test_a_batch_of_new_contacts_takes_two_transactions(stack: Stack) -> None:
    ixs = [stack.receive(wa, f"halo {k}") for k, wa in enumerate(USERS)]
    began: list[object] = []

    def count(conn: object) -> None:
        began.append(conn)

    event.listen(stack.engine, "begin", count)
    try:
        assert stack.worker.process_once() == 3
    finally:
        event.remove(stack.engine, "begin", count)
    # Claim + keys + states + standing in one transaction, the completion in the other.
    assert len(began) == 2
    assert stack.keys_of(ixs) == 3  # each new contact's key was created in the claim
    assert [s for s, *_ in stack.inbox()] == ["done"] * 3
    assert sorted(stack.replies()) == sorted(
        [(ix, kind) for ix in ixs for kind in ("read", "message")]
    )


def test_a_failed_read_leaves_no_claim_and_no_key(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ix = stack.receive(USERS[0], "halo")

    def broken(*_args: object) -> dict[str, set[str]]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(worker_module, "pending_kinds", broken)
    with pytest.raises(RuntimeError):
        stack.worker.process_once()
    # The claim rolled back with the read: still waiting, not counted as an attempt.
    assert stack.inbox() == [("todo", 0, None)]
    assert stack.keys_of([ix]) == 0
    assert stack.replies() == []

    monkeypatch.undo()
    assert stack.worker.process_once() == 1
    assert stack.worker.process_once() == 0
    assert stack.inbox() == [("done", 1, None)]
    assert stack.keys_of([ix]) == 1
    assert stack.replies() == [(ix, "read"), (ix, "message")]
    # The payload was re-sealed under the key that was committed, and opens with it.
    with stack.engine.connect() as conn:
        (wamid, blob), = conn.execute(select(Inbox.wamid, Inbox.payload_enc)).all()
    assert stack.vault.is_contact_sealed(blob, ix)
    assert stack.vault.open_json("inbox", "payload", wamid, blob)["text"] == "halo"


def test_a_claim_reclaimed_meanwhile_gets_no_effects_and_the_rest_complete(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All marked done at once normally; if one claim is no longer ours, one by one."""
    ixs = [stack.receive(wa, f"halo {k}") for k, wa in enumerate(USERS)]
    with stack.engine.begin() as conn:
        other = workers.register(conn, "other")
    handle = EchoBot.handle
    seen: list[str] = []

    def reclaiming(bot: EchoBot, incoming: Any, state: Any) -> Any:
        seen.append(incoming.contact_ix)
        if incoming.contact_ix == ixs[1]:
            # Judged dead between our claim and completion: another worker has it now.
            with stack.engine.begin() as conn:
                conn.execute(
                    Inbox.__table__.update()
                    .where(Inbox.contact_ix == ixs[1])
                    .values(worker_id=other)
                )
        return handle(bot, incoming, state)

    monkeypatch.setattr(EchoBot, "handle", reclaiming)
    assert stack.worker.process_once() == 3
    assert sorted(seen) == sorted(ixs)
    assert stack.inbox() == [("done", 1, None), ("doing", 1, other), ("done", 1, None)]
    # Replies only for the messages still ours; the reclaimed one is its new owner's.
    assert sorted(stack.replies()) == sorted(
        [(ix, kind) for ix in (ixs[0], ixs[2]) for kind in ("read", "message")]
    )
