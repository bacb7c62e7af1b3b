"""Re-encrypt stored data under the newest data key: online, in batches, resumable.

``ENCRYPTED`` lists every sealed column with the associated-data row id it was
sealed with.  ``rewrap_all`` walks each table in primary-key order, re-seals
blobs that are not under the active key, and updates each row only if its
blob is unchanged (the application may have re-sealed it meanwhile).  Running
it again after an interruption continues where it stopped: rows already under
the active key are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from aman.security.crypto import DecryptionError
from aman.storage import models as m
from aman.storage.vault import Vault

__all__ = [
    "ENCRYPTED",
    "EncryptedColumn",
    "RotationReport",
    "count_stale",
    "encrypted_columns",
    "rewrap_all",
]


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    model: Any
    column: InstrumentedAttribute[Any]
    aad_column: str  # the column name used in the associated data
    keys: tuple[InstrumentedAttribute[Any], ...]  # primary key, in order
    aad_row: Callable[[Any], str]  # row -> associated-data row id

    @property
    def label(self) -> str:
        return f"{self.model.__tablename__}.{self.column.key}"


ENCRYPTED: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(m.Inbox, m.Inbox.payload_enc, "payload", (m.Inbox.id,), lambda r: r.wamid),
    EncryptedColumn(m.Outbox, m.Outbox.body_enc, "body", (m.Outbox.id,), lambda r: r.ref),
    EncryptedColumn(
        m.StatusEvent,
        m.StatusEvent.payload_enc,
        "payload",
        (m.StatusEvent.id,),
        lambda r: f"{r.wamid}:{r.status}",
    ),
    EncryptedColumn(
        m.WebhookEvent,
        m.WebhookEvent.payload_enc,
        "payload",
        (m.WebhookEvent.id,),
        lambda r: r.event_key,
    ),
    EncryptedColumn(
        m.Contact, m.Contact.wa_id_enc, "wa_id", (m.Contact.id,), lambda r: r.contact_ix
    ),
    EncryptedColumn(m.Contact, m.Contact.name_enc, "name", (m.Contact.id,), lambda r: r.contact_ix),
    EncryptedColumn(
        m.Conversation,
        m.Conversation.state_enc,
        "state",
        (m.Conversation.tenant, m.Conversation.phone_number_id, m.Conversation.contact_ix),
        lambda r: f"{r.phone_number_id}:{r.contact_ix}",
    ),
    EncryptedColumn(
        m.TimerRow,
        m.TimerRow.data_enc,
        "data",
        (m.TimerRow.id,),
        lambda r: f"{r.phone_number_id}:{r.contact_ix}:{r.name}",
    ),
    EncryptedColumn(
        m.VerifyToken,
        m.VerifyToken.data_enc,
        "data",
        (m.VerifyToken.token_hash,),
        lambda r: r.token_hash,
    ),
)


# Domain packages list their own sealed columns next to their models.
_DOMAIN_LISTS = ("aman.accounts.rotation", "aman.campaigns.rotation")


def encrypted_columns() -> tuple[EncryptedColumn, ...]:
    """Every sealed column: the core ones and each domain package's ``ENCRYPTED``."""
    import importlib

    out = list(ENCRYPTED)
    for name in _DOMAIN_LISTS:
        out.extend(importlib.import_module(name).ENCRYPTED)
    return tuple(out)


@dataclass(slots=True)
class RotationReport:
    rewrapped: int = 0
    skipped: int = 0  # already under the active key, or changed concurrently
    unreadable: int = 0  # under a destroyed (erased) key: left as it is


def _rows(engine: Engine, col: EncryptedColumn, tenant: str, batch: int) -> Iterator[list[Any]]:
    """Batches of rows in primary-key order (keyset pagination, short transactions)."""
    last: tuple[Any, ...] | None = None
    table = col.model
    while True:
        stmt = select(table).where(table.tenant == tenant, col.column.is_not(None))
        if last is not None:
            from sqlalchemy import tuple_

            stmt = stmt.where(tuple_(*col.keys) > tuple_(*last))
        stmt = stmt.order_by(*col.keys).limit(batch)
        with engine.connect() as conn:
            rows = list(conn.execute(stmt).all())
        if not rows:
            return
        last = tuple(getattr(rows[-1], k.key) for k in col.keys)
        yield rows


def count_stale(engine: Engine, vault: Vault) -> int:
    """How many sealed values are not under the active data key (work left to do)."""
    total = 0
    for col in encrypted_columns():
        for rows in _rows(engine, col, vault.tenant, 2000):
            for row in rows:
                blob = getattr(row, col.column.key)
                try:
                    total += vault.needs_rewrap(blob)
                except DecryptionError:
                    continue
    return total


def rewrap_all(
    engine: Engine,
    vault: Vault,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-seal every value that is not under the active key; safe to run while serving."""
    report = RotationReport()
    for col in encrypted_columns():
        table_name = col.model.__tablename__
        for rows in _rows(engine, col, vault.tenant, batch):
            updates = []
            for row in rows:
                blob = getattr(row, col.column.key)
                try:
                    if not vault.needs_rewrap(blob):
                        report.skipped += 1
                        continue
                    aad_row = col.aad_row(row)
                    plain = vault.open(table_name, col.aad_column, aad_row, blob)
                except DecryptionError:
                    report.unreadable += 1
                    continue
                new = vault.seal(table_name, col.aad_column, aad_row, plain)
                updates.append((row, blob, new))
            if updates:
                with engine.begin() as conn:
                    for row, old, new in updates:
                        cond = and_(
                            *(k == getattr(row, k.key) for k in col.keys), col.column == old
                        )
                        result = conn.execute(
                            update(col.model).where(cond).values({col.column.key: new})
                        )
                        if result.rowcount == 1:
                            report.rewrapped += 1
                        else:
                            report.skipped += 1
            if progress is not None:
                progress(len(rows))
    return report
