"""``aman report analytics --from D --to D --format json|csv|html``."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["register", "report_group"]


def report_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The ``aman report`` sub-command group, shared by every package that adds a report."""
    parser = sub.choices.get("report")
    if parser is None:
        parser = sub.add_parser("report", help="analytics and security reports")
        group = parser.add_subparsers(dest="report_command", metavar="REPORT", required=True)
        return group
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="report_command", metavar="REPORT", required=True)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _classifier(bot: str) -> tuple[Any, str | None]:
    """The bot's NLU as a classifier, or None and why not."""
    from aman.nlu import NluError, load_bot_nlu, resolve_bot_dir

    try:
        model = load_bot_nlu(resolve_bot_dir(bot))
    except (NluError, OSError) as exc:
        return None, f"no NLU for bot {bot!r}: {type(exc).__name__}"

    def classify(_pnid: str, text: str) -> str:
        return str(model.predict(text).intent)

    return classify, None


def _analytics(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from aman.analytics.render import render_csv, render_html, render_json
    from aman.analytics.service import analytics_report
    from aman.config import Settings
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade
    from aman.storage.vault import Vault, open_keystore

    try:
        zone = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"aman report: unknown time zone {args.tz!r}", file=sys.stderr)
        return 2
    today = datetime.now(zone).date()
    last = args.to or today
    first = args.from_ or last - timedelta(days=6)
    if last < first:
        print("aman report: --to is before --from", file=sys.stderr)
        return 2
    start = datetime.combine(first, datetime.min.time(), zone).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).timestamp()
    settings = Settings.from_env()
    classify = None
    if not args.no_intents:
        classify, why = _classifier(args.bot or settings.bot)
        if why:
            print(f"aman report: intents left out ({why})", file=sys.stderr)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        vault = Vault.open_or_create(
            engine,
            args.tenant or settings.tenant,
            settings.master_key_bytes(),
            open_keystore(settings.keystore_url),
        )
        report = analytics_report(
            engine, vault, start, end, tz=args.tz, phone_number_id=args.number, classify=classify
        )
    finally:
        engine.dispose()
    render = {"json": render_json, "csv": render_csv, "html": render_html}[args.format]
    text = render(report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = report_group(sub)
    p = group.add_parser("analytics", help="conversation, bot, intent, flow and campaign figures")
    p.add_argument(
        "--from", dest="from_", type=_day, help="first day (default: 6 days before --to)"
    )
    p.add_argument("--to", type=_day, help="last day, inclusive (default: today)")
    p.add_argument("--format", choices=["json", "csv", "html"], default="json")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.add_argument("--tz", default="Asia/Jakarta", help="time zone for days and hours")
    p.add_argument("--tenant", help="tenant (default: AMAN_TENANT or 'default')")
    p.add_argument("--number", help="only this business phone_number_id")
    p.add_argument("--bot", help="bot whose NLU classifies intents (default: AMAN_BOT)")
    p.add_argument("--no-intents", action="store_true", help="skip the intent figures")
    p.set_defaults(func=_analytics)
