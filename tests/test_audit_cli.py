"""``aman audit verify`` over a ledger stored in SQLite/PostgreSQL, tampered in every way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from aman.audit.service import AuditService
from aman.cli import main
from aman.security.crypto import generate_master_key, load_master_key
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade


@pytest.fixture
def ledger(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    key = generate_master_key()
    witness = tmp_path / "witness.json"
    monkeypatch.setenv("AMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("AMAN_MASTER_KEY", key)
    monkeypatch.setenv("AMAN_AUDIT_WITNESS", str(witness))
    engine = make_engine(db_url)
    upgrade(engine)
    service = AuditService(load_master_key(key), witness=witness)
    for i in range(6):
        service.record(
            engine,
            tenant="default",
            actor="admin:ana",
            action="role_change",
            target=f"user:{i}",
            details={"role": "agent", "n": i},
        )
    yield engine
    engine.dispose()


def verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_intact_ledger_verifies(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = verify(capsys)
    assert code == 0, out
    assert "6 entries" in out and "witnessed" in out


def test_altered_entry_is_named(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    with ledger.begin() as conn:
        conn.execute(
            text("UPDATE audit_entries SET details = :d WHERE seq = 3"),
            {"d": json.dumps({"n": 3, "role": "admin"})},
        )
    code, out = verify(capsys)
    assert code == 1 and "entry 3" in out, out


def test_deleted_entry_is_detected(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    code, out = verify(capsys)
    assert code == 1 and "TAMPERED" in out and "entry 2" in out, out


def test_reordered_entries_are_detected(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    with ledger.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET seq = seq + 100 WHERE seq IN (1, 4)"))
        conn.execute(text("UPDATE audit_entries SET seq = 4 WHERE seq = 101"))
        conn.execute(text("UPDATE audit_entries SET seq = 1 WHERE seq = 104"))
    code, out = verify(capsys)
    assert code == 1 and "entry 1" in out, out


def test_inserted_entry_is_detected(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    with ledger.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_entries (seq, ts, tenant, actor, action, target, "
                "details, leaf_hash) VALUES (6, 1.0, 'default', 'x', 'export', 'y', "
                "'{}', :h)"
            ),
            {"h": b"\0" * 32},
        )
    code, out = verify(capsys)
    assert code == 1, out


def test_rollback_to_an_older_ledger_is_detected(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    # Restore-from-backup style rollback: the last two entries and their heads vanish
    # consistently, but the witness saw the newer head.
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= 4"))
        conn.execute(text("DELETE FROM audit_heads WHERE size > 4"))
    code, out = verify(capsys)
    assert code == 1 and "TAMPERED" in out, out


def test_forged_head_signature_is_detected(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    with ledger.begin() as conn:
        conn.execute(
            text("UPDATE audit_heads SET signature = :s WHERE size = 3"), {"s": b"\1" * 64}
        )
    code, out = verify(capsys)
    assert code == 1, out


def test_head_command_prints_public_key(ledger, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["audit", "head"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["head"]["size"] == 6 and len(data["public_key"]) == 64
