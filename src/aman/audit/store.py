"""SQL implementation of the ledger's storage port, bound to the caller's transaction.

Entries are written in the same transaction as the action they record, so an
action and its audit entry commit or roll back together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import Connection, func, insert, select

from aman.security.ledger import AuditEntry, SignedTreeHead
from aman.storage.models import AuditEntryRow, AuditHeadRow

__all__ = ["SqlLedgerStore"]


class SqlLedgerStore:
    """``LedgerStore`` over ``audit_entries``/``audit_heads``; set ``conn`` before use."""

    def __init__(self, conn: Connection | None = None) -> None:
        self.conn = conn

    def _c(self) -> Connection:
        if self.conn is None:
            raise RuntimeError("SqlLedgerStore used outside a transaction")
        return self.conn

    def append_entry(self, entry: AuditEntry, leaf_hash: bytes) -> None:
        self._c().execute(
            insert(AuditEntryRow).values(
                seq=entry.seq,
                ts=entry.ts,
                tenant=entry.tenant,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                details=json.dumps(
                    entry.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                ),
                leaf_hash=leaf_hash,
            )
        )

    def append_head(self, sth: SignedTreeHead) -> None:
        self._c().execute(
            insert(AuditHeadRow).values(
                size=sth.size, root=sth.root, ts=sth.ts, signature=sth.signature, key_id=sth.key_id
            )
        )

    def iter_entries(self, start: int = 0) -> Iterator[AuditEntry]:
        rows = self._c().execute(
            select(
                AuditEntryRow.seq,
                AuditEntryRow.ts,
                AuditEntryRow.tenant,
                AuditEntryRow.actor,
                AuditEntryRow.action,
                AuditEntryRow.target,
                AuditEntryRow.details,
            )
            .where(AuditEntryRow.seq >= start)
            .order_by(AuditEntryRow.seq)
            .execution_options(yield_per=1000)
        )
        for seq, ts, tenant, actor, action, target, details in rows:
            yield AuditEntry(
                int(seq), float(ts), tenant, actor, action, target, json.loads(details)
            )

    def iter_heads(self) -> Iterator[SignedTreeHead]:
        rows = self._c().execute(
            select(
                AuditHeadRow.size,
                AuditHeadRow.root,
                AuditHeadRow.ts,
                AuditHeadRow.signature,
                AuditHeadRow.key_id,
            ).order_by(AuditHeadRow.id)
        )
        for size, root, ts, signature, key_id in rows:
            yield SignedTreeHead(int(size), bytes(root), float(ts), bytes(signature), key_id)

    def latest_head(self) -> SignedTreeHead | None:
        row = (
            self._c()
            .execute(
                select(
                    AuditHeadRow.size,
                    AuditHeadRow.root,
                    AuditHeadRow.ts,
                    AuditHeadRow.signature,
                    AuditHeadRow.key_id,
                )
                .order_by(AuditHeadRow.id.desc())
                .limit(1)
            )
            .first()
        )
        if row is None:
            return None
        return SignedTreeHead(int(row[0]), bytes(row[1]), float(row[2]), bytes(row[3]), row[4])

    def entry_count(self) -> int:
        return int(self._c().execute(select(func.count()).select_from(AuditEntryRow)).scalar_one())
