"""Customers' data rights end to end: export, erasure by crypto-shredding, objection, retention."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from aman.campaigns import ContactBook
from aman.campaigns.context import CampaignContext
from aman.demo import DemoStack
from aman.privacy import RetentionPolicy, purge
from aman.privacy.commands import command_of
from aman.security.crypto import KeyDestroyedError
from aman.storage import models as m
from aman.storage.db import make_engine
from aman.storage.vault import Vault

pytestmark = pytest.mark.anyio

PHONE = "6281311112222"
OTHER = "6281333334444"
NAME = "Dewi Lestari"


async def _say(st: DemoStack, phone: str, text_: str, expect: int = 0) -> None:
    """Send a message and wait for the bot's next text reply to that phone."""
    before = len(_replies_to(st, phone))
    assert (await st.phone.send_text(phone, text_, name=NAME)).status == 200
    deadline = time.monotonic() + 15
    while len(_replies_to(st, phone)) <= before:
        assert time.monotonic() < deadline, f"no reply to {text_!r}"
        await asyncio.sleep(0.02)


def _replies_to(st: DemoStack, phone: str) -> list[str]:
    out = []
    for msg in st.simulator.sent:
        body: Any = msg.body
        if isinstance(body, dict) and body.get("to") == phone:
            is_text = body.get("type") == "text"
            out.append(str(body["text"]["body"]) if is_text else str(body))
    return out


def _rows(st: DemoStack, sql: str, **params: Any) -> list[Any]:
    with st.runtime.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def test_commands_are_recognised_with_typos_and_nothing_else() -> None:
    assert command_of("HAPUS DATA SAYA") == "erasure"
    assert command_of("hapus dta saya") == "erasure"
    assert command_of("delete my data") == "erasure"
    assert command_of("batal hapus") == "cancel_erasure"
    assert command_of("minta data saya") == "export"
    assert command_of("tanpa bot") == "object"
    assert command_of("aktifkan bot") == "allow"
    for other in ("cek saldo", "STOP", "saya mau hapus kartu kredit lama", "", None, "x" * 100):
        assert command_of(other) is None


async def test_export_then_erasure_by_chat_shreds_the_key(tmp_path: Path, db_url: str) -> None:
    overrides = {"database_url": db_url, "erasure_grace": 0.0}
    async with DemoStack(tmp_path, bot="bank", settings_overrides=overrides) as st:
        rt = st.runtime
        await _say(st, PHONE, "halo selamat pagi", 1)
        await _say(st, OTHER, "halo", 2)
        sent = len(st.simulator.sent)
        await _say(st, PHONE, "data saya", sent + 1)
        assert "3 x 24" in _replies_to(st, PHONE)[-1]
        pending = rt.rights.pending()
        assert [(r["kind"], r["source"]) for r in pending] == [("export", "chat")]
        assert pending[0]["due_at"] - pending[0]["requested_at"] == pytest.approx(72 * 3600)

        # Staff export (what the API and CLI return): decrypted, complete, audited.
        ix = rt.vault.contact_index(PHONE)
        data = rt.rights.export("staff:ani", ix)
        assert data["contact"]["wa_id"] == PHONE and data["contact"]["name"] == NAME
        assert [m_["text"] for m_ in data["messages_received"]] == [
            "halo selamat pagi",
            "data saya",
        ]
        assert data["messages_sent"] and data["requests"][0]["kind"] == "export"
        rt.rights.complete("staff:ani", pending[0]["id"])
        assert rt.rights.pending() == []

        # Blobs as a copy of the data tables would hold them, before the erasure.
        with rt.engine.connect() as conn:
            inbox = conn.execute(
                select(m.Inbox.wamid, m.Inbox.payload_enc).where(m.Inbox.contact_ix == ix)
            ).all()
            contact_blob = conn.execute(
                select(m.Contact.wa_id_enc).where(m.Contact.contact_ix == ix)
            ).scalar_one()
        assert inbox and all(rt.vault.is_contact_sealed(b, ix) for _, b in inbox)

        sent = len(st.simulator.sent)
        await _say(st, PHONE, "hapus data saya", sent + 1)
        assert "BATAL HAPUS" in _replies_to(st, PHONE)[-1]
        assert rt.rights.run_due() == 1

        # Every old ciphertext of this customer is now unreadable, in any process.
        engine = make_engine(db_url)
        try:
            fresh = Vault.open_or_create(engine, rt.vault.tenant, rt.vault.master_key)
            for wamid, blob in inbox:
                with pytest.raises(KeyDestroyedError):
                    fresh.open("inbox", "payload", wamid, blob)
            with pytest.raises(KeyDestroyedError):
                fresh.open("contacts", "wa_id", ix, contact_blob)
        finally:
            engine.dispose()
        # ... and the rows are gone or anonymised; the other customer is untouched.
        assert _rows(st, "select 1 from contacts where contact_ix = :ix", ix=ix) == []
        assert _rows(st, "select 1 from inbox where contact_ix = :ix", ix=ix) == []
        assert _rows(st, "select 1 from outbox where contact_ix = :ix", ix=ix) == []
        assert _rows(st, "select 1 from conversations where contact_ix = :ix", ix=ix) == []
        assert _rows(st, "select 1 from consent_events where contact_ix = :ix", ix=ix) == []
        keys = _rows(st, "select wrapped, subject from data_keys where purpose = 'contact'")
        assert [k for k in keys if k[1] is None] and all(
            bytes(k[0]) == b"" for k in keys if k[1] is None
        )
        other = rt.rights.export("staff:ani", rt.vault.contact_index(OTHER))
        assert other["contact"]["wa_id"] == OTHER
        actions = [r[0] for r in _rows(st, "select action from audit_entries order by seq")]
        for action in ("privacy_request", "data_export", "privacy_request_done", "data_erased"):
            assert action in actions

        # The customer comes back later: a new key, a new contact, the old data stays gone.
        sent = len(st.simulator.sent)
        await _say(st, PHONE, "halo lagi", sent + 1)
        again = rt.rights.export("staff:ani", ix)
        assert [m_["text"] for m_ in again["messages_received"]] == ["halo lagi"]


async def test_erasure_can_be_cancelled_in_the_grace_period(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="bank", settings_overrides={"erasure_grace": 3600.0}) as st:
        await _say(st, PHONE, "hapus data saya", 1)
        assert st.runtime.rights.run_due() == 0  # an hour to change one's mind
        await _say(st, PHONE, "hapus data saya", 2)
        assert "sudah tercatat" in _replies_to(st, PHONE)[-1]
        await _say(st, PHONE, "batal hapus", 3)
        assert "dibatalkan" in _replies_to(st, PHONE)[-1]
        assert st.runtime.rights.pending() == []
        await _say(st, PHONE, "batal hapus", 4)
        assert "Tidak ada" in _replies_to(st, PHONE)[-1]


async def test_objection_routes_every_message_to_a_human(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="bank") as st:
        rt = st.runtime
        await _say(st, PHONE, "tanpa bot", 1)
        assert "petugas" in _replies_to(st, PHONE)[-1]
        ix = rt.vault.contact_index(PHONE)
        mode = _rows(
            st, "select mode, handoff_reason from conversations where contact_ix = :ix", ix=ix
        )
        assert mode == [("human", "objection to automated processing")]
        # An agent closes the chat; the next message still goes to a human, not the bot.
        with rt.engine.begin() as conn:
            conn.execute(
                text("update conversations set mode = 'bot' where contact_ix = :ix"), {"ix": ix}
            )
        before = len(st.simulator.sent)
        assert (await st.phone.send_text(PHONE, "cek saldo", name=NAME)).status == 200
        await asyncio.sleep(1.0)
        assert len(_replies_to(st, PHONE)) == 1 and len(st.simulator.sent) <= before + 1
        assert _rows(st, "select mode from conversations where contact_ix = :ix", ix=ix) == [
            ("human",)
        ]
        consent = _rows(
            st, "select purpose, granted from consent_events where contact_ix = :ix", ix=ix
        )
        assert ("automation", False) in [(p, bool(g)) for p, g in consent]
        # Withdrawing the objection brings the bot back.
        await _say(st, PHONE, "aktifkan bot", 2)
        assert _rows(st, "select objected_at from contacts where contact_ix = :ix", ix=ix) == [
            (None,)
        ]


async def test_retention_purges_each_class_after_its_days(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(tmp_path, bot="echo", settings_overrides={"database_url": db_url}) as st:
        rt = st.runtime
        await _say(st, PHONE, "pesan lama", 1)
        await _say(st, OTHER, "pesan baru", 2)
        await st.simulator.drain_statuses(5)
        await asyncio.sleep(0.5)
        old = time.time() - 40 * 86400
        ix_old = rt.vault.contact_index(PHONE)
        with rt.engine.begin() as conn:
            conn.execute(
                text("update inbox set received_at = :t where contact_ix = :ix"),
                {"t": old, "ix": ix_old},
            )
            conn.execute(
                text("update outbox set created_at = :t where contact_ix = :ix"),
                {"t": old, "ix": ix_old},
            )
            conn.execute(
                text(
                    "update contacts set last_inbound_at = :t, created_at = :t "
                    "where contact_ix = :ix"
                ),
                {"t": old, "ix": ix_old},
            )
        # An imported contact who never wrote, on file since today: kept.
        book = ContactBook(CampaignContext(rt.engine, rt.vault, rt.audit))
        book.upsert("staff:ani", "081255556666")
        imported = rt.vault.contact_index("6281255556666")
        policy = RetentionPolicy.parse("messages=30,statuses=0,webhook_events=0,contacts=35")
        report = purge(
            rt.engine, rt.vault.tenant, policy, time.time(), rights=rt.rights, audit=rt.audit
        )
        assert report.counts["messages"] == 1 and report.counts["contacts"] == 1
        assert report.counts["replies"] >= 1
        assert _rows(st, "select 1 from contacts where contact_ix = :ix", ix=ix_old) == []
        assert _rows(st, "select 1 from contacts where contact_ix = :ix", ix=imported) == [(1,)]
        ix_new = rt.vault.contact_index(OTHER)
        assert len(_rows(st, "select 1 from inbox where contact_ix = :ix", ix=ix_new)) == 1
        actions = [r[0] for r in _rows(st, "select action from audit_entries")]
        assert "retention_purge" in actions and "data_erased" in actions


def test_retention_policy_refuses_bad_settings() -> None:
    assert RetentionPolicy.parse("").messages == 365
    assert RetentionPolicy.parse("messages=0").messages == 0
    for bad in ("messages=3", "mesages=30", "messages=abc", "messages", "statuses=-1"):
        with pytest.raises(ValueError, match="AMAN_RETENTION"):
            RetentionPolicy.parse(bad)


async def test_with_a_separate_keystore_an_old_backup_cannot_be_read(tmp_path: Path) -> None:
    """Crypto-shredding reaches backups when contact keys live in their own database."""
    import sqlite3

    keystore = f"sqlite:///{tmp_path / 'keys.db'}"
    overrides = {"keystore_url": keystore, "erasure_grace": 0.0}
    async with DemoStack(tmp_path, bot="bank", settings_overrides=overrides) as st:
        rt = st.runtime
        await _say(st, PHONE, "halo selamat pagi")
        ix = rt.vault.contact_index(PHONE)
        # No contact key sits beside the data it protects.
        assert _rows(st, "select count(*) from data_keys where purpose = 'contact'") == [(0,)]
        backup = tmp_path / "backup.db"
        with sqlite3.connect(tmp_path / "aman.db") as src, sqlite3.connect(backup) as dst:
            src.backup(dst)
        rt.rights.erase("staff:ani", ix)

    # Restore the backup: its rows are all there, but the contact's key is gone for good.
    engine = make_engine(f"sqlite:///{backup}")
    keys = make_engine(keystore)
    try:
        restored = Vault.open_or_create(engine, "default", rt.vault.master_key, keys)
        with engine.connect() as conn:
            rows = conn.execute(
                select(m.Inbox.wamid, m.Inbox.payload_enc).where(m.Inbox.contact_ix == ix)
            ).all()
            wa_blob = conn.execute(
                select(m.Contact.wa_id_enc).where(m.Contact.contact_ix == ix)
            ).scalar_one()
        assert rows
        for wamid, blob in rows:
            with pytest.raises(KeyDestroyedError):
                restored.open("inbox", "payload", wamid, blob)
        with pytest.raises(KeyDestroyedError):
            restored.open("contacts", "wa_id", ix, wa_blob)
    finally:
        engine.dispose()
        keys.dispose()
