"""The inbox worker's per-batch reads are index lookups, not scans of the tenant's rows.

Each batch reads, for its contacts: conversation states, opt-out standing, data
keys and pending data-rights requests.  A statement that binds only part of an
index's key makes SQLite read every row of the tenant: cheap in a test, and a
cost that grows with every customer in production (the conversation lookup did
that until it bound the phone number too).  The statements are captured as
SQLite runs them and explained with ``EXPLAIN QUERY PLAN``.

So is the campaigns' claim of unprocessed webhook events, which the housekeeping
runs every ~2 s over a table retention keeps for days.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, event, insert, inspect, select

from aman.campaigns.events_repository import EventsRepository
from aman.campaigns.template_events import FIELDS
from aman.contacts.repository import ContactRepository
from aman.engine.state import ConversationRecord, StateStore
from aman.privacy.policy import RetentionPolicy
from aman.privacy.retention import purge
from aman.privacy.rights import pending_kinds
from aman.storage.models import VerifyToken, WebhookEvent, metadata
from aman.storage.vault import Vault

PN1, PN2 = "100000000000001", "100000000000002"


def traced(conn: Connection) -> list[str]:
    """Every statement SQLite runs on ``conn`` from now on, with its values inlined."""
    seen: list[str] = []
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    raw.set_trace_callback(seen.append)
    return seen


def plans(engine: Engine, statements: list[str], table: str, verb: str = "SELECT") -> list[str]:
    """The query plan lines of each ``verb`` statement on ``table`` among ``statements``."""
    selects = [s for s in statements if s.lstrip().upper().startswith(verb) and table in s]
    assert selects, f"no {verb} on {table} was run"
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


def _store_events(engine: Engine) -> None:
    """Processed and unprocessed events of two tenants, claimed fields and another."""
    rows = [
        ("default", FIELDS[0], True),
        ("default", FIELDS[0], False),
        ("default", "account_update", False),  # a field the claim does not ask for
        ("other", FIELDS[1], False),
        ("default", FIELDS[1], False),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(WebhookEvent),
            [
                {
                    "tenant": tenant,
                    "field": fld,
                    "entry_id": "e",
                    "phone_number_id": PN1,
                    "event_key": f"ev-{i}",
                    "payload_enc": b"x",
                    "received_at": 1.0,
                    "processed": processed,
                }
                for i, (tenant, fld, processed) in enumerate(rows)
            ],
        )


def test_the_migrations_create_the_claim_index_the_model_declares(engine: Engine) -> None:
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("webhook_events")}
    assert indexes["ix_webhook_events_claim"] == ["tenant", "processed", "id"]

    def events_only(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table == WebhookEvent.__tablename__

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": events_only, "compare_type": True}
        )
        assert compare_metadata(ctx, metadata) == []


def test_the_events_claim_searches_unprocessed_rows_in_claim_order(sqlite_engine: Engine) -> None:
    _store_events(sqlite_engine)
    with sqlite_engine.begin() as conn:
        seen = traced(conn)
        claimed = EventsRepository("sqlite").claim(conn, "default", FIELDS, 10)
    assert [e.event_key for e in claimed] == ["ev-1", "ev-4"]
    [plan] = plans(sqlite_engine, seen, "webhook_events", verb="UPDATE")
    # Not a read of every stored event, and no sort: rows come in id order, up to the limit.
    assert "SCAN" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert "USING INDEX ix_webhook_events_claim (tenant=? AND processed=?)" in plan, plan


def test_the_events_claim_uses_the_index_in_a_generic_plan(engine: Engine) -> None:
    """psycopg prepares a statement run five times; PostgreSQL may then plan it once for
    any parameters.  Such a plan cannot rely on ``processed`` being false (so a partial
    index would be left out): the claim must still search the index, not the whole table."""
    if engine.dialect.name != "postgresql":
        pytest.skip("generic plans are PostgreSQL's")
    _store_events(engine)
    seen: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    with engine.begin() as conn:
        assert len(EventsRepository("postgresql").claim(conn, "default", FIELDS, 10)) == 2
    event.remove(engine, "before_cursor_execute", capture)
    [claim] = [s for s in seen if "webhook_events" in s]
    names = re.findall(r"%\((\w+)\)s", claim)
    for n, name in enumerate(names, 1):
        claim = claim.replace(f"%({name})s", f"${n}", 1)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table is read whole
        conn.exec_driver_sql(f"PREPARE claim AS {claim}")
        try:
            # The values do not matter to a generic plan.
            args = ", ".join(["NULL"] * len(names))
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN EXECUTE claim({args})").scalars())
        finally:
            conn.exec_driver_sql("DEALLOCATE claim")
    assert "Seq Scan" not in plan, plan
    assert "Sort" not in plan, plan
    assert re.search(
        r"Index Scan using ix_webhook_events_claim.*\n.*Index Cond: .*processed = \$", plan
    ), plan


def test_the_purge_of_expired_links_reads_only_the_tenants_expired_ones(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(VerifyToken),
            [
                {
                    "token_hash": f"{i:064x}",
                    "tenant": tenant,
                    "phone_number_id": PN1,
                    "contact_ix": "ix-a",
                    "purpose": "verify",
                    "data_enc": b"x",
                    "created_at": 0.0,
                    "expires_at": expires,
                }
                for i, (tenant, expires) in enumerate(
                    [("default", 10.0), ("default", 10.0**9), ("other", 10.0)]
                )
            ],
        )
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    # Retention searches on a read-only engine of its own: listen on every engine.
    event.listen(Engine, "before_cursor_execute", capture)
    try:
        report = purge(sqlite_engine, "default", RetentionPolicy(0, 0, 0, 0, 0, 0), 10.0**6)
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert report.counts.get("verify_tokens") == 1
    searches = [
        (sql, params)
        for sql, params in seen
        if sql.lstrip().upper().startswith("SELECT") and "FROM verify_tokens" in sql
    ]
    assert searches
    raw = sqlite3.connect(sqlite_engine.url.database or "")
    try:
        for sql, params in searches:
            rows = raw.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            plan = " | ".join(row[3] for row in rows)
            assert "SCAN" not in plan, plan
    finally:
        raw.close()
    with sqlite_engine.connect() as conn:
        left = {(r.tenant, r.expires_at) for r in conn.execute(select(VerifyToken))}
    assert left == {("default", 10.0**9), ("other", 10.0)}
