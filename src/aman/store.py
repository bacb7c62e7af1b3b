"""What the maintenance commands open: settings from the environment, the migrated
database, the tenant's vault and its audit ledger (``aman keys``, ``privacy``, ``webhooks``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from aman.audit.service import AuditService
from aman.config import Settings
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault, open_keystore

__all__ = ["Store", "open_store"]


@dataclass(frozen=True)
class Store:
    settings: Settings
    engine: Engine
    vault: Vault
    audit: AuditService


def open_store() -> Store:
    """Open everything from ``AMAN_*``; the caller disposes of ``engine``."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    vault = Vault.open_or_create(
        engine, settings.tenant, settings.master_key_bytes(), open_keystore(settings.keystore_url)
    )
    witness = Path(settings.audit_witness) if settings.audit_witness else None
    return Store(settings, engine, vault, AuditService(vault.master_key, witness=witness))
