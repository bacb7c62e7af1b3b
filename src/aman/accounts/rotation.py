"""The accounts columns sealed by the vault, in the form ``aman keys rotate`` re-encrypts.

``aman.storage.rotation.ENCRYPTED`` should include :data:`ENCRYPTED` so a key
rotation also re-seals staff emails and TOTP secrets (until then they stay
readable under the old key, as rotation promises).
"""

from __future__ import annotations

from aman.accounts.models import UserRow
from aman.storage.rotation import EncryptedColumn

__all__ = ["ENCRYPTED"]

ENCRYPTED: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(UserRow, UserRow.email_enc, "email", (UserRow.id,), lambda r: r.email_ix),
    EncryptedColumn(
        UserRow, UserRow.totp_secret_enc, "totp_secret", (UserRow.id,), lambda r: r.email_ix
    ),
    EncryptedColumn(
        UserRow, UserRow.totp_pending_enc, "totp_pending", (UserRow.id,), lambda r: r.email_ix
    ),
)
