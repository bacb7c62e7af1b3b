"""``aman audit verify`` and ``aman audit head``: check and publish the ledger."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from aman.audit.service import AuditService

__all__ = ["register"]


def _service(args: argparse.Namespace) -> tuple[AuditService, Engine]:
    from aman.audit.service import AuditService
    from aman.config import Settings
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade

    settings = Settings.from_env()
    witness = args.witness or settings.audit_witness
    service = AuditService(settings.master_key_bytes(), witness=Path(witness) if witness else None)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return service, engine


def _verify(args: argparse.Namespace) -> int:
    from aman.security.ledger import LedgerError

    service, engine = _service(args)
    try:
        witnessed = service.read_witness()
        report = service.verify(engine, witnessed=witnessed)
    except LedgerError as exc:
        print(f"audit ledger: ERROR {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "entries": report.entries,
                    "heads": report.heads,
                    "first_bad_seq": report.first_bad_seq,
                    "problem": report.problem,
                    "witnessed": witnessed is not None,
                }
            )
        )
    elif report.ok:
        extra = " and matches the witnessed head" if witnessed is not None else ""
        print(f"audit ledger intact: {report.entries} entries, {report.heads} signed heads{extra}")
    else:
        where = f"entry {report.first_bad_seq}" if report.first_bad_seq is not None else "ledger"
        print(f"audit ledger TAMPERED at {where}: {report.problem}", file=sys.stderr)
    return 0 if report.ok else 1


def _head(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from aman.audit.service import head_to_json
    from aman.audit.store import SqlLedgerStore

    service, engine = _service(args)
    with engine.connect() as conn:
        head = SqlLedgerStore(conn).latest_head()
    engine.dispose()
    public = service.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    print(
        json.dumps(
            {
                "head": head_to_json(head) if head else None,
                "key_id": service.key_id,
                "public_key": public.hex(),
            },
            indent=2,
        )
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="the tamper-evident audit ledger")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="check every entry against the signed tree heads")
    v.add_argument("--witness", help="a head exported earlier (default: AMAN_AUDIT_WITNESS)")
    v.add_argument("--json", action="store_true", help="machine-readable result")
    v.set_defaults(func=_verify)
    h = asub.add_parser("head", help="print the latest signed tree head and the public key")
    h.add_argument("--witness", help=argparse.SUPPRESS)
    h.set_defaults(func=_head)
