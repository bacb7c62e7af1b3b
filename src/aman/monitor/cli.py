"""``aman report security --format json|html``: the security self-assessment on the command line.

Reads the same environment as ``aman serve`` and the database read-only (it does
not migrate).  Exit 0 when the report was written; with ``--strict``, exit 1 when
any check failed (for CI).  Another domain may already own the ``report`` group
(``aman report analytics``): this command joins it instead of replacing it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def _report_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The subcommands of ``aman report``, creating the group when nobody has yet."""
    parser = sub.choices.get("report")
    if parser is None:
        parser = sub.add_parser("report", help="reports: security self-assessment, analytics")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="report_command", metavar="REPORT", required=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reports = _report_group(sub)
    p = reports.add_parser(
        "security",
        help="security self-assessment (ASVS 5.0-derived checklist, 2FA, keys, audit, alerts)",
    )
    p.add_argument("--format", choices=["json", "html"], default="json")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--strict", action="store_true", help="exit 1 when any check fails")
    p.set_defaults(func=_security)


def _security(args: argparse.Namespace) -> int:
    from sqlalchemy import Engine

    from aman.config import Settings
    from aman.monitor.assessment import assess
    from aman.monitor.render import render_html, render_json
    from aman.storage.db import make_engine, normalize_url

    settings = Settings.from_env()
    engine: Engine | None = None
    unavailable = None
    try:
        url = normalize_url(settings.database_url)
        path = url.database or ""
        if (
            url.drivername.startswith("sqlite")
            and path not in ("", ":memory:")
            and not (Path(path).exists())
        ):
            unavailable = f"database file {path} does not exist (run `aman db upgrade`)"
        else:
            engine = make_engine(settings.database_url)
    except ValueError as exc:
        unavailable = str(exc)
    try:
        report = assess(settings, engine, unavailable=unavailable)
    finally:
        if engine is not None:
            engine.dispose()
    text = render_html(report) if args.format == "html" else render_json(report)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    failed = int(report["summary"]["fail"])
    if failed:
        print(f"aman report security: {failed} check(s) failed", file=sys.stderr)
    return 1 if args.strict and failed else 0
