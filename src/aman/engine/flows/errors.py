"""Exception hierarchy of aman.engine.flows: one root (FlowError) and the problem record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FlowError", "FlowLoadError", "FlowRuntimeError", "Problem"]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One mistake in a bot folder: where it is (file, line, step) and what is wrong."""

    file: str
    line: int
    step: str
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        step = f" [{self.step}]" if self.step else ""
        return f"{where}{step}: {self.code}: {self.message}"


class FlowError(Exception):
    """Root of every error raised by aman.engine.flows."""


class FlowLoadError(FlowError):
    """A bot folder is invalid; ``problems`` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(problems))
        first = str(self.problems[0]) if self.problems else "invalid bot"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}")


class FlowRuntimeError(FlowError):
    """A flow could not run (step budget exceeded, bad handler result, bad state)."""
