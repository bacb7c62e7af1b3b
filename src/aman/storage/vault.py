"""The one door to encrypted storage: seal/open values and blind-index phone numbers.

Every module that stores personal data goes through ``Vault``.  Values are
sealed with the tenant's active data key (AES-256-GCM, associated data =
tenant/table/column/row so ciphertexts cannot be moved between rows); data keys
live in ``data_keys`` wrapped by the master key.  Phone numbers are looked up
by an HMAC blind index whose key is derived per tenant from the master key.

Per-contact keys (crypto-shredding): values that belong to one customer are
sealed with ``contact=<blind index>`` under that contact's own random data key
(purpose ``contact``, one row in ``data_keys`` whose ``subject`` is the blind
index).  ``erase_contact`` wipes the wrapped key, so every copy of those
values, backups included, becomes unreadable.  A key created inside a caller's
transaction is only trusted by other transactions once that one commits.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Engine, bindparam, event, insert, select, text, update

from aman.security import blind_index, crypto
from aman.storage.db import make_reader
from aman.storage.models import DataKeyRow
from aman.storage.sql import DriverSQL

__all__ = ["CONTACT_KEY_PREFIX", "Vault", "open_keystore"]

_KEYS_LOCK = 0x6B657973  # advisory lock id for creating the first key ("keys")
CONTACT_KEY_PREFIX = "ck:"
_PENDING = "aman_pending_contact_keys"  # Connection.info: keys created in an open transaction
_CACHE_SIZE = 20_000  # contact keys kept unwrapped in memory (least recently used evicted)
_LISTENED: weakref.WeakSet[Engine] = weakref.WeakSet()
# Built once: the inbox worker looks keys up (and creates them) for every new customer.
_KEYS_OF = DriverSQL(
    "SELECT key_id, wrapped, purpose, created_at, subject FROM data_keys "
    "WHERE tenant = :tenant AND subject IN ({subjects})"
)
_KEY_OF = select(DataKeyRow).where(
    DataKeyRow.tenant == bindparam("tenant"), DataKeyRow.subject == bindparam("subject")
)
_INSERT_KEY = DriverSQL(
    "INSERT INTO data_keys (key_id, tenant, purpose, wrapped, provider_key_id, active, "
    "created_at, subject) VALUES (:key_id, :tenant, :purpose, :wrapped, :provider_key_id, "
    ":active, :created_at, :subject) ON CONFLICT (tenant, subject) DO NOTHING"
)


class _KeyRow(NamedTuple):
    """The columns of a ``data_keys`` row that :meth:`Vault._adopt` reads."""

    key_id: str
    wrapped: bytes
    purpose: str
    created_at: float
    subject: str | None


class Vault:
    """Seal/open values for one tenant; load or create its data keys."""

    def __init__(
        self,
        tenant: str,
        master_key: bytes,
        keyring: crypto.Keyring,
        engine: Engine | None = None,
        keystore: Engine | None = None,
    ) -> None:
        self.tenant = tenant
        self._master_key = master_key
        self._provider = crypto.LocalKeyProvider(master_key)  # built once: one per key is waste
        self._engine = engine
        # Contact keys live in the keystore: the data database unless AMAN_KEYSTORE_URL
        # names another one (whose backups are kept shorter than the erasure deadline).
        self._keys = keystore or engine
        self._separate = keystore is not None and keystore is not engine
        self.keyring = keyring
        self._index = blind_index.BlindIndex(
            blind_index.derive_tenant_key(master_key, tenant, "contact-index")
        )
        self._lock = threading.RLock()
        self._contacts: OrderedDict[str, str] = OrderedDict()  # blind index -> key id (LRU)
        self._destroyed_seen = 0.0
        self._reader = make_reader(self._keys) if self._keys is not None else None
        for eng in {e for e in (engine, self._keys) if e is not None}:
            if eng not in _LISTENED:
                event.listen(eng, "commit", _on_commit)
                event.listen(eng, "rollback", _on_rollback)
                _LISTENED.add(eng)

    @property
    def master_key(self) -> bytes:
        return self._master_key

    # -- key management -------------------------------------------------
    @classmethod
    def open_or_create(
        cls, engine: Engine, tenant: str, master_key: bytes, keystore: Engine | None = None
    ) -> Vault:
        """Load the tenant's wrapped data keys, creating the first one if none exist."""
        provider = crypto.LocalKeyProvider(master_key)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYS_LOCK})
            keyring = _load(conn, tenant, provider)
            if keyring is None:
                keyring = crypto.Keyring.generate()
                _store(conn, tenant, provider, keyring, keyring.active_key_id)
        return cls(tenant, master_key, keyring, engine, keystore)

    def refresh(self) -> bool:
        """Reload keys from the database (after a rotation by another process).

        Returns True when the active key changed.
        """
        if self._engine is None:
            return False
        with self._engine.connect() as conn:
            keyring = _load(conn, self.tenant, self._provider)
        with (self._reader or self._engine).connect() as conn:
            destroyed = conn.execute(
                select(DataKeyRow.key_id, DataKeyRow.destroyed_at).where(
                    DataKeyRow.tenant == self.tenant,
                    DataKeyRow.destroyed_at.is_not(None),
                    DataKeyRow.destroyed_at >= self._destroyed_seen,
                )
            ).all()
        if keyring is None:
            return False
        with self._lock:
            changed = keyring.active_key_id != self.keyring.active_key_id
            # Keep the contact keys this process has loaded; drop those erased elsewhere.
            for kid in self.keyring.key_ids:
                if kid.startswith(CONTACT_KEY_PREFIX) and kid not in keyring:
                    keyring.add(self.keyring.key(kid))
            self.keyring = keyring
            for kid, at in destroyed:
                self._forget_contact_key(kid)
                self._destroyed_seen = max(self._destroyed_seen, float(at or 0.0))
        return changed

    def rotate(self, engine: Engine) -> str:
        """Create a new active data key (old keys stay for reading); return its id."""
        key = self.keyring.rotate()
        with engine.begin() as conn:
            conn.execute(
                update(DataKeyRow)
                .where(DataKeyRow.tenant == self.tenant, DataKeyRow.purpose == "data")
                .values(active=False)
            )
            _store(conn, self.tenant, self._provider, self.keyring, key.key_id)
        return key.key_id

    # -- per-contact keys ---------------------------------------------------
    def contact_key(self, contact_ix: str, conn: Connection | None = None) -> str:
        """Id of the contact's data key, loading or creating it.

        Pass ``conn`` when called inside an open transaction (a new key is then
        written in it and trusted elsewhere only after it commits); without it a
        short transaction of its own is used.
        """
        with self._lock:
            kid = self._contacts.get(contact_ix)
            if kid is not None:
                self._contacts.move_to_end(contact_ix)
                return kid
        if conn is not None and not self._separate:
            pending: dict[tuple[int, str], str] = conn.info.get(_PENDING, {})
            kid = pending.get((id(self), contact_ix))
            if kid is not None:
                return kid
            return self._load_or_create(conn, contact_ix)
        if self._keys is None:  # a vault without a database (unit tests): memory only
            return self._remember(contact_ix, self._new_contact_key())
        with self._keys.begin() as own:
            return self._load_or_create(own, contact_ix)

    def ensure_contact_keys(
        self, contact_ixs: Iterable[str], conn: Connection | None = None
    ) -> None:
        """Load (one query per 500) or create the keys of many contacts before a batch seals."""
        with self._lock:
            missing = {ix for ix in contact_ixs if ix not in self._contacts}
        if not missing:
            return
        if conn is None or self._separate:
            if self._keys is None:
                for ix in missing:
                    self.contact_key(ix)
                return
            with self._keys.begin() as own:
                self._ensure_in(own, missing)
            return
        self._ensure_in(conn, missing)

    def _ensure_in(self, conn: Connection, missing: set[str]) -> None:
        pending: dict[tuple[int, str], str] = conn.info.get(_PENDING, {})
        missing = {ix for ix in missing if (id(self), ix) not in pending}
        todo = sorted(missing)
        for i in range(0, len(todo), 500):
            chunk = todo[i : i + 500]
            for found in _KEYS_OF.rows(conn, {"tenant": self.tenant, "subjects": chunk}):
                row = _KeyRow(*found)
                self._adopt(row)
                missing.discard(str(row.subject))
        for ix in sorted(missing):
            self._create(conn, ix)  # not stored: the query above just looked

    def is_contact_sealed(self, blob: bytes, contact_ix: str) -> bool:
        """True when ``blob`` is sealed under this contact's current key."""
        with self._lock:
            kid = self._contacts.get(contact_ix)
        return kid is not None and crypto.key_id_of(blob) == kid

    def needs_rewrap(self, blob: bytes) -> bool:
        """True for a blob under a retired tenant data key (contact keys are never rotated)."""
        if crypto.key_id_of(blob).startswith(CONTACT_KEY_PREFIX):
            return False
        return self.keyring.needs_rewrap(blob)

    def erase_contact(self, conn: Connection, contact_ix: str, now: float) -> list[str]:
        """Crypto-shred the contact's key(s) in ``conn``'s transaction; returns the key ids.

        The wrapped key is overwritten and the subject cleared (a tombstone row
        stays, so reads fail with :class:`~aman.security.crypto.KeyDestroyedError`).
        Other processes drop their copy on their next :meth:`refresh`.  With a
        separate keystore the key is destroyed in a transaction of its own, before
        ``conn`` commits (a failed erasure is retried; its rows are unreadable anyway).
        """
        if self._separate and self._keys is not None:
            with self._keys.begin() as kconn:
                return self._shred(kconn, contact_ix, now)
        return self._shred(conn, contact_ix, now)

    def _shred(self, conn: Connection, contact_ix: str, now: float) -> list[str]:
        kids = [
            str(r[0])
            for r in conn.execute(
                select(DataKeyRow.key_id).where(
                    DataKeyRow.tenant == self.tenant, DataKeyRow.subject == contact_ix
                )
            )
        ]
        if kids:
            conn.execute(
                update(DataKeyRow)
                .where(DataKeyRow.tenant == self.tenant, DataKeyRow.key_id.in_(kids))
                .values(wrapped=b"", subject=None, destroyed_at=now, active=False)
            )
        with self._lock:
            self._contacts.pop(contact_ix, None)
            for kid in kids:
                self._forget_contact_key(kid)
        return kids

    def _new_contact_key(self) -> crypto.DataKey:
        key = crypto.new_data_key(
            f"{CONTACT_KEY_PREFIX}{crypto.random_bytes(12).hex()}", crypto.PURPOSE_CONTACT
        )
        with self._lock:
            self.keyring.add(key)
        return key

    def _remember(self, contact_ix: str, key: crypto.DataKey) -> str:
        self._cache(contact_ix, key.key_id)
        return key.key_id

    def _cache(self, contact_ix: str, kid: str) -> None:
        """Remember the contact's key id; beyond ``_CACHE_SIZE`` the least recently used
        contact's key leaves memory (it is loaded again from the database when needed)."""
        with self._lock:
            self._contacts[contact_ix] = kid
            self._contacts.move_to_end(contact_ix)
            while len(self._contacts) > _CACHE_SIZE:
                _, old = self._contacts.popitem(last=False)
                if old in self.keyring and old != kid:
                    self.keyring.discard(old)

    def _adopt(self, row: Any) -> str:
        """Unwrap a stored contact key into the keyring and the cache."""
        kid = str(row.key_id)
        with self._lock:
            if kid not in self.keyring:
                ring = crypto.Keyring.from_wrapped(
                    self._provider,
                    [crypto.WrappedKey(kid, row.wrapped, row.purpose, row.created_at)],
                    kid,
                )
                self.keyring.add(ring.key(kid))
        if row.subject is not None:
            self._cache(str(row.subject), kid)
        return kid

    def _load_or_create(self, conn: Connection, contact_ix: str) -> str:
        found = conn.execute(_KEY_OF, {"tenant": self.tenant, "subject": contact_ix}).first()
        if found is not None:
            return self._adopt(found)
        return self._create(conn, contact_ix)

    def _create(self, conn: Connection, contact_ix: str) -> str:
        """A new key for ``contact_ix``; if another process stored one first, theirs."""
        key = self._new_contact_key()
        (wrapped,) = self.keyring.export_wrapped(self._provider, [key.key_id])
        values = {
            "key_id": key.key_id,
            "tenant": self.tenant,
            "purpose": crypto.PURPOSE_CONTACT,
            "wrapped": wrapped.wrapped,
            "provider_key_id": self._provider.key_id,
            "active": False,
            "created_at": wrapped.created_at,
            "subject": contact_ix,
        }
        inserted = _INSERT_KEY.run(conn, values)
        # PostgreSQL reports rowcount -1 for this INSERT: then the stored row tells whose it is.
        winner = (
            None
            if inserted == 1
            else conn.execute(_KEY_OF, {"tenant": self.tenant, "subject": contact_ix}).one()
        )
        if winner is not None and str(winner.key_id) != key.key_id:
            # Another process created it first: use theirs.
            with self._lock:
                self.keyring.discard(key.key_id)
            return self._adopt(winner)
        if conn.in_transaction() and self._keys is not None:
            conn.info.setdefault(_PENDING, {})[(id(self), contact_ix)] = key.key_id
            conn.info.setdefault(_PENDING + ":vaults", {})[id(self)] = self
            return key.key_id
        return self._remember(contact_ix, key)

    def _settle(self, pending: dict[tuple[int, str], str], committed: bool) -> None:
        for (vid, ix), kid in pending.items():
            if vid != id(self):
                continue
            if committed:
                self._cache(ix, kid)
            elif kid in self.keyring:
                with self._lock:
                    self.keyring.discard(kid)

    def _forget_contact_key(self, kid: str) -> None:
        if kid in self.keyring or kid not in self.keyring.destroyed:
            self.keyring.forget(kid)
        for ix, cached in list(self._contacts.items()):
            if cached == kid:
                del self._contacts[ix]

    def _fetch_contact_key(self, kid: str) -> None:
        """Load a contact key named by a blob (e.g. sealed by another process)."""
        if kid in self._fetch_contact_keys([kid]):
            raise crypto.KeyDestroyedError(kid)

    def load_keys_for(self, blobs: Iterable[bytes]) -> None:
        """Load, one query per 500, the contact keys of blobs about to be opened.

        A sender opens rows sealed by other processes (the worker, the campaign
        scheduler) under keys it has not seen; loading them with the claim, off the
        event loop, saves a query per row where the row is opened.  Erased keys are
        left for :meth:`open` to report.
        """
        kids = set()
        for blob in blobs:
            try:
                kid = crypto.key_id_of(blob)
            except crypto.CryptoError:
                continue  # open() reports the malformed blob where it is used
            if kid.startswith(CONTACT_KEY_PREFIX) and kid not in self.keyring:
                kids.add(kid)
        if kids:
            self._fetch_contact_keys(sorted(kids))

    def _fetch_contact_keys(self, kids: Sequence[str]) -> set[str]:
        """Adopt the stored keys ``kids``; returns those found erased."""
        if self._reader is None:
            return set()
        erased: set[str] = set()
        for i in range(0, len(kids), 500):
            with self._reader.connect() as conn:
                # By primary key alone: with the tenant in the WHERE clause SQLite chose the
                # (tenant, subject) index and read every key of the tenant (35% of a
                # sender's samples in a 100k broadcast).  Key ids are unique across tenants.
                rows = conn.execute(
                    select(DataKeyRow).where(DataKeyRow.key_id.in_(kids[i : i + 500]))
                ).all()
            for row in rows:
                if row.tenant != self.tenant:
                    continue
                if row.destroyed_at is not None:
                    erased.add(str(row.key_id))
                    with self._lock:
                        self._forget_contact_key(str(row.key_id))
                else:
                    self._adopt(row)
        return erased

    # -- values -----------------------------------------------------------
    def seal(
        self,
        table: str,
        column: str,
        row: str,
        data: bytes,
        *,
        contact: str | None = None,
        conn: Connection | None = None,
    ) -> bytes:
        """Seal ``data`` for its place; ``contact`` (a blind index) uses that contact's key."""
        aad = crypto.Aad(self.tenant, table, column, row)
        if contact is None:
            return self.keyring.seal(data, aad)
        kid = self.contact_key(contact, conn)
        try:
            return self.keyring.seal(data, aad, key_id=kid)
        except crypto.DecryptionError:  # evicted between lookup and use: load it again
            with self._lock:
                self._contacts.pop(contact, None)
            return self.keyring.seal(data, aad, key_id=self.contact_key(contact, conn))

    def open(self, table: str, column: str, row: str, blob: bytes) -> bytes:
        aad = crypto.Aad(self.tenant, table, column, row)
        try:
            return self.keyring.open(blob, aad)
        except crypto.KeyDestroyedError:
            raise
        except crypto.DecryptionError:
            kid = crypto.key_id_of(blob)
            if kid in self.keyring:
                raise  # a known key refused it: altered, or sealed for another row
            if kid.startswith(CONTACT_KEY_PREFIX):
                self._fetch_contact_key(kid)
            else:
                self.refresh()  # a key created by another process since we loaded ours?
            return self.keyring.open(blob, aad)

    def seal_json(
        self,
        table: str,
        column: str,
        row: str,
        value: Any,
        *,
        contact: str | None = None,
        conn: Connection | None = None,
    ) -> bytes:
        return self.seal(table, column, row, orjson.dumps(value), contact=contact, conn=conn)

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


def _pending_of(conn: Connection) -> tuple[dict[tuple[int, str], str], dict[int, Vault]]:
    return conn.info.pop(_PENDING, {}), conn.info.pop(_PENDING + ":vaults", {})


def _on_commit(conn: Connection) -> None:
    if _PENDING in conn.info:
        pending, vaults = _pending_of(conn)
        for vault in vaults.values():
            vault._settle(pending, committed=True)


def _on_rollback(conn: Connection) -> None:
    if _PENDING in conn.info:
        pending, vaults = _pending_of(conn)
        for vault in vaults.values():
            vault._settle(pending, committed=False)


_KEYSTORES: dict[str, Engine] = {}
_KEYSTORES_LOCK = threading.Lock()


def open_keystore(url: str) -> Engine | None:
    """The engine of ``AMAN_KEYSTORE_URL`` (None: contact keys stay in the data database).

    One engine per URL and process; its ``data_keys`` table is created on first use.
    """
    if not url:
        return None
    from aman.storage.db import make_engine

    with _KEYSTORES_LOCK:
        engine = _KEYSTORES.get(url)
        if engine is None:
            engine = make_engine(url, pool_size=2)
            DataKeyRow.metadata.create_all(engine, tables=[DataKeyRow.__table__])  # type: ignore[list-item]
            _KEYSTORES[url] = engine
        return engine
