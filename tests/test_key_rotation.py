"""``aman keys rotate``: new key, online re-encryption, resumable, everything stays readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aman.cli import main
from aman.demo import DemoStack
from aman.security.crypto import key_id_of, load_master_key
from aman.storage import models as m
from aman.storage.db import make_engine
from aman.storage.rotation import count_stale, encrypted_columns, rewrap_all
from aman.storage.vault import Vault


async def populate(tmp_path: Path, db_url: str) -> str:
    async with DemoStack(
        tmp_path, bot="shop", statuses=True, settings_overrides={"database_url": db_url}
    ) as st:
        for i in range(30):
            await st.phone.send_text(f"62811{i:08d}", f"halo {i}", name=f"Nama {i}")
        await st.simulator.wait_for_sent(30, 15)
        await st.simulator.drain_statuses(5)
        assert st.settings.master_key is not None
        return st.settings.master_key.reveal()


def all_plaintexts(engine, vault: Vault) -> dict[str, list[bytes]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[bytes]] = {}
    with engine.connect() as conn:
        for col in encrypted_columns():
            rows = conn.execute(select(col.model).where(col.column.is_not(None))).all()
            out[col.label] = sorted(
                vault.open(
                    col.model.__tablename__,
                    col.aad_column,
                    col.aad_row(r),
                    getattr(r, col.column.key),
                )
                for r in rows
            )
    return out


@pytest.mark.anyio
async def test_rotate_reencrypts_everything_and_keeps_it_readable(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    key = await populate(tmp_path, db_url)
    monkeypatch.setenv("AMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("AMAN_MASTER_KEY", key)
    engine = make_engine(db_url)
    vault = Vault.open_or_create(engine, "default", load_master_key(key))
    before = all_plaintexts(engine, vault)
    assert sum(len(v) for v in before.values()) > 100
    old_key = vault.keyring.active_key_id

    assert main(["keys", "rotate"]) == 0
    vault.refresh()
    new_key = vault.keyring.active_key_id
    assert new_key != old_key
    assert count_stale(engine, vault) == 0
    with engine.connect() as conn:
        blobs = conn.execute(select(m.Inbox.payload_enc)).scalars().all()
    kids = {key_id_of(b) for b in blobs}
    # Handled messages sit under their contact's own key (rotation leaves those alone);
    # anything else is now under the new tenant key.
    assert any(k.startswith("ck:") for k in kids)
    assert {k for k in kids if not k.startswith("ck:")} <= {new_key}
    assert all_plaintexts(engine, vault) == before
    with engine.connect() as conn:
        actions = list(conn.execute(select(m.AuditEntryRow.action)).scalars())
    assert actions == ["key_rotated"]
    engine.dispose()


@pytest.mark.anyio
async def test_interrupted_rotation_resumes(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    key = await populate(tmp_path, db_url)
    monkeypatch.setenv("AMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("AMAN_MASTER_KEY", key)
    engine = make_engine(db_url)
    vault = Vault.open_or_create(engine, "default", load_master_key(key))
    before = all_plaintexts(engine, vault)
    vault.rotate(engine)
    calls = 0

    def crash(n: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C mid-way

    with pytest.raises(KeyboardInterrupt):
        rewrap_all(engine, vault, batch=10, progress=crash)
    left = count_stale(engine, vault)
    assert left > 0
    assert all_plaintexts(engine, vault) == before  # mixed keys: all still readable
    assert main(["keys", "rotate", "--resume"]) == 0
    vault.refresh()
    assert count_stale(engine, vault) == 0
    assert all_plaintexts(engine, vault) == before
    engine.dispose()
