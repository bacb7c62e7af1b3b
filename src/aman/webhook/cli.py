"""``aman webhooks kept-aside`` and ``aman webhooks replay``: signed webhook bodies the
database refused for themselves, listed without their content and stored again."""

from __future__ import annotations

import argparse
import hashlib

__all__ = ["register"]


def _kept_aside(args: argparse.Namespace) -> int:
    import datetime as dt

    from aman.store import open_store
    from aman.webhook.ingest import Ingestor

    store = open_store()
    try:
        ingestor = Ingestor(store.engine, store.vault, dialect=store.engine.dialect.name)
        kept = ingestor.kept_aside(store.engine)
        for row_id, received_at, payload in kept:
            when = dt.datetime.fromtimestamp(received_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            digest = hashlib.sha256(str(payload["body"]).encode()).hexdigest()[:16]
            print(f"{row_id}\t{when} UTC\tsha256 {digest}\t{payload.get('reason', '')}")
        print(f"{len(kept)} webhook body(ies) kept aside")
    finally:
        store.engine.dispose()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from aman.store import open_store
    from aman.webhook.ingest import Ingestor

    store = open_store()
    try:
        ingestor = Ingestor(store.engine, store.vault, dialect=store.engine.dialect.name)
        report = ingestor.replay_unstored(store.engine)
        if report.stored:
            store.audit.record(
                store.engine,
                tenant=store.vault.tenant,
                actor="cli:webhooks",
                action="webhooks_replayed",
                target="webhook_events:kept_aside",
                details={"stored": report.stored, "refused": sum(report.refused.values())},
            )
        refused = ", ".join(f"{n} {why}" for why, n in sorted(report.refused.items()))
        print(f"stored {report.stored}; still kept aside: {refused or 'none'}")
        return 1 if report.refused else 0
    finally:
        store.engine.dispose()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("webhooks", help="webhook bodies the database refused (kept aside)")
    wsub = p.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    k = wsub.add_parser("kept-aside", help="list them: id, time, body digest, reason")
    k.set_defaults(func=_kept_aside)
    r = wsub.add_parser("replay", help="store them now (after the cause was fixed)")
    r.set_defaults(func=_replay)
