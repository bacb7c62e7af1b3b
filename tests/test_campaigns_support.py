"""Shared helpers for the campaigns and analytics tests (no tests here)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from aman.audit.service import AuditService
from aman.campaigns import CampaignContext
from aman.security.crypto import generate_master_key, load_master_key
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault

PNID = "106540352242922"
T0 = 1_767_232_800.0  # 2026-01-01 09:00 Asia/Jakarta (02:00 UTC)


@dataclass
class Clock:
    """A controllable clock: tests move time, nothing sleeps."""

    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


_TEMPLATE: list[Path] = []


def _migrated(db_url: str) -> None:
    """Migrate a SQLite database by copying one migrated once per test process (fast)."""
    target = Path(db_url.removeprefix("sqlite:///"))
    if not _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="aman-campaigns-")) / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()  # the last connection closing checkpoints the WAL into the file
        _TEMPLATE.append(path)
    if not target.exists():
        for suffix in ("", "-wal"):
            src = Path(f"{_TEMPLATE[0]}{suffix}")
            if src.exists():
                shutil.copyfile(src, f"{target}{suffix}")


@contextmanager
def campaign_ctx(db_url: str, clock: Clock | None = None) -> Iterator[CampaignContext]:
    engine = make_engine(db_url)
    try:
        if db_url.startswith("sqlite:///"):
            _migrated(db_url)
        else:
            upgrade(engine)
        master = load_master_key(os.environ.get("AMAN_TEST_MASTER") or generate_master_key())
        vault = Vault.open_or_create(engine, "default", master)
        yield CampaignContext(engine, vault, AuditService(master), clock or Clock())
    finally:
        engine.dispose()


def q(ctx: CampaignContext, sql: str, **params: Any) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def one(ctx: CampaignContext, sql: str, **params: Any) -> Any:
    with ctx.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def import_contacts(
    ctx: CampaignContext, tmp_path: Any, rows: list[str], header: str = "phone,name,tags,consent"
) -> None:
    """Create contacts through the CSV importer (fast, batched)."""
    from aman.campaigns import ContactImporter

    path = tmp_path / f"c{len(rows)}_{abs(hash(tuple(rows))) % 10**8}.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = ContactImporter(ctx).import_file("staff:test", path)
    assert not report.rejected, report.rejected


def numbers(n: int, start: int = 0, prefix: str = "0812") -> list[str]:
    return [f"{prefix}{i:08d}" for i in range(start, start + n)]


def outbox(ctx: CampaignContext) -> list[Any]:
    """(ref, state, contact_ix, decrypted body) of every outbox row, by id."""
    out = []
    for ref, state, ix, blob in q(
        ctx, "select ref, state, contact_ix, body_enc from outbox order by id"
    ):
        out.append((ref, state, ix, ctx.vault.open_json("outbox", "body", ref, bytes(blob))))
    return out


def send_all(ctx: CampaignContext, at: float, status: str = "sent") -> int:
    """Play the sender: every queued row is sent (and optionally delivered/read)."""
    rank = {"sent": 1, "delivered": 2, "read": 3}[status]
    with ctx.engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "update outbox set state = 'sent', sent_at = :t, delivery_status = :s, "
                    "status_rank = :r, attempts = attempts + 1 where state = 'todo'"
                ),
                {"t": at, "s": status, "r": rank},
            ).rowcount
        )
