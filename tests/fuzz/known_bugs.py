"""Webhook inputs that currently break aman, in one place, for the tests and fuzz targets.

None right now.  The five found by the hostile-input sweep (a 'from' that is not a
phone number, error codes beyond 32 bits, NUL in identifiers on PostgreSQL, bodies
nested deeper than can be stored, wamids over 256 characters) are fixed in ingest and
covered by ``tests/test_hostile_fields.py``.  When a fuzzer finds a new one, add a
predicate here (so the sweeps keep hunting for other faults) and a strict xfail test.
"""

from __future__ import annotations

from typing import Any

__all__ = ["body_hits_known_bug", "field_hits_known_bug"]

Path_ = tuple[str | int, ...]


def field_hits_known_bug(body: str, path: Path_, value: Any, dialect: str) -> str | None:
    """The known bug (if any) hit by putting ``value`` at ``path`` of sample body ``body``."""
    return None


def body_hits_known_bug(body: Any, dialect: str = "sqlite") -> str | None:
    """The known bug (if any) a whole decoded webhook body runs into."""
    return None
