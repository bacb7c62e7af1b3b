"""What every campaigns service needs: engine, vault, audit ledger, dialect and a clock.

``unit()`` is one unit of work: a transaction whose audit entries are
published after the commit (or forgotten on rollback).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from aman.audit.service import AuditService
from aman.storage.vault import Vault

__all__ = ["CampaignContext"]


@dataclass(frozen=True)
class CampaignContext:
    engine: Engine
    vault: Vault
    audit: AuditService
    clock: Callable[[], float] = field(default=time.time)

    @property
    def tenant(self) -> str:
        return self.vault.tenant

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def now(self) -> float:
        return self.clock()

    @contextmanager
    def unit(self) -> Iterator[Connection]:
        """One transaction; audit entries appended in it are published once it commits."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except BaseException:
            self.audit.discard()
            raise
        self.audit.committed()

    def record(
        self,
        conn: Connection,
        actor: str,
        action: str,
        target: str,
        details: dict[str, object] | None = None,
    ) -> None:
        """Append an audit entry inside ``conn``'s transaction (never secrets or numbers)."""
        self.audit.append(
            conn, tenant=self.tenant, actor=actor, action=action, target=target, details=details
        )
