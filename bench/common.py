"""What every benchmark shares: a throwaway migrated database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from sentinel.db import migrate


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh migrated database on SENTINEL_DATABASE_URL's server, or on a
    throwaway embedded Postgres; dropped afterwards."""
    base = os.environ.get("SENTINEL_DATABASE_URL")
    server = None
    if base is None:
        from tests import pg

        server = pg.embedded()
        base = server.admin_url
    name = f"sentinel_bench_{uuid.uuid4().hex[:8]}"
    info = psycopg.conninfo.conninfo_to_dict(base)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(**{**info, "dbname": name})
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if server is not None:
            from tests import pg

            pg.destroy(server)
