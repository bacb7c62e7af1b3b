"""``aman privacy export|erase|requests|retention``: customers' data rights from the shell."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from aman.config import Settings
    from aman.privacy.rights import DataRights

__all__ = ["register"]


def _open() -> tuple[DataRights, Engine, Settings]:
    from aman.privacy.rights import DataRights
    from aman.store import open_store

    store = open_store()
    rights = DataRights(
        store.engine, store.vault, store.audit, erasure_grace=store.settings.erasure_grace
    )
    return rights, store.engine, store.settings


def _contact(rights: DataRights, args: argparse.Namespace) -> str:
    if args.phone:
        return rights.contact_ix_of(wa_id=args.phone)
    return rights.contact_ix_of(contact_id=args.id)


def _export(args: argparse.Namespace) -> int:
    import orjson

    from aman.privacy.rights import PrivacyError

    rights, engine, _ = _open()
    try:
        data = rights.export(args.actor, _contact(rights, args))
    except PrivacyError as exc:
        print(f"aman privacy export: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    blob = orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    if args.output == "-":
        sys.stdout.buffer.write(blob)
    else:
        with open(args.output, "xb") as fh:  # never overwrite an earlier export
            fh.write(blob)
        print(f"wrote {args.output} (decrypted personal data: hand over securely)", file=sys.stderr)
    return 0


def _erase(args: argparse.Namespace) -> int:
    from aman.privacy.rights import PrivacyError

    if not args.yes:
        print("aman privacy erase: irreversible; add --yes to confirm", file=sys.stderr)
        return 2
    rights, engine, _ = _open()
    try:
        report = rights.erase(args.actor, _contact(rights, args), reason="staff")
    except PrivacyError as exc:
        print(f"aman privacy erase: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"erased: {report.keys_destroyed} key(s) destroyed, {report.messages} message(s), "
        f"{report.replies} repl(ies), {report.contact} contact row(s)"
    )
    return 0


def _requests(args: argparse.Namespace) -> int:
    import time

    rights, engine, _ = _open()
    try:
        rows = rights.pending()
    finally:
        engine.dispose()
    if not rows:
        print("no pending data-rights requests")
    for r in rows:
        hours = (r["due_at"] - time.time()) / 3600
        due = f"OVERDUE by {-hours:.1f} h" if r["overdue"] else f"due in {hours:.1f} h"
        print(f"#{r['id']}  {r['kind']:<8} {r['contact']}  from {r['source']}  {due}")
    return 0


def _retention(args: argparse.Namespace) -> int:
    import time

    from aman.privacy.policy import RetentionPolicy
    from aman.privacy.retention import purge

    rights, engine, settings = _open()
    try:
        report = purge(
            engine,
            settings.tenant,
            RetentionPolicy.parse(settings.retention),
            time.time(),
            rights=rights,
            audit=rights.audit,
        )
    finally:
        engine.dispose()
    print(f"purged {report.total} row(s): {report.counts or 'nothing was due'}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("privacy", help="customers' data rights: export, erase, requests")
    psub = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)
    who = argparse.ArgumentParser(add_help=False)
    g = who.add_mutually_exclusive_group(required=True)
    g.add_argument("--phone", help="the customer's WhatsApp number")
    g.add_argument("--id", type=int, help="the contact id (as in the API)")
    who.add_argument("--actor", default="cli:privacy", help="who acts (for the audit ledger)")
    e = psub.add_parser("export", parents=[who], help="one customer's data as JSON (audited)")
    e.add_argument("-o", "--output", default="-", help="file to create (default: stdout)")
    e.set_defaults(func=_export)
    x = psub.add_parser("erase", parents=[who], help="erase one customer now (audited)")
    x.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    x.set_defaults(func=_erase)
    r = psub.add_parser("requests", help="pending export/erasure requests and their due times")
    r.set_defaults(func=_requests)
    t = psub.add_parser("retention", help="purge what is older than AMAN_RETENTION allows")
    t.set_defaults(func=_retention)
