"""The campaigns domain's sealed columns, for ``aman keys rotate`` (``storage.rotation``)."""

from __future__ import annotations

from aman.campaigns.models import ContactProfileRow
from aman.storage.rotation import EncryptedColumn

__all__ = ["ENCRYPTED"]

ENCRYPTED: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(
        ContactProfileRow,
        ContactProfileRow.fields_enc,
        "fields",
        (ContactProfileRow.contact_id,),
        lambda r: str(r.contact_id),
    ),
)
