"""Conversation states: sealed under the contact's key, and an unchanged state keeps its blob.

On SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from aman.engine.state import ConversationRecord, StateStore
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.models import Conversation
from aman.storage.vault import Vault

PN = "1234567890"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def _blob(engine: Engine, ix: str) -> bytes:
    with engine.connect() as conn:
        q = select(Conversation.state_enc).where(Conversation.contact_ix == ix)
        blob: bytes = conn.execute(q).scalar_one()
    return blob


def test_an_unchanged_state_keeps_its_blob_and_a_changed_one_is_sealed_anew(
    engine: Engine,
) -> None:
    vault = Vault.open_or_create(engine, "default", secrets.token_bytes(32))
    store = StateStore(vault)
    ix = vault.contact_index("6281200000001")
    key = (PN, ix)

    def load() -> ConversationRecord:
        with engine.begin() as conn:
            return store.load(conn, [key])[key]

    def save(rec: ConversationRecord) -> bytes:
        with engine.begin() as conn:
            store.save(conn, {key: rec}, 1.0)
        return _blob(engine, ix)

    with engine.begin() as conn:
        vault.ensure_contact_keys({ix}, conn)
    first = save(ConversationRecord({"step": "menu", "n": 1}))
    assert vault.is_contact_sealed(first, ix)
    assert save(load()) == first  # nothing changed: the same blob, no new seal

    rec = load()
    rec.state["n"] = 2  # changed in place, as a bot may do
    second = save(rec)
    assert second != first and vault.is_contact_sealed(second, ix)
    assert load().state == {"step": "menu", "n": 2}

    rec = load()
    rec.mode = "human"  # only the columns beside the state changed
    assert save(rec) == second
    assert load().mode == "human"


def test_a_state_under_the_tenant_key_moves_to_the_contact_key_when_saved(
    engine: Engine,
) -> None:
    """Rows from before per-contact keys (or whose key was replaced) are sealed again."""
    vault = Vault.open_or_create(engine, "default", secrets.token_bytes(32))
    store = StateStore(vault)
    ix = vault.contact_index("6281200000002")
    key = (PN, ix)
    with engine.begin() as conn:
        store.save(conn, {key: ConversationRecord({"step": "start"})}, 1.0)
        vault.ensure_contact_keys({ix}, conn)
    with engine.begin() as conn:
        tenant_sealed = vault.seal_json("conversations", "state", f"{PN}:{ix}", {"step": "old"})
        conn.execute(
            update(Conversation)
            .where(Conversation.contact_ix == ix)
            .values(state_enc=tenant_sealed)
        )
    with engine.begin() as conn:
        rec = store.load(conn, [key])[key]
        assert rec.state == {"step": "old"}
        store.save(conn, {key: rec}, 2.0)
    blob = _blob(engine, ix)
    assert blob != tenant_sealed and vault.is_contact_sealed(blob, ix)
    with engine.begin() as conn:
        assert store.load(conn, [key])[key].state == {"step": "old"}
