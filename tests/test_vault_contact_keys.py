"""Per-contact keys in the vault: memory stays bounded however many customers there are."""

from __future__ import annotations

import pytest

import aman.storage.vault as vault_mod
from aman.security.crypto import generate_master_key, load_master_key
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import CONTACT_KEY_PREFIX, Vault


def test_contact_key_cache_is_bounded_and_evicted_keys_reload(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault_mod, "_CACHE_SIZE", 5)
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        master = load_master_key(generate_master_key())
        writer = Vault.open_or_create(engine, "default", master)
        blobs = {}
        for i in range(40):
            ix = f"{i:064x}"
            with engine.begin() as conn:  # created in a caller's transaction, as materialise does
                writer.ensure_contact_keys([ix], conn)
                blobs[ix] = writer.seal("outbox", "body", f"r{i}", b"halo", contact=ix, conn=conn)
        reader = Vault.open_or_create(engine, "default", master)
        for i, blob in enumerate(blobs.values()):  # another process opens them all
            assert reader.open("outbox", "body", f"r{i}", blob) == b"halo"
        for v in (writer, reader):
            loaded = [k for k in v.keyring.key_ids if k.startswith(CONTACT_KEY_PREFIX)]
            assert len(loaded) <= 5
        # An evicted contact's key comes back from the database when needed.
        first = next(iter(blobs))
        assert writer.open("outbox", "body", "r0", blobs[first]) == b"halo"
        again = writer.seal("outbox", "body", "r0", b"lagi", contact=first)
        assert reader.open("outbox", "body", "r0", again) == b"lagi"
    finally:
        engine.dispose()


def test_keys_of_a_claimed_batch_load_in_one_query(db_url: str) -> None:
    # The sender opens rows the scheduler sealed: their keys come with the claim, in one
    # query, instead of one query per row on the event loop.
    from sqlalchemy import event

    from aman.security.crypto import KeyDestroyedError

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        master = load_master_key(generate_master_key())
        writer = Vault.open_or_create(engine, "default", master)
        blobs = []
        with engine.begin() as conn:
            for i in range(30):
                ix = f"{i:064x}"
                writer.ensure_contact_keys([ix], conn)
                blobs.append(writer.seal("outbox", "body", f"r{i}", b"halo", contact=ix, conn=conn))
        with engine.begin() as conn:
            writer.erase_contact(conn, f"{29:064x}", 0.0)
        sender = Vault.open_or_create(engine, "default", master)
        queries: list[str] = []
        reader = sender._reader
        assert reader is not None

        def count(*args: object) -> None:
            queries.append(str(args[2]))

        event.listen(reader, "before_cursor_execute", count)
        sender.load_keys_for([*blobs, b"\x00not sealed"])
        assert len(queries) == 1
        for i, blob in enumerate(blobs[:29]):
            assert sender.open("outbox", "body", f"r{i}", blob) == b"halo"
        assert len(queries) == 1  # nothing more was looked up
        with pytest.raises(KeyDestroyedError):
            sender.open("outbox", "body", "r29", blobs[29])
    finally:
        engine.dispose()
