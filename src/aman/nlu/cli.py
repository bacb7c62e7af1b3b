"""The ``aman nlu`` command group: predict (JSON lines), eval (rich tables or JSON), calibrate.

Wire into the main CLI with ``register(subparsers)``; every sub-command stores its
handler as ``args.func`` (``func(args) -> int`` exit code). ``--bot`` takes a
packaged bot name (``bank``, ``shop``) or a folder containing nlu.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from aman.nlu.errors import NluError

if TYPE_CHECKING:  # heavy modules are imported lazily so that `register` stays cheap
    from aman.nlu.evaluate import EvalReport
    from aman.nlu.model import NluModel

Handler = Callable[[argparse.Namespace], int]

__all__ = ["main", "register", "run_predict"]


def _load(spec: str) -> NluModel:
    from aman.nlu.data import resolve_bot_dir
    from aman.nlu.model import load_bot_nlu

    return load_bot_nlu(resolve_bot_dir(spec))


def run_predict(model: NluModel, stdin: TextIO, stdout: TextIO) -> int:
    """One JSON object per non-empty input line: {"text", "intent", "confidence"}."""
    for line in stdin:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        pred = model.predict(text)
        row = {"text": text, "intent": pred.intent, "confidence": round(pred.confidence, 4)}
        stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    return run_predict(_load(args.bot), sys.stdin, sys.stdout)


def _cmd_eval(args: argparse.Namespace) -> int:
    from aman.nlu.data import read_test_set
    from aman.nlu.evaluate import evaluate

    model = _load(args.bot)
    utterances = read_test_set(Path(args.file), model.data.intents)
    report = evaluate(
        model.predict, utterances, intents=model.intents, bot=model.name, threshold=model.threshold
    )
    if args.json:
        payload = report.to_dict()
        payload["load"] = {"source": model.source, "seconds": round(model.load_seconds, 4)}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return 0
    _print_eval(report, sys.stdout)
    return 0


def _print_eval(report: EvalReport, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=160, highlight=False)

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    console.print(
        f"bot [bold]{report.bot}[/bold]  threshold {report.threshold:.2f}  sentences {report.total}"
    )
    console.print(
        f"accuracy {pct(report.accuracy)}  in-domain accuracy {pct(report.in_domain_accuracy)} "
        f"({report.in_domain_total})  out-of-domain -> fallback {pct(report.ood_fallback_rate)} "
        f"({report.out_of_domain_total})  latency {report.mean_latency_ms:.3f} ms/utterance"
    )
    scores = Table(title="per intent")
    for column in ("intent", "precision", "recall", "F1", "support"):
        scores.add_column(column, justify="left" if column == "intent" else "right")
    for s in report.per_intent:
        scores.add_row(
            s.intent, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support)
        )
    console.print(scores)
    matrix = Table(title="confusion matrix (rows: expected, columns: predicted)")
    matrix.add_column("expected")
    for i in range(len(report.labels)):
        matrix.add_column(str(i + 1), justify="right")
    for i, (label, row) in enumerate(zip(report.labels, report.confusion, strict=True)):
        matrix.add_row(f"{i + 1} {label}", *(str(n) if n else "." for n in row))
    console.print(matrix)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from aman.nlu.calibrate import calibrate_threshold, write_threshold
    from aman.nlu.data import read_bot_nlu, resolve_bot_dir

    bot_dir = resolve_bot_dir(args.bot)
    data = read_bot_nlu(bot_dir)
    report = calibrate_threshold(
        data, folds=args.folds, repeats=args.repeats, ood_target=args.ood_target
    )
    if args.write:
        write_threshold(bot_dir, report.threshold)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict()) + "\n")
    else:
        ood = (
            "n/a"
            if report.cv_ood_fallback_rate is None
            else f"{100 * report.cv_ood_fallback_rate:.1f}%"
        )
        sys.stdout.write(
            f"{report.bot}: threshold {report.threshold:.2f} (current {data.threshold:.2f}); "
            f"{report.folds}-fold x{report.repeats}: top-1 {100 * report.cv_top1_accuracy:.1f}%, "
            f"in-domain {100 * report.cv_in_domain_accuracy:.1f}%, out-of-scope -> fallback {ood}"
            f"{'; written to nlu.yaml' if args.write else ''}\n"
        )
    return 0


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except NluError as exc:
            sys.stderr.write(f"aman nlu: error: {exc}\n")
            return 2

    return run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``nlu`` command group (predict, eval, calibrate) to ``sub``."""
    nlu = sub.add_parser("nlu", help="intent classification and entity tools")
    commands = nlu.add_subparsers(dest="nlu_command", metavar="COMMAND", required=True)
    bot_help = "packaged bot name (bank, shop) or a folder containing nlu.yaml"

    predict = commands.add_parser("predict", help="classify stdin lines; one JSON object per line")
    predict.add_argument("--bot", required=True, help=bot_help)
    predict.set_defaults(func=_guarded(_cmd_predict))

    ev = commands.add_parser("eval", help="score the bot on a labelled JSONL test set")
    ev.add_argument("file", metavar="FILE.jsonl", help='lines like {"text": ..., "intent": ...}')
    ev.add_argument("--bot", required=True, help=bot_help)
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.set_defaults(func=_guarded(_cmd_eval))

    cal = commands.add_parser("calibrate", help="choose the fallback threshold by cross-validation")
    cal.add_argument("--bot", required=True, help=bot_help)
    cal.add_argument("--folds", type=int, default=5)
    cal.add_argument("--repeats", type=int, default=3)
    cal.add_argument(
        "--ood-target", type=float, default=0.8, help="wanted out-of-scope -> fallback rate"
    )
    cal.add_argument("--write", action="store_true", help="store the threshold in nlu.yaml")
    cal.add_argument("--json", action="store_true", help="machine-readable output")
    cal.set_defaults(func=_guarded(_cmd_calibrate))


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m aman.nlu.cli nlu predict --bot bank``."""
    parser = argparse.ArgumentParser(prog="aman")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
