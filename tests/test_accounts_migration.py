"""The 0002 migration creates exactly the tables the accounts models declare (both dialects)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect

from aman.accounts.models import (
    ApiTokenRow,
    AuthThrottleRow,
    RecoveryCodeRow,
    SessionRow,
    TenantRow,
    UserRow,
)
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade

MODELS = [TenantRow, UserRow, RecoveryCodeRow, SessionRow, ApiTokenRow, AuthThrottleRow]


def _kind(t: Any) -> str:
    for cls, name in (
        (sa.LargeBinary, "binary"),
        (sa.Boolean, "bool"),
        (sa.Float, "float"),
        (sa.Integer, "int"),  # includes BigInteger
        (sa.JSON, "json"),
        (sa.String, "string"),  # includes Text
    ):
        if isinstance(t, cls):
            return name
    return type(t).__name__.lower()


def _length(t: Any) -> int | None:
    return getattr(t, "length", None)


def test_migrated_tables_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        insp = inspect(engine)
        for model in MODELS:
            table: sa.Table = model.__table__  # type: ignore[assignment]
            name = table.name
            columns = {c["name"]: c for c in insp.get_columns(name)}
            assert set(columns) == {c.name for c in table.columns}, name
            for col in table.columns:
                got = columns[col.name]
                assert got["nullable"] == col.nullable, (name, col.name)
                assert _kind(got["type"]) == _kind(col.type), (name, col.name, got["type"])
                if _length(col.type) is not None:
                    assert _length(got["type"]) == _length(col.type), (name, col.name)
            pk = insp.get_pk_constraint(name)
            assert pk["constrained_columns"] == [c.name for c in table.primary_key.columns]
            assert pk["name"] in (None, f"pk_{name}")
            want_ix = {
                ix.name: (tuple(c.name for c in ix.columns), bool(ix.unique))
                for ix in table.indexes
            }
            got_ix = {
                ix["name"]: (tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in insp.get_indexes(name)
                if not ix.get("duplicates_constraint")  # PostgreSQL: a UNIQUE's own index
            }
            assert got_ix == want_ix, name
            want_uq = {
                tuple(c.name for c in uc.columns)
                for uc in table.constraints
                if isinstance(uc, sa.UniqueConstraint)
            }
            got_uq = {tuple(uc["column_names"]) for uc in insp.get_unique_constraints(name)}
            assert got_uq == want_uq, name
            want_fk = {
                (tuple(fk.parent.name for fk in c.elements),
                 c.elements[0].column.table.name, c.ondelete)
                for c in table.foreign_key_constraints
            }
            got_fk = {
                (tuple(fk["constrained_columns"]), fk["referred_table"],
                 (fk.get("options") or {}).get("ondelete"))
                for fk in insp.get_foreign_keys(name)
            }
            assert got_fk == want_fk, name
        with engine.connect() as conn:
            seeded = conn.execute(sa.text("SELECT id, name FROM tenants")).all()
        assert [tuple(r) for r in seeded] == [("default", "Default")]
    finally:
        engine.dispose()
