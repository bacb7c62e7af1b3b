"""DriverSQL: hot-path statements on the driver's cursor, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, text
from sqlalchemy.exc import IntegrityError

from aman.storage.db import PinnedConnection, make_engine
from aman.storage.groupcommit import Unstorable, item_failure
from aman.storage.sql import DriverSQL, insert_ignore, upsert


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    with eng.begin() as conn:
        conn.execute(
            text("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(20) UNIQUE, n FLOAT)")
        )
    yield eng
    eng.dispose()


def test_named_and_list_parameters(engine: Engine) -> None:
    dialect = engine.dialect.name
    insert = DriverSQL("INSERT INTO items (id, name, n) VALUES (:id, :name, :n)")
    pick = DriverSQL("SELECT id, name FROM items WHERE id IN ({ids}) AND n >= :min ORDER BY id")
    with engine.begin() as conn:
        insert.many(conn, [{"id": i, "name": f"n{i}", "n": i / 2} for i in range(1, 8)])
        insert.many(conn, [])  # nothing to insert: no statement at all
        assert pick.rows(conn, {"ids": [2, 3, 5, 7], "min": 1.5}) == [
            (3, "n3"),
            (5, "n5"),
            (7, "n7"),
        ]
        # Another list length renders (and caches) another statement; an empty list
        # matches nothing instead of being a syntax error.
        assert pick.rows(conn, {"ids": [1], "min": 0.0}) == [(1, "n1")]
        assert pick.rows(conn, {"ids": [], "min": 0.0}) == []
        # PostgreSQL's cast "::" is SQL, not a parameter.
        sql = "SELECT :v::text || 'x'" if dialect == "postgresql" else "SELECT :v || 'x'"
        assert DriverSQL(sql).rows(conn, {"v": "ab"}) == [("abx",)]
    bump = DriverSQL("UPDATE items SET n = n + 1 WHERE id > :after")
    with engine.begin() as conn:
        assert bump.run(conn, {"after": 4}) == 3


def test_the_statement_joins_the_open_transaction(engine: Engine) -> None:
    insert = DriverSQL("INSERT INTO items (id, name) VALUES (:id, :name)")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        insert.run(conn, {"id": 1, "name": "gone"})
        raise RuntimeError("roll back")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar_one() == 0


def test_driver_errors_arrive_as_sqlalchemys(engine: Engine) -> None:
    """A refused row is an IntegrityError like on SQLAlchemy's path, so a group commit
    still keeps such a webhook aside instead of answering 503 for ever."""
    insert = DriverSQL("INSERT INTO items (id, name) VALUES (:id, :name)")
    with engine.begin() as conn:
        insert.run(conn, {"id": 1, "name": "a"})
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        insert.many(conn, [{"id": 2, "name": "b"}, {"id": 3, "name": "a"}])
    assert isinstance(item_failure(caught.value), Unstorable)
    with engine.connect() as conn:  # the whole transaction was rolled back
        assert conn.execute(text("SELECT count(*) FROM items")).scalar_one() == 1


def test_pinned_connection_survives_a_failed_transaction(engine: Engine) -> None:
    pinned = PinnedConnection(engine)
    insert = DriverSQL("INSERT INTO items (id, name) VALUES (:id, :name)")
    try:
        with pinned.begin() as conn:
            insert.run(conn, {"id": 1, "name": "a"})
            first = conn
        with pinned.begin() as conn:
            assert conn is first  # kept between transactions
        with pytest.raises(IntegrityError), pinned.begin() as conn:
            insert.run(conn, {"id": 2, "name": "a"})
        with pinned.begin() as conn:  # a fresh connection after the failure
            assert conn is not first
            insert.run(conn, {"id": 3, "name": "c"})
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM items ORDER BY id")).scalars().all()
        assert names == ["a", "c"]
    finally:
        pinned.close()


def test_an_idle_kept_connection_goes_back_to_the_pool(engine: Engine) -> None:
    """After a pause the pool's pre-ping and recycling apply again (a PostgreSQL
    restart or an idle timeout must not fail the first transaction after it)."""
    pinned = PinnedConnection(engine, idle_seconds=0.0)
    try:
        with pinned.begin() as conn:
            first = conn
        with pinned.begin() as conn:
            assert conn is not first
    finally:
        pinned.close()


def test_outside_a_transaction_it_begins_one_like_sqlalchemy(engine: Engine) -> None:
    insert = DriverSQL("INSERT INTO items (id, name) VALUES (:id, :name)")
    with engine.connect() as conn:
        insert.run(conn, {"id": 1, "name": "a"})
        assert conn.in_transaction()
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM items")).scalars().all() == ["a"]


_ITEMS = Table(
    "items",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True),
    Column("n", Float),
)


def test_conflict_statements_are_built_once_per_shape_and_still_work(engine: Engine) -> None:
    """``upsert``/``insert_ignore`` hand out one shared statement per dialect, table and
    columns (building ``excluded`` cost about 1 ms per repository, every scheduler pass)."""
    dialect = engine.dialect.name
    up = upsert(dialect, _ITEMS, ["name"], ["n"])
    assert upsert(dialect, _ITEMS, ("name",), ("n",)) is up
    assert upsert(dialect, _ITEMS, ["name"], ["id", "n"]) is not up
    other = "sqlite" if dialect == "postgresql" else "postgresql"
    assert upsert(other, _ITEMS, ["name"], ["n"]) is not up
    ignore = insert_ignore(dialect, _ITEMS, ["id"])
    assert insert_ignore(dialect, _ITEMS, ("id",)) is ignore
    assert insert_ignore(dialect, _ITEMS, ["name"]) is not ignore
    with engine.begin() as conn:
        for n in (1.0, 2.0):  # the shared statements, run again: ignored / updated
            conn.execute(ignore, {"id": 1, "name": "a", "n": n})
            conn.execute(up, {"id": 2, "name": "b", "n": n})
        rows = conn.execute(text("SELECT id, name, n FROM items ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, "a", 1.0), (2, "b", 2.0)]
