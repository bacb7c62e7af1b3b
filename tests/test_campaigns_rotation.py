"""``aman keys rotate`` re-seals the campaigns domain's sealed column (custom fields)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import aman.storage.rotation as rotation
from aman.campaigns import ContactBook
from aman.campaigns.rotation import ENCRYPTED
from aman.security.crypto import key_id_of
from test_campaigns_support import campaign_ctx, q


def test_custom_fields_are_rewrapped_under_a_new_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lists = tuple(rotation._DOMAIN_LISTS)
    if "aman.campaigns.rotation" not in lists:
        monkeypatch.setattr(rotation, "_DOMAIN_LISTS", (*lists, "aman.campaigns.rotation"))
    assert ENCRYPTED[0] in rotation.encrypted_columns()
    with campaign_ctx(db_url) as ctx:
        book = ContactBook(ctx)
        ids = [
            book.upsert("staff:ani", f"08120000000{i}", fields={"kota": f"Kota {i}"})
            for i in range(3)
        ]
        # A profile written before per-contact keys existed: under the tenant data key.
        legacy = ctx.vault.seal_json("contact_profiles", "fields", str(ids[0]), {"kota": "Lama"})
        with ctx.engine.begin() as conn:
            conn.execute(
                text("update contact_profiles set fields_enc = :b where contact_id = :i"),
                {"b": legacy, "i": ids[0]},
            )
        old_key = ctx.vault.keyring.active_key_id
        new_key = ctx.vault.rotate(ctx.engine)
        assert new_key != old_key
        report = rotation.rewrap_all(ctx.engine, ctx.vault)
        assert report.unreadable == 0 and report.rewrapped >= 1
        blobs = [
            bytes(b[0])
            for b in q(ctx, "select fields_enc from contact_profiles order by contact_id")
        ]
        kids = [key_id_of(b) for b in blobs]
        assert kids[0] == new_key  # the legacy value moved to the new key
        assert all(k.startswith("ck:") for k in kids[1:])  # per-contact keys: left alone
        assert len(set(kids[1:])) == 2  # one key per contact
        assert [book.get("staff:ani", i).fields["kota"] for i in ids] == [
            "Lama",
            "Kota 1",
            "Kota 2",
        ]
