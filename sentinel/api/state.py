"""What the application holds while it serves: its connection pools (the
primary for writes and tokens, a replica or the primary for reads) and the
webhook secrets. Nothing a second replica would need to share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from sentinel.db import connect

POOL_SIZE = 10  # connections per pool and replica; requests beyond wait for one


@dataclass(frozen=True)
class ApiConfig:
    """What `create_app` needs: URLs and secrets, resolved by the caller."""

    database_url: str
    read_database_url: str | None = None
    github_webhook_secret: str | None = None
    jenkins_webhook_token: str | None = None
    max_body_bytes: int = 1024 * 1024
    pool_size: int = POOL_SIZE


class ApiState:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.head, self.known = _revisions()
        self.primary: ConnectionPool = connect.make_pool(
            config.database_url, max_size=config.pool_size, name="sentinel-api"
        )
        self.replica: ConnectionPool | None = None
        if config.read_database_url and config.read_database_url != config.database_url:
            self.replica = connect.make_pool(
                config.read_database_url, max_size=config.pool_size, name="sentinel-api-read"
            )

    @contextmanager
    def write(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A primary connection (autocommit; open a transaction to group)."""
        with self.primary.connection(timeout=timeout) as conn:
            yield conn

    @contextmanager
    def read(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A connection for the read model: the replica when there is one."""
        with (self.replica or self.primary).connection(timeout=timeout) as conn:
            yield conn

    def close(self) -> None:
        self.primary.close()
        if self.replica is not None:
            self.replica.close()


def _revisions() -> tuple[str, frozenset[str]]:
    """This Sentinel's revision and every one it knows (a database at one it
    does not know is ahead of it: a rolling upgrade, accepted as the worker
    does)."""
    from sentinel.db import migrate  # alembic: once, at start

    return migrate.head(), frozenset(migrate.revisions())
