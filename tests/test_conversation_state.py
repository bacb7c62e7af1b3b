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


class States:
    """One customer's conversation on a fresh vault: load, save, read the stored blob."""

    def __init__(self, engine: Engine, wa_id: str) -> None:
        self.engine = engine
        self.vault = Vault.open_or_create(engine, "default", secrets.token_bytes(32))
        self.store = StateStore(self.vault)
        self.ix = self.vault.contact_index(wa_id)
        self.key = (PN, self.ix)

    def load(self) -> ConversationRecord:
        with self.engine.begin() as conn:
            return self.store.load(conn, [self.key])[self.key]

    def save(self, rec: ConversationRecord, now: float = 1.0) -> bytes:
        with self.engine.begin() as conn:
            self.vault.ensure_contact_keys({self.ix}, conn)
            self.store.save(conn, {self.key: rec}, now)
        return self.blob()

    def blob(self) -> bytes:
        with self.engine.connect() as conn:
            q = select(Conversation.state_enc).where(Conversation.contact_ix == self.ix)
            blob: bytes = conn.execute(q).scalar_one()
        return blob


def test_an_unchanged_state_keeps_its_blob_and_a_changed_one_is_sealed_anew(
    engine: Engine,
) -> None:
    st = States(engine, "6281200000001")
    first = st.save(ConversationRecord({"step": "menu", "n": 1}))
    assert st.vault.is_contact_sealed(first, st.ix)
    assert st.save(st.load()) == first  # nothing changed: the same blob, no new seal

    rec = st.load()
    rec.state["n"] = 2  # changed in place, as a bot may do
    second = st.save(rec)
    assert second != first and st.vault.is_contact_sealed(second, st.ix)
    assert st.load().state == {"step": "menu", "n": 2}

    rec = st.load()
    rec.mode = "human"  # only the columns beside the state changed
    assert st.save(rec) == second
    assert st.load().mode == "human"


def test_a_state_under_the_tenant_key_moves_to_the_contact_key_when_saved(
    engine: Engine,
) -> None:
    """Rows from before per-contact keys (or whose key was replaced) are sealed again."""
    st = States(engine, "6281200000002")
    st.save(ConversationRecord({"step": "start"}))
    tenant_sealed = st.vault.seal_json("conversations", "state", f"{PN}:{st.ix}", {"step": "old"})
    with engine.begin() as conn:
        conn.execute(
            update(Conversation)
            .where(Conversation.contact_ix == st.ix)
            .values(state_enc=tenant_sealed)
        )
    rec = st.load()
    assert rec.state == {"step": "old"}
    blob = st.save(rec, 2.0)
    assert blob != tenant_sealed and st.vault.is_contact_sealed(blob, st.ix)
    assert st.load().state == {"step": "old"}
