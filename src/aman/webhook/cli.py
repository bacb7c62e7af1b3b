"""``aman webhooks kept-aside`` and ``aman webhooks replay``: signed webhook bodies the
database refused for themselves, listed without their content and stored again."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _kept_aside(args: argparse.Namespace) -> int:
    import datetime as dt

    from sqlalchemy import select

    from aman.storage.models import WebhookEvent
    from aman.store import open_store
    from aman.webhook.ingest import UNSTORED

    store = open_store()
    vault, engine = store.vault, store.engine
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    WebhookEvent.id,
                    WebhookEvent.event_key,
                    WebhookEvent.payload_enc,
                    WebhookEvent.received_at,
                )
                .where(WebhookEvent.tenant == vault.tenant, WebhookEvent.field == UNSTORED)
                .order_by(WebhookEvent.id)
            ).all()
        for r in rows:
            payload = vault.open_json("webhook_events", "payload", r.event_key, r.payload_enc)
            when = dt.datetime.fromtimestamp(r.received_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            digest = r.event_key.removeprefix("unstored:")[:16]
            print(f"{r.id}\t{when} UTC\tsha256 {digest}\t{payload.get('reason', '')}")
        print(f"{len(rows)} webhook body(ies) kept aside")
    finally:
        engine.dispose()
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
