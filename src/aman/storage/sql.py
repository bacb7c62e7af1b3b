"""Dialect helpers shared by the repositories (one definition of each idiom)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "int32", "upsert"]


def insert_ignore(dialect: str, model: Any, conflict: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (conflict) DO NOTHING for either dialect."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return ins(model).on_conflict_do_nothing(index_elements=list(conflict))


def upsert(dialect: str, model: Any, conflict: Sequence[str], update: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (conflict) DO UPDATE SET each ``update`` column to the new value."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = ins(model)
    return stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update}
    )


def int32(value: object) -> int | None:
    """``value`` if it is an int an INTEGER column holds (32 bits), else None."""
    if isinstance(value, int) and -(2**31) <= value < 2**31:
        return value
    return None
