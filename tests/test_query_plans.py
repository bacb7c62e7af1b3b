"""The inbox worker's per-batch reads are index lookups, not scans of the tenant's rows.

Each batch reads, for its contacts: conversation states, opt-out standing, data
keys and pending data-rights requests.  A statement that binds only part of an
index's key makes SQLite read every row of the tenant: cheap in a test, and a
cost that grows with every customer in production (the conversation lookup did
that until it bound the phone number too).  The statements are captured as
SQLite runs them and explained with ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import secrets
import sqlite3

from sqlalchemy import Connection, Engine

from aman.contacts.repository import ContactRepository
from aman.engine.state import ConversationRecord, StateStore
from aman.privacy.rights import pending_kinds
from aman.storage.vault import Vault

PN1, PN2 = "100000000000001", "100000000000002"


def traced(conn: Connection) -> list[str]:
    """Every statement SQLite runs on ``conn`` from now on, with its values inlined."""
    seen: list[str] = []
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    raw.set_trace_callback(seen.append)
    return seen


def plans(engine: Engine, statements: list[str], table: str) -> list[str]:
    """The query plan lines of each SELECT on ``table`` among ``statements``."""
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and table in s]
    assert selects, f"no SELECT on {table} was run"
    raw = sqlite3.connect(engine.url.database or "")
    try:
        return [
            " | ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {s}")) for s in selects
        ]
    finally:
        raw.close()


def test_conversation_states_are_read_by_their_whole_key(sqlite_engine: Engine) -> None:
    vault = Vault.open_or_create(sqlite_engine, "default", secrets.token_bytes(32))
    store = StateStore(vault)
    with sqlite_engine.begin() as conn:
        store.save(
            conn,
            {
                (PN1, "ix-a"): ConversationRecord({"step": "a"}),
                (PN1, "ix-b"): ConversationRecord({"step": "b on the first number"}),
                (PN2, "ix-b"): ConversationRecord({"step": "b"}, mode="human"),
            },
            1.0,
        )
    with sqlite_engine.begin() as conn:
        seen = traced(conn)
        loaded = store.load(conn, [(PN1, "ix-a"), (PN2, "ix-b"), (PN2, "ix-none")])
    # Numbers and contacts are asked for as two lists: a pair nobody asked for is dropped.
    assert set(loaded) == {(PN1, "ix-a"), (PN2, "ix-b")}
    assert loaded[(PN1, "ix-a")].state == {"step": "a"}
    assert loaded[(PN2, "ix-b")].mode == "human"
    for plan in plans(sqlite_engine, seen, "conversations"):
        assert "SCAN" not in plan
        assert "tenant=? AND phone_number_id=? AND contact_ix=?" in plan, plan


def test_standing_keys_and_pending_requests_are_point_lookups(sqlite_engine: Engine) -> None:
    vault = Vault.open_or_create(sqlite_engine, "default", secrets.token_bytes(32))
    ixs = ["ix-a", "ix-b"]
    with sqlite_engine.begin() as conn:
        seen = traced(conn)
        vault.ensure_contact_keys(ixs, conn)
        ContactRepository().standing(conn, "default", ixs)
        pending_kinds(conn, "default", ixs)
    for plan in plans(sqlite_engine, seen, "contacts"):
        assert "SCAN" not in plan
        assert "tenant=? AND contact_ix=?" in plan, plan
    for plan in plans(sqlite_engine, seen, "data_keys"):
        assert "SCAN" not in plan
        assert "tenant=? AND subject=?" in plan, plan
    # Only the tenant's pending requests are read, never all of its requests.
    for plan in plans(sqlite_engine, seen, "privacy_requests"):
        assert "SCAN" not in plan
        assert "tenant=? AND status=?" in plan, plan
