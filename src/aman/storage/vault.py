"""The one door to encrypted storage: seal/open values and blind-index phone numbers.

Every module that stores personal data goes through ``Vault``.  Values are
sealed with the tenant's active data key (AES-256-GCM, associated data =
tenant/table/column/row so ciphertexts cannot be moved between rows); data keys
live in ``data_keys`` wrapped by the master key.  Phone numbers are looked up
by an HMAC blind index whose key is derived per tenant from the master key.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, text, update

from aman.security import blind_index, crypto
from aman.storage.models import DataKeyRow

__all__ = ["Vault"]

_KEYS_LOCK = 0x6B657973  # advisory lock id for creating the first key ("keys")


class Vault:
    """Seal/open values for one tenant; load or create its data keys."""

    def __init__(
        self,
        tenant: str,
        master_key: bytes,
        keyring: crypto.Keyring,
        engine: Engine | None = None,
    ) -> None:
        self.tenant = tenant
        self._master_key = master_key
        self._engine = engine
        self.keyring = keyring
        self._index = blind_index.BlindIndex(
            blind_index.derive_tenant_key(master_key, tenant, "contact-index")
        )
        self._lock = threading.Lock()

    @property
    def master_key(self) -> bytes:
        return self._master_key

    # -- key management -------------------------------------------------
    @classmethod
    def open_or_create(cls, engine: Engine, tenant: str, master_key: bytes) -> Vault:
        """Load the tenant's wrapped data keys, creating the first one if none exist."""
        provider = crypto.LocalKeyProvider(master_key)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYS_LOCK})
            keyring = _load(conn, tenant, provider)
            if keyring is None:
                keyring = crypto.Keyring.generate()
                _store(conn, tenant, provider, keyring, keyring.active_key_id)
        return cls(tenant, master_key, keyring, engine)

    def refresh(self) -> bool:
        """Reload keys from the database (after a rotation by another process).

        Returns True when the active key changed.
        """
        if self._engine is None:
            return False
        provider = crypto.LocalKeyProvider(self._master_key)
        with self._engine.connect() as conn:
            keyring = _load(conn, self.tenant, provider)
        if keyring is None:
            return False
        with self._lock:
            changed = keyring.active_key_id != self.keyring.active_key_id
            self.keyring = keyring
        return changed

    def rotate(self, engine: Engine) -> str:
        """Create a new active data key (old keys stay for reading); return its id."""
        provider = crypto.LocalKeyProvider(self._master_key)
        key = self.keyring.rotate()
        with engine.begin() as conn:
            conn.execute(
                update(DataKeyRow)
                .where(DataKeyRow.tenant == self.tenant, DataKeyRow.purpose == "data")
                .values(active=False)
            )
            _store(conn, self.tenant, provider, self.keyring, key.key_id)
        return key.key_id

    # -- values -----------------------------------------------------------
    def seal(self, table: str, column: str, row: str, data: bytes) -> bytes:
        return self.keyring.seal(data, crypto.Aad(self.tenant, table, column, row))

    def open(self, table: str, column: str, row: str, blob: bytes) -> bytes:
        aad = crypto.Aad(self.tenant, table, column, row)
        try:
            return self.keyring.open(blob, aad)
        except crypto.KeyDestroyedError:
            raise
        except crypto.DecryptionError:
            if crypto.key_id_of(blob) in self.keyring:
                raise  # a known key refused it: altered, or sealed for another row
            self.refresh()  # a key created by another process since we loaded ours?
            return self.keyring.open(blob, aad)

    def seal_json(self, table: str, column: str, row: str, value: Any) -> bytes:
        return self.seal(table, column, row, orjson.dumps(value))

    def open_json(self, table: str, column: str, row: str, blob: bytes) -> Any:
        return orjson.loads(self.open(table, column, row, blob))

    def contact_index(self, wa_id: str) -> str:
        """Keyed blind index of a phone number / wa_id (the conversation key)."""
        return self._index.digest(wa_id)


def _load(
    conn: Connection, tenant: str, provider: crypto.LocalKeyProvider
) -> crypto.Keyring | None:
    rows = conn.execute(
        select(DataKeyRow).where(DataKeyRow.tenant == tenant, DataKeyRow.purpose == "data")
    ).all()
    if not rows:
        return None
    wrapped = [crypto.WrappedKey(r.key_id, r.wrapped, r.purpose, r.created_at) for r in rows]
    active = next((r.key_id for r in rows if r.active), rows[-1].key_id)
    return crypto.Keyring.from_wrapped(provider, wrapped, active)


def _store(
    conn: Connection,
    tenant: str,
    provider: crypto.LocalKeyProvider,
    keyring: crypto.Keyring,
    key_id: str,
) -> None:
    """Persist one key of ``keyring`` wrapped by the master key, as the active key."""
    for wrapped in keyring.export_wrapped(provider, [key_id]):
        conn.execute(
            insert(DataKeyRow).values(
                key_id=wrapped.key_id,
                tenant=tenant,
                purpose=wrapped.purpose,
                wrapped=wrapped.wrapped,
                provider_key_id=provider.key_id,
                active=True,
                created_at=wrapped.created_at,
            )
        )
