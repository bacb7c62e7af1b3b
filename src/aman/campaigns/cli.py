"""``aman contacts import|export|merge`` and ``aman campaigns scheduler|status``."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aman.campaigns.context import CampaignContext

__all__ = ["register"]

log = logging.getLogger(__name__)
SHOW_REJECTED = 30


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _context(args: argparse.Namespace) -> tuple[CampaignContext, float]:
    from aman.audit.service import AuditService
    from aman.campaigns.context import CampaignContext
    from aman.config import Settings
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade
    from aman.storage.vault import Vault, open_keystore

    settings = Settings.from_env()
    master = settings.master_key_bytes()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    tenant = args.tenant or settings.tenant
    witness = Path(settings.audit_witness) if settings.audit_witness else None
    ctx = CampaignContext(
        engine,
        Vault.open_or_create(engine, tenant, master, open_keystore(settings.keystore_url)),
        AuditService(master, witness=witness),
    )
    return ctx, settings.send_rate


def _guard(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from aman.campaigns.errors import CampaignError

        try:
            return int(func(args))
        except CampaignError as exc:
            print(f"aman: {exc}", file=sys.stderr)
            return 2
        except FileNotFoundError as exc:
            print(f"aman: no such file: {exc.filename}", file=sys.stderr)
            return 2

    return run


def _import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from aman.campaigns.importer import ContactImporter, count_data_lines

    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    ctx, _ = _context(args)
    console = Console(stderr=True)
    try:
        total = count_data_lines(path)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task(f"importing {path.name}", total=total)
            report = ContactImporter(ctx, batch=args.batch).import_file(
                args.actor,
                path,
                progress=lambda n: progress.update(task, completed=min(n, total)),
                tags=args.tag or (),
            )
            progress.update(task, completed=total)
    finally:
        ctx.engine.dispose()
    table = Table(title=f"import of {path.name}")
    table.add_column("rows")
    table.add_column("created")
    table.add_column("updated")
    table.add_column("duplicates")
    table.add_column("rejected")
    table.add_column("consent recorded")
    table.add_column("opt-out kept")
    table.add_row(
        *(
            str(x)
            for x in (
                report.rows,
                report.created,
                report.updated,
                len(report.duplicates),
                len(report.rejected),
                report.consent_recorded,
                report.consent_kept_opt_out,
            )
        )
    )
    console.print(table)
    issues = sorted([*report.rejected, *report.duplicates], key=lambda i: i.line)
    if issues:
        listing = Table(title="rows not imported (numbers masked)")
        listing.add_column("line", justify="right")
        listing.add_column("number")
        listing.add_column("reason")
        for issue in issues[:SHOW_REJECTED]:
            listing.add_row(str(issue.line), issue.value, issue.reason)
        console.print(listing)
        if len(issues) > SHOW_REJECTED:
            console.print(f"… and {len(issues) - SHOW_REJECTED} more (see --report)")
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    from aman.campaigns.contacts import ContactBook

    ctx, _ = _context(args)
    try:
        if args.out == "-":
            count = ContactBook(ctx).export_csv(args.actor, sys.stdout)
        else:
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                count = ContactBook(ctx).export_csv(args.actor, fh)
    finally:
        ctx.engine.dispose()
    print(f"exported {count} contacts (decrypted; the export is audited)", file=sys.stderr)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from aman.campaigns.contacts import ContactBook

    ctx, _ = _context(args)
    try:
        result = ContactBook(ctx).merge(args.actor, args.target, args.source)
    finally:
        ctx.engine.dispose()
    print(
        json.dumps(
            {
                "target": result.target_id,
                "source": result.source_id,
                "tags": result.tags,
                "fields": result.fields,
                "segments": result.memberships,
                "opted_out": result.opted_out,
            }
        )
    )
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from aman.campaigns.scheduler import run_due
    from aman.campaigns.template_events import process_template_events

    ctx, rate = _context(args)
    rate = args.send_rate or rate
    try:
        while True:
            started = time.monotonic()
            try:
                events = process_template_events(ctx.engine, ctx.vault, audit=ctx.audit)
                report = run_due(
                    ctx.engine,
                    ctx.vault,
                    time.time(),
                    audit=ctx.audit,
                    send_rate=rate,
                    lead_seconds=args.lead_seconds,
                )
            except Exception as exc:  # keep scheduling through DB outages
                log.warning("campaign scheduler: %s", type(exc).__name__)
                if args.once:
                    raise
            else:
                if report.queued or report.runs_started or events.total:
                    log.info(
                        "campaigns: %d run(s) started, %d queued, %d excluded, %d webhook event(s)",
                        report.runs_started,
                        report.queued,
                        report.excluded,
                        events.total,
                    )
            if args.once:
                return 0
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return 0
    finally:
        ctx.engine.dispose()


def _status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from aman.campaigns.broadcasts import CampaignService

    ctx, _ = _context(args)
    try:
        status = CampaignService(ctx).status(args.campaign)
    finally:
        ctx.engine.dispose()
    print(json.dumps(asdict(status), indent=2, default=str))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tenant", help="tenant (default: AMAN_TENANT or 'default')")
    common.add_argument("--actor", default=_default_actor(), help="who to record in the audit")

    p = sub.add_parser("contacts", help="import, export and merge customer contacts")
    csub = p.add_subparsers(dest="contacts_command", metavar="ACTION", required=True)
    imp = csub.add_parser("import", parents=[common], help="import contacts from a CSV file")
    imp.add_argument("file", help="CSV with a phone column (phone, wa_id, nomor, no_hp…)")
    imp.add_argument("--tag", action="append", help="tag every imported contact (repeatable)")
    imp.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    imp.add_argument("--report", help="write the full import report (JSON) here")
    imp.set_defaults(func=_guard(_import))
    exp = csub.add_parser("export", parents=[common], help="export all contacts as CSV")
    exp.add_argument("--out", required=True, help="file to write (0600), or - for stdout")
    exp.set_defaults(func=_guard(_export))
    mer = csub.add_parser("merge", parents=[common], help="fold one contact into another")
    mer.add_argument("target", type=int, help="contact id that stays")
    mer.add_argument("source", type=int, help="contact id merged into it and removed")
    mer.set_defaults(func=_guard(_merge))

    p = sub.add_parser("campaigns", help="broadcast campaigns")
    bsub = p.add_subparsers(dest="campaigns_command", metavar="ACTION", required=True)
    sch = bsub.add_parser(
        "scheduler",
        parents=[common],
        help="run the campaign scheduler (due schedules, broadcasts, template webhooks)",
    )
    sch.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    sch.add_argument(
        "--send-rate", type=float, default=0.0, help="the sender's rate (default AMAN_SEND_RATE)"
    )
    sch.add_argument(
        "--lead-seconds",
        type=float,
        default=10.0,
        help="how far ahead of the sender to queue messages",
    )
    sch.add_argument("--once", action="store_true", help="one tick, then exit")
    sch.set_defaults(func=_guard(_scheduler))
    st = bsub.add_parser("status", parents=[common], help="a campaign's runs and statuses")
    st.add_argument("campaign", type=int)
    st.set_defaults(func=_guard(_status))
