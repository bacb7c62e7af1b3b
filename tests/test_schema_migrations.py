"""Alembic's migrations build exactly the schema the models declare, on both databases.

Every domain keeps its tables on a branch of its own off the core schema; a model
changed without a migration (or a migration that forgets an index) shows up here as
a difference between the migrated database and the models' metadata.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

import aman
from aman.storage.models import metadata


def _import_every_model() -> None:
    """Import each ``models`` module (and the repositories that declare rows) so that
    every table registers on the shared metadata, as a running server would have it."""
    for info in pkgutil.walk_packages(aman.__path__, "aman."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in ("models", "repository"):
            importlib.import_module(info.name)


def test_the_migrated_schema_is_the_models_schema(engine: Engine) -> None:
    _import_every_model()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff: list[Any] = compare_metadata(ctx, metadata)
    assert diff == []


def test_the_models_declare_every_migrated_table(engine: Engine) -> None:
    """The reverse direction of the test above names the table, not only a diff entry."""
    _import_every_model()
    migrated = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert migrated == set(metadata.tables)
