"""``aman keys rotate`` re-seals the campaigns domain's sealed column (custom fields)."""

from __future__ import annotations

import pytest

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
        old_key = ctx.vault.keyring.active_key_id
        new_key = ctx.vault.rotate(ctx.engine)
        assert new_key != old_key
        report = rotation.rewrap_all(ctx.engine, ctx.vault)
        assert report.unreadable == 0 and report.rewrapped >= 3
        blobs = q(ctx, "select fields_enc from contact_profiles order by contact_id")
        assert {key_id_of(bytes(b[0])) for b in blobs} == {new_key}
        assert [book.get("staff:ani", i).fields["kota"] for i in ids] == [
            "Kota 0",
            "Kota 1",
            "Kota 2",
        ]
