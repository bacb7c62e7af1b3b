"""Command line for the guard: ``guard scan`` (JSON lines) and ``guard eval`` (metrics).

``register`` adds the ``guard`` command to an argparse sub-parser set; each leaf
command stores its handler as ``func`` (``args.func(args) -> int`` exit status).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from aman.guard.errors import CorpusError
from aman.guard.evaluate import SplitReport, evaluate, load_corpus
from aman.guard.scan import scan

__all__ = ["register", "run_eval", "run_scan"]

_SPLITS = ("dev", "test")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``guard scan`` and ``guard eval`` to ``sub``."""
    guard = sub.add_parser("guard", help="phishing and impersonation detection")
    commands = guard.add_subparsers(dest="guard_command", metavar="{scan,eval}")
    commands.required = True

    p_scan = commands.add_parser(
        "scan", help="one message or URL per stdin line -> one JSON verdict per stdout line"
    )
    p_scan.add_argument(
        "--domain", action="append", default=[], metavar="D",
        help="own domain (repeatable); links to it and its subdomains are trusted",
    )
    p_scan.set_defaults(func=_cmd_scan)

    p_eval = commands.add_parser("eval", help="precision/recall/FPR on a labelled corpus")
    p_eval.add_argument(
        "--corpus", type=Path, default=None, metavar="PATH",
        help="JSON Lines corpus (default: the corpus shipped with aman.guard)",
    )
    p_eval.add_argument("--json", action="store_true", help="print one JSON object")
    p_eval.add_argument(
        "--domain", action="append", default=[], metavar="D",
        help="extra own domain (repeatable), added to those in the corpus header",
    )
    p_eval.set_defaults(func=_cmd_eval)


def _cmd_scan(args: argparse.Namespace) -> int:
    return run_scan(args.domain, sys.stdin, sys.stdout)


def _cmd_eval(args: argparse.Namespace) -> int:
    return run_eval(args.corpus, args.domain, args.json, sys.stdout, sys.stderr)


def run_scan(domains: Sequence[str], stdin: TextIO, stdout: TextIO) -> int:
    """Scan each input line; write one JSON object per line and flush it."""
    own = tuple(domains)
    for line in stdin:
        text = line.rstrip("\r\n")
        verdict = scan(text, own)
        stdout.write(json.dumps(verdict.to_dict(), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def run_eval(
    corpus_path: Path | None,
    domains: Sequence[str],
    as_json: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Evaluate on dev, test and all; print a rich report or JSON.  Exit 2 on a bad corpus."""
    try:
        corpus = load_corpus(corpus_path)
    except CorpusError as exc:
        stderr.write(f"guard eval: {exc}\n")
        return 2
    own = tuple(dict.fromkeys((*corpus.own_domains, *domains)))
    reports = evaluate(corpus, own, _SPLITS)
    if as_json:
        payload = {
            "own_domains": list(own),
            "items": len(corpus.items),
            "splits": {name: rep.to_dict() for name, rep in reports.items()},
        }
        stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return 0
    _print_report(reports, own, len(corpus.items), stdout)
    return 0


def _print_report(
    reports: dict[str, SplitReport], own: Sequence[str], n_items: int, stdout: TextIO
) -> None:
    console = Console(file=stdout, width=160, highlight=False)
    console.print(f"guard eval: {n_items} items, own domains: {', '.join(own) or '-'}")
    summary = Table(title="Detector quality (flagged = verdict is not benign)")
    for col in ("split", "items", "precision", "recall", "FPR", "TP", "FP", "TN", "FN"):
        summary.add_column(col, justify="right" if col != "split" else "left")
    for name, rep in reports.items():
        total = rep.tp + rep.fp + rep.tn + rep.fn
        summary.add_row(
            name, str(total), f"{rep.precision:.3f}", f"{rep.recall:.3f}", f"{rep.fpr:.3f}",
            str(rep.tp), str(rep.fp), str(rep.tn), str(rep.fn),
        )
    console.print(summary)

    cats = Table(title="Per category: recall (malicious) / false-positive rate (benign)")
    cats.add_column("category")
    for name in reports:
        cats.add_column(f"{name} flagged/n", justify="right")
    all_cats = sorted({c for rep in reports.values() for c in rep.per_category})
    for cat in all_cats:
        cells = []
        for rep in reports.values():
            n, flagged = rep.per_category.get(cat, [0, 0])
            cells.append(f"{flagged}/{n}" if n else "-")
        cats.add_row(cat, *cells)
    console.print(cats)

    misses = Table(title="Misclassified items")
    for col in ("split", "label", "category", "verdict", "score", "reasons", "text"):
        misses.add_column(col)
    for miss in reports["all"].misses:
        misses.add_row(
            miss.item.split, miss.item.label, miss.item.category, miss.verdict,
            f"{miss.score:.2f}", ", ".join(miss.reasons) or "-", miss.item.text[:90],
        )
    if reports["all"].misses:
        console.print(misses)
    else:
        console.print("No misclassified items.")
