"""The ``aman`` command line: serve, demo, chat, db, and the domain command groups."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aman import __version__
from aman.config import ConfigError, Settings

__all__ = ["build_parser", "main"]


def _serve(args: argparse.Namespace) -> int:
    from aman.server import serve

    settings = Settings.from_env()
    try:
        settings.require_secrets()
    except ConfigError as exc:
        print(f"aman serve: {exc}", file=sys.stderr)
        return 2
    return serve(settings, host=args.host, port=args.port, role=args.role)


def _db_upgrade(args: argparse.Namespace) -> int:
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print("database is at the latest schema")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from aman.demo import run_demo

    return run_demo(host=args.host, port=args.port, data_dir=args.data_dir)


def _chat(args: argparse.Namespace) -> int:
    from aman.demo import run_chat

    return run_chat(bot=args.bot, wa_id=args.as_number, name=args.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aman", description="aman: secure WhatsApp Business chatbot platform"
    )
    parser.add_argument("--version", action="version", version=f"aman {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("serve", help="webhook receiver, API and background workers")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--role",
        default="all",
        choices=["all", "web", "worker", "sender", "scheduler"],
        help="which part this process runs (scale-out on PostgreSQL)",
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser("demo", help="everything against the embedded Cloud API simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--data-dir", default=".aman/demo", help="where the demo keeps its files")
    p.set_defaults(func=_demo)

    p = sub.add_parser("chat", help="talk to a bot in the terminal through the full pipeline")
    p.add_argument("--bot", default="shop", help="bank, shop or echo")
    p.add_argument(
        "--as", dest="as_number", default="+6281234567890", help="the customer's phone number"
    )
    p.add_argument("--name", default="Budi", help="the customer's profile name")
    p.set_defaults(func=_chat)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations up to the latest schema")
    up.set_defaults(func=_db_upgrade)

    for module in (
        "aman.engine.flows.cli",
        "aman.nlu.cli",
        "aman.guard.cli",
        "aman.audit.cli",
        "aman.storage.keys_cli",
        "aman.accounts.cli",
        "aman.campaigns.cli",
        "aman.monitor.cli",
        "aman.analytics.cli",
        "aman.privacy.cli",
        "aman.webhook.cli",
    ):
        _register(sub, module)
    return parser


def _register(sub: argparse._SubParsersAction[argparse.ArgumentParser], module: str) -> None:
    """Let a domain package add its command group (imports stay lazy inside it)."""
    import importlib

    mod = importlib.import_module(module)
    mod.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"aman: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
