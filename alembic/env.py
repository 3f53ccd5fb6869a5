"""Alembic environment: migrates to sentinel.db.schema.metadata.

A caller may pass a live SQLAlchemy connection in config.attributes["connection"]
(the CLI and the tests migrate in-process); otherwise the URL comes from
Sentinel's settings, never from alembic.ini.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from sentinel.db import migrate
from sentinel.db.schema import EVENT_PARTITION_NAME, metadata

config = context.config


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave `event`'s partitions out of the comparison: the maintenance
    creates and drops them, the metadata describes the partitioned table."""
    return not (type_ == "table" and name and EVENT_PARTITION_NAME.fullmatch(name))


def run_with(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=False,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = migrate.engine_for(migrate.settings_url())
    try:
        with engine.connect() as conn:
            run_with(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=migrate.settings_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
