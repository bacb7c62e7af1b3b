"""Command line for flows: ``aman flows check PATH`` validates a bot folder.

Exit status 0 with a summary when the bot is valid; 1 with one line per problem
(``file:line [flow.step]: code: message``) when it is not; 2 when PATH is unusable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from aman.engine.flows.errors import FlowLoadError
from aman.engine.flows.loader import BOT_FILE, builtin_bot_dir, inspect_bot

__all__ = ["register", "run_check"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``flows check`` to ``sub``."""
    flows = sub.add_parser("flows", help="conversation flows (YAML bots)")
    commands = flows.add_subparsers(dest="flows_command", metavar="{check}")
    commands.required = True
    check = commands.add_parser(
        "check", help="validate a bot folder (bot.yaml, flows/*.yaml, nlu.yaml)"
    )
    check.add_argument("path", help="the bot folder, or 'bank' / 'shop' for the built-in ones")
    check.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    return run_check(args.path, sys.stdout, sys.stderr)


def run_check(spec: str, out: TextIO, err: TextIO) -> int:
    """Validate the bot at ``spec`` and print the outcome; returns the exit status."""
    path = Path(spec).expanduser()
    if not (path / BOT_FILE).is_file() and spec in ("bank", "shop"):
        path = builtin_bot_dir(spec)
    if not path.is_dir():
        print(f"aman flows check: {spec}: not a folder", file=err)
        return 2
    try:
        bot, problems = inspect_bot(path)
    except FlowLoadError as exc:
        bot, problems = None, list(exc.problems)
    if problems or bot is None:
        for problem in problems:
            print(str(problem), file=out)
        count = len(problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}", file=err)
        return 1
    steps = sum(len(f.steps) for f in bot.flows.values())
    print(
        f"{path}: OK: bot {bot.config.name!r}, {len(bot.flows)} flows, {steps} steps, "
        f"{len(bot.triggers)} triggers, languages {', '.join(bot.config.languages)}",
        file=out,
    )
    return 0
