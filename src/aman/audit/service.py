"""Append to and verify the audit ledger; the signing key derives from the master key.

The Ed25519 signing key is derived with HKDF from ``AMAN_MASTER_KEY``, so whoever
can edit the database still cannot sign a forged tree head.  Appends happen in
the caller's transaction (the action and its entry commit together); on
PostgreSQL a transaction-scoped advisory lock serialises appenders, on SQLite
``BEGIN IMMEDIATE`` already does.  When a witness file is configured, every new
signed head is also written there: ``aman audit verify`` then detects a
database rolled back to an older ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine, text

from aman.audit.store import SqlLedgerStore
from aman.security.ledger import (
    AuditEntry,
    AuditLedger,
    LedgerError,
    SignedTreeHead,
    VerifyReport,
    verify_ledger,
)

__all__ = ["AuditService", "audit_signing_key", "head_from_json", "head_to_json"]

_ADVISORY_KEY = 0x616D616E  # "aman"


def audit_signing_key(master_key: bytes) -> tuple[Ed25519PrivateKey, str]:
    """The ledger's Ed25519 key and its id (a fingerprint of the public key)."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"aman audit ledger signing key v1"
    ).derive(master_key)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return key, "audit:" + hashlib.sha256(public).hexdigest()[:16]


def head_to_json(sth: SignedTreeHead) -> dict[str, Any]:
    return {
        "size": sth.size,
        "root": sth.root.hex(),
        "ts": sth.ts,
        "signature": sth.signature.hex(),
        "key_id": sth.key_id,
    }


def head_from_json(data: Mapping[str, Any]) -> SignedTreeHead:
    try:
        return SignedTreeHead(
            int(data["size"]),
            bytes.fromhex(data["root"]),
            float(data["ts"]),
            bytes.fromhex(data["signature"]),
            str(data["key_id"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"witnessed head is malformed: {exc}") from None


class AuditService:
    """The process-wide door to the audit ledger."""

    def __init__(self, master_key: bytes, *, witness: Path | None = None) -> None:
        self._key, self.key_id = audit_signing_key(master_key)
        self.public_key: Ed25519PublicKey = self._key.public_key()
        self._witness = witness
        self._store = SqlLedgerStore()
        self._ledger: AuditLedger | None = None
        self._pending: SignedTreeHead | None = None
        self._lock = threading.Lock()

    def append(
        self,
        conn: Connection,
        *,
        tenant: str,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Record an action inside the caller's transaction; call ``committed()`` after it."""
        with self._lock:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
            self._store.conn = conn
            try:
                entry, head = self._append(tenant, actor, action, target, details)
            except Exception:
                # The transaction will roll back: rebuild from the store next time.
                self._ledger = None
                raise
            finally:
                self._store.conn = None
            self._pending = head
        return entry

    def _append(
        self,
        tenant: str,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None,
    ) -> tuple[AuditEntry, SignedTreeHead]:
        if self._ledger is not None:
            try:
                return self._ledger.append(tenant, actor, action, target, details)
            except LedgerError:
                # Our cached tree may be ahead of the store after a rolled-back
                # transaction: rebuild once from what is really stored.
                self._ledger = None
        self._ledger = AuditLedger(self._store, self._key, key_id=self.key_id)
        return self._ledger.append(tenant, actor, action, target, details)

    def committed(self) -> None:
        """The transaction holding the last appends committed: publish the newest head."""
        with self._lock:
            head, self._pending = self._pending, None
        if head is not None:
            self._write_witness(head)

    def discard(self) -> None:
        """The transaction rolled back: forget cached ledger state and the pending head."""
        with self._lock:
            self._ledger = None
            self._pending = None

    def record(
        self,
        engine: Engine,
        *,
        tenant: str,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append in a transaction of its own (for actions with no other writes)."""
        try:
            with engine.begin() as conn:
                entry = self.append(
                    conn, tenant=tenant, actor=actor, action=action, target=target, details=details
                )
        except Exception:
            self.discard()
            raise
        self.committed()
        return entry

    def _write_witness(self, head: SignedTreeHead) -> None:
        if self._witness is None:
            return
        tmp = self._witness.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(head_to_json(head), fh)
        os.replace(tmp, self._witness)

    def verify(self, engine: Engine, *, witnessed: SignedTreeHead | None = None) -> VerifyReport:
        """Check the whole stored ledger against its signed heads (and a witnessed head)."""
        store = SqlLedgerStore()
        with engine.connect() as conn:
            store.conn = conn
            return verify_ledger(
                store.iter_entries(0),
                store.iter_heads(),
                {self.key_id: self.public_key},
                witnessed=witnessed,
            )

    def read_witness(self) -> SignedTreeHead | None:
        if self._witness is None or not self._witness.exists():
            return None
        return head_from_json(json.loads(self._witness.read_text()))
