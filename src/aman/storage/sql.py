"""Dialect helpers shared by the repositories (one definition of each idiom)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["DriverSQL", "insert_ignore", "int32", "upsert"]

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
_LIST = re.compile(r"\{(\w+)\}")


class DriverSQL:
    """A fixed statement run on the driver's cursor, past SQLAlchemy's execution layer.

    For the hot path only (the inbox worker's claim and lookups, the sender's
    claim, ingest): ``Connection.execute`` costs 50-250 µs of CPU per statement
    on this machine (cache key, parameter processing, result metadata), the
    driver's own execute about 5 µs, and at low rates every message pays for a
    dozen statements alone.  The statement runs in ``conn``'s open transaction.
    SQL uses ``:name`` parameters (rewritten for psycopg when run on PostgreSQL)
    and ``{name}`` for a list parameter, expanded to one placeholder per value
    (``IN ({ixs})``); each rendering is made once and kept.  Values must be plain
    driver types (str, int, float, bytes, bool, None), and rows come back as tuples.
    """

    def __init__(self, sql: str) -> None:
        self._sql = " ".join(sql.split())
        self._lists = _LIST.findall(self._sql)
        self._rendered: dict[tuple[bool, tuple[int, ...]], str] = {}

    def _render(self, pg: bool, sizes: tuple[int, ...]) -> str:
        sql = self._sql
        for name, size in zip(self._lists, sizes, strict=True):
            marks = ", ".join(f":{name}_{i}" for i in range(size)) or "NULL"
            sql = sql.replace("{" + name + "}", marks)
        return _NAMED.sub(r"%(\1)s", sql) if pg else sql

    def _bind(self, conn: Connection, params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        flat = params
        sizes: tuple[int, ...] = ()
        if self._lists:
            flat = dict(params)
            for name in self._lists:
                values = flat.pop(name)
                sizes += (len(values),)
                flat.update({f"{name}_{i}": v for i, v in enumerate(values)})
        key = (conn.dialect.name == "postgresql", sizes)
        sql = self._rendered.get(key)
        if sql is None:
            sql = self._rendered[key] = self._render(*key)
        return sql, flat

    def _execute(self, conn: Connection, params: Mapping[str, Any], fetch: bool) -> Any:
        sql, flat = self._bind(conn, params)
        cur = _cursor(conn)
        try:
            cur.execute(sql, flat)
            return list(cur.fetchall()) if fetch else int(cur.rowcount)
        except conn.dialect.loaded_dbapi.Error as e:
            raise _wrapped(conn, e, sql, flat, cur) from e
        finally:
            cur.close()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it and fetch every row."""
        rows: list[tuple[Any, ...]] = self._execute(conn, params, fetch=True)
        return rows

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run it; the number of rows it changed."""
        count: int = self._execute(conn, params, fetch=False)
        return count

    def many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> int:
        """Run it once per parameter set (no list parameters); the rows changed in all,
        as the driver counts them (-1 when it cannot tell)."""
        if not params:
            return 0
        sql, _ = self._bind(conn, {})
        cur = _cursor(conn)
        try:
            cur.executemany(sql, params)
            count = cur.rowcount
        except conn.dialect.loaded_dbapi.Error as e:
            raise _wrapped(conn, e, sql, params, cur) from e
        finally:
            cur.close()
        return int(count) if isinstance(count, int) else -1


def _cursor(conn: Connection) -> Any:
    """A driver cursor inside ``conn``'s transaction, begun here if none is open yet
    (SQLAlchemy's own autobegin: on SQLite that takes the writer lock and BEGIN
    IMMEDIATE, which a statement sent straight to the driver would skip)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.cursor()


def _wrapped(conn: Connection, error: Any, sql: str, params: Any, cursor: Any) -> Exception:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``…),
    so callers sort refusals from outages the same way for both paths."""
    dialect = conn.dialect
    try:
        gone = dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
    except Exception:  # noqa: BLE001 - unknown: not a disconnect (a refusal stays one)
        gone = False
    if gone:
        conn.invalidate()  # as SQLAlchemy does: the pool must not hand this one out again
    wrapped: Exception = exc.DBAPIError.instance(
        sql,
        params,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=gone,
        dialect=dialect,
    )
    return wrapped


def insert_ignore(dialect: str, model: Any, conflict: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (conflict) DO NOTHING for either dialect (built once per shape)."""
    return _insert_ignore(dialect, model, tuple(conflict))


def upsert(dialect: str, model: Any, conflict: Sequence[str], update: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (conflict) DO UPDATE SET each ``update`` column to the new value.

    Built once per shape: making ``excluded``'s column proxies costs about 1 ms, and
    repositories that are created per call (the scheduler's, every housekeeping pass)
    paid it each time.  SQLAlchemy statements are immutable, so one can be shared.
    """
    return _upsert(dialect, model, tuple(conflict), tuple(update))


@functools.lru_cache(maxsize=256)
def _insert_ignore(dialect: str, model: Any, conflict: tuple[str, ...]) -> Any:
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return ins(model).on_conflict_do_nothing(index_elements=list(conflict))


@functools.lru_cache(maxsize=256)
def _upsert(dialect: str, model: Any, conflict: tuple[str, ...], update: tuple[str, ...]) -> Any:
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
