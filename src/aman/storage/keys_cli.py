"""``aman keys rotate`` and ``aman keys status``: data-key rotation with re-encryption."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from aman.audit.service import AuditService
    from aman.storage.vault import Vault

__all__ = ["register"]


def _open() -> tuple[Vault, Engine, AuditService]:
    from aman.store import open_store

    store = open_store()
    return store.vault, store.engine, store.audit


def _rotate(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from aman.storage.rotation import count_stale, rewrap_all

    vault, engine, audit = _open()
    try:
        if args.resume:
            key_id = vault.keyring.active_key_id
            print(f"resuming re-encryption under the active key {key_id}")
        else:
            old = vault.keyring.active_key_id
            key_id = vault.rotate(engine)
            audit.record(
                engine,
                tenant=vault.tenant,
                actor="cli:keys",
                action="key_rotated",
                target=f"data_key:{key_id}",
                details={"previous": old},
            )
            print(f"new active data key {key_id} (previous {old} stays readable)")
        total = count_stale(engine, vault)
        with Progress(transient=not args.verbose) as progress:
            task = progress.add_task("re-encrypting", total=max(total, 1))

            def step(n: int) -> None:
                progress.advance(task, n)

            report = rewrap_all(engine, vault, batch=args.batch, progress=step)
            progress.update(task, completed=max(total, 1))
        print(
            f"re-encrypted {report.rewrapped} values; {report.skipped} already current; "
            f"{report.unreadable} unreadable (erased)"
        )
        left = count_stale(engine, vault)
        if left:
            print(f"{left} values still under older keys: run `aman keys rotate --resume`")
            return 1
        return 0
    finally:
        engine.dispose()


def _status(args: argparse.Namespace) -> int:
    from aman.storage.rotation import count_stale

    vault, engine, _ = _open()
    try:
        print(f"active data key: {vault.keyring.active_key_id}")
        print(f"data keys: {len(vault.keyring.key_ids)}")
        print(f"values under older keys: {count_stale(engine, vault)}")
    finally:
        engine.dispose()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys", help="data-encryption keys")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    r = ksub.add_parser("rotate", help="new data key; re-encrypt stored data (online)")
    r.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted re-encryption without creating another key",
    )
    r.add_argument("--batch", type=int, default=500, help="rows per transaction")
    r.add_argument("-v", "--verbose", action="store_true", help="keep the progress bar")
    r.set_defaults(func=_rotate)
    s = ksub.add_parser("status", help="active key and how much data is under older keys")
    s.set_defaults(func=_status)
