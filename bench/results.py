"""bench/RESULTS.md is shared by four tools: each one rewrites only its own marked section.

A section sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``.
``write_section`` replaces the text between a tool's markers and keeps the
rest of the file byte for byte; a section not in the file yet goes before the
first section that comes after it in ``ORDER`` (else at the end).
``RunInfo`` records what every section states first: the exact command, the
date, the git revision and the load average at start and end.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ORDER",
    "RESULTS",
    "RunInfo",
    "code_version",
    "command_line",
    "load_average",
    "write_section",
]

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
ORDER = ("run", "scaleout", "broadcast", "soak")
TITLE = (
    "# aman benchmark results\n\n"
    "Each tool in `bench/` rewrites only its own section of this file (between its "
    "`<!-- bench:NAME -->` markers); raw JSON and logs go to `bench/out/` (git-ignored).\n"
)


def _markers(name: str) -> tuple[str, str]:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"bad section name {name!r}")
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def write_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the markers of section ``name`` in ``path``, keeping the rest."""
    start, end = _markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    at, stop = text.find(start), text.find(end)
    if at >= 0 and stop > at:
        text = text[:at] + block + text[stop + len(end) :]
    else:
        if at >= 0 or stop >= 0:
            raise ValueError(f"{path}: unbalanced markers for section {name!r}")
        later = ORDER[ORDER.index(name) + 1 :] if name in ORDER else ()
        found = [text.find(_markers(n)[0]) for n in later]
        where = min((i for i in found if i >= 0), default=-1)
        if where >= 0:
            text = text[:where] + block + "\n\n" + text[where:]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def code_version() -> str:
    """``git <short sha>``, plus a note when src/ has uncommitted changes."""
    root = BENCH_DIR.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=root, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, cwd=root, timeout=10,
                               check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    sha = head.stdout.strip() or "unknown"
    return f"git {sha}" + (" + uncommitted changes in src/" if dirty.stdout.strip() else "")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages right now."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def command_line(prog: str, argv: Sequence[str] | None) -> str:
    """The command as typed: ``sys.orig_argv`` when ``argv`` is None, else ``prog argv``."""
    if argv is None:
        return shlex.join(["python", *sys.orig_argv[1:]])
    return shlex.join([*shlex.split(prog), *argv])


@dataclass
class RunInfo:
    """Provenance of one tool run; ``finish()`` stamps the end."""

    command: str
    date_utc: str
    code: str
    load_start: str
    load_end: str = ""
    elapsed_s: float = 0.0
    _t0: float = 0.0

    @classmethod
    def start(cls, prog: str, argv: Sequence[str] | None) -> RunInfo:
        return cls(
            command=command_line(prog, argv),
            date_utc=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            code=code_version(),
            load_start=load_average(),
            _t0=time.monotonic(),
        )

    def finish(self) -> None:
        self.load_end = load_average()
        self.elapsed_s = time.monotonic() - self._t0

    def lines(self) -> list[str]:
        """Markdown bullets: command, date and revision, load average."""
        took = f" ({self.elapsed_s:,.0f} s)" if self.elapsed_s else ""
        return [
            f"- Command: `{self.command}`{took}",
            f"- Date: {self.date_utc}; code: {self.code}",
            f"- Load average (1/5/15 min) at start / end: {self.load_start} / "
            f"{self.load_end or '?'} on {os.cpu_count()} cores (other work on the machine "
            "takes CPU from the processes measured)",
        ]
