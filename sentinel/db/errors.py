"""The one boundary where psycopg's (and SQLAlchemy's) exceptions become
Sentinel's: one clear line for a person, the original kept as `__cause__`.

The `sentinel` group and `sentinel-tui` call `translate` on whatever escapes a
command, so no command has to wrap its own queries."""

from __future__ import annotations

import psycopg
import psycopg.errors

from sentinel.db import connect
from sentinel.errors import ConfigError, DatabaseError, SchemaMissing, SentinelError

# A relation, column, type or function the code needs is not there: a schema
# older than the code (or none at all).
_MISSING_SCHEMA = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
    psycopg.errors.UndefinedObject,
    psycopg.errors.UndefinedFunction,
)


def translate(exc: BaseException, url: str | None) -> SentinelError | None:
    """The Sentinel error for a database failure, or None when `exc` is not one."""
    original = _psycopg_error(exc)
    if original is None:
        return None
    if isinstance(original, psycopg.OperationalError):
        return connect.explain(original, url or "")
    if isinstance(original, _MISSING_SCHEMA):
        return schema_missing(original, url)
    if isinstance(original, psycopg.ProgrammingError) and original.sqlstate is None:
        # libpq refused the connection string before reaching any server.
        return ConfigError(f"SENTINEL_DATABASE_URL: not a Postgres URL: {_first_line(original)}")
    return DatabaseError(f"{type(original).__name__}: {_first_line(original)}")


def schema_missing(exc: BaseException, url: str | None) -> SentinelError:
    """What is missing, where the database is, and the command that fixes it."""
    revision = current_revision(url) if url else None
    head = _head()
    if revision == head:  # migrated, yet something is gone: not ours to fix
        return DatabaseError(
            f"{_first_line(exc)} although the database is at the latest revision ({head})"
        )
    at = f"at revision {revision}" if revision else "not migrated (revision: none)"
    return SchemaMissing(
        f"the database is {at}; this Sentinel needs revision {head}: "
        f"run `sentinel db upgrade` ({_first_line(exc)})"
    )


def current_revision(url: str) -> str | None:
    """The alembic revision stored in the database, None when there is none
    (or when it cannot be read): plain SQL, so an error path loads no alembic."""
    try:
        with connect.connection(url) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except (psycopg.Error, SentinelError):
        return None
    return str(row[0]) if row else None


def require_schema(url: str) -> None:
    """Raise SchemaMissing when the database is behind this code (or not
    migrated at all). A database ahead of it is accepted: the fleet is rolled
    after the migration, so old workers meet the new schema for a while."""
    from sentinel.db import migrate  # alembic: only on this path

    revision = current_revision(url)
    head = migrate.head()
    if revision == head or (revision is not None and revision not in migrate.revisions()):
        return
    at = f"at revision {revision}" if revision else "not migrated (revision: none)"
    raise SchemaMissing(
        f"the database is {at}; this Sentinel needs revision {head}: run `sentinel db upgrade`"
    )


def _head() -> str:
    from sentinel.db import migrate  # alembic: only on this path

    return migrate.head()


def _psycopg_error(exc: BaseException) -> psycopg.Error | None:
    if isinstance(exc, psycopg.Error):
        return exc
    original = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps it
    return original if isinstance(original, psycopg.Error) else None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
