"""The 0004 migration creates exactly the tables, columns and indexes the models declare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

import aman.campaigns.models as models
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade

TABLES = [
    models.ContactProfileRow,
    models.ContactTagRow,
    models.SegmentRow,
    models.SegmentMemberRow,
    models.MessageTemplateRow,
    models.CampaignSettingsRow,
    models.CampaignRow,
    models.CampaignRunRow,
    models.CampaignRecipientRow,
]


_SAME = {"DOUBLE PRECISION": "FLOAT", "BYTEA": "BLOB", "BOOLEAN": "BOOLEAN"}


def _ddl(t: Any, dialect: Any) -> str:
    name = t.compile(dialect=dialect).upper()
    return _SAME.get(name, name)


def test_migration_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent
        insp = inspect(engine)
        dialect = engine.dialect
        for model in TABLES:
            table = model.__table__
            assert insp.has_table(table.name), table.name
            got = {c["name"]: c for c in insp.get_columns(table.name)}
            assert set(got) == {c.name for c in table.columns}, table.name
            for col in table.columns:
                db_col = got[col.name]
                assert db_col["nullable"] == col.nullable, (table.name, col.name)
                want = _ddl(col.type, dialect)
                have = _ddl(db_col["type"], dialect)
                assert have == want, (table.name, col.name, have, want)
            pk = insp.get_pk_constraint(table.name)
            assert pk["name"] in (f"pk_{table.name}", None)  # SQLite does not name it back
            assert set(pk["constrained_columns"]) == {c.name for c in table.primary_key.columns}
            want_ix = {i.name: (list(i.columns.keys()), bool(i.unique)) for i in table.indexes}
            have_ix = {
                i["name"]: (i["column_names"], bool(i["unique"]))
                for i in insp.get_indexes(table.name)
            }
            for name, spec in want_ix.items():
                assert have_ix.get(name) == spec, (table.name, name, have_ix)
            want_uq = {
                tuple(sorted(c.name for c in u.columns))
                for u in table.constraints
                if u.__class__.__name__ == "UniqueConstraint"
            }
            want_uq |= {(c.name,) for c in table.columns if c.unique}
            have_uq = {
                tuple(sorted(u["column_names"])) for u in insp.get_unique_constraints(table.name)
            }
            assert want_uq <= have_uq, (table.name, want_uq, have_uq)
            want_fk = {
                (fk.parent.name, fk.column.table.name, fk.ondelete) for fk in table.foreign_keys
            }
            have_fk = {
                (
                    f["constrained_columns"][0],
                    f["referred_table"],
                    (f.get("options") or {}).get("ondelete"),
                )
                for f in insp.get_foreign_keys(table.name)
            }
            assert want_fk == have_fk, (table.name, want_fk, have_fk)
    finally:
        engine.dispose()
