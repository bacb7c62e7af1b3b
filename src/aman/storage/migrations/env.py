"""Alembic environment: runs migrations on the connection or URL aman hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from aman.storage.db import make_engine
from aman.storage.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///./aman.db")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
