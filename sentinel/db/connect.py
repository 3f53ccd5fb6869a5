"""Connections: resolving the configured URL, one-off connections, pools, and
turning psycopg's connection failures into one clear line."""

from __future__ import annotations

import contextlib
import re
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from sentinel import dsn
from sentinel.db import embedded
from sentinel.db.jsonb import use_fast_json
from sentinel.errors import DatabaseUnavailable
from sentinel.settings import Settings

CONNECT_TIMEOUT = 5
# A pooled connection given back this recently is handed out again without a
# round trip to check it: a pass takes a connection twice, and a check each
# time was a quarter of a busy worker's wall time. One idle for longer (a
# quiet worker, a server restart meanwhile) is checked, so the first request
# after an outage still gets a live connection.
CHECK_AFTER_IDLE_SECONDS = 2.0
_given_back: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _check_if_idle(conn: psycopg.Connection) -> None:
    if time.monotonic() - _given_back.get(conn, 0.0) > CHECK_AFTER_IDLE_SECONDS:
        ConnectionPool.check_connection(conn)


def _given_back_now(conn: psycopg.Connection) -> None:
    _given_back[conn] = time.monotonic()


def database_url(
    settings: Settings, on_start: Callable[[embedded.ServerState], None] | None = None
) -> str:
    """The configured URL, or the embedded server's (started if needed;
    `on_start` is told when this call started it)."""
    if settings.database_url:
        return settings.database_url
    return embedded.ensure_server(settings.home, on_start=on_start)


def mask_url(url: str) -> str:
    """The URL (or key=value string) with every password replaced by ***."""
    return dsn.mask(url)


def describe_target(url: str) -> str:
    """Where a URL points, for error messages: host:port or the socket dir."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable database URL"
    host = str(info.get("host") or "localhost")
    port = info.get("port") or 5432
    name = info.get("dbname") or info.get("user") or ""
    where = f"socket {host}" if host.startswith("/") else f"{host}:{port}"
    return f"{where} database {name!s}".strip()


def explain(exc: BaseException, url: str) -> DatabaseUnavailable:
    """One line: which server, and what failed."""
    reason = str(exc).strip().splitlines()
    detail = reason[-1] if reason else type(exc).__name__
    for line in reason:  # prefer the server's own FATAL/failure line
        if "failed:" in line or "FATAL" in line:
            detail = line
    detail = re.sub(r"^.*?failed: ", "", detail).strip()
    return DatabaseUnavailable(f"cannot connect to {describe_target(url)}: {detail}")


def connect(
    url: str, *, autocommit: bool = True, pgbouncer: bool | None = None, **kwargs: Any
) -> psycopg.Connection:
    """One connection. Behind PgBouncer (`pgbouncer`, or detected when None)
    it never prepares a statement on the server: the next transaction may
    run on another server connection, where the statement does not exist."""
    try:
        conn = psycopg.connect(
            url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT, **kwargs
        )
    except psycopg.OperationalError as exc:
        raise explain(exc, url) from exc
    use_fast_json(conn)
    if pgbouncer is None:
        pgbouncer = behind_pooler(conn)
    if pgbouncer:
        conn.prepare_threshold = None
    return conn


def behind_pooler(conn: psycopg.Connection) -> bool:
    """Does a pooler such as PgBouncer answer for the server on `conn`?

    PgBouncer answers `SHOW VERSION` only on its admin console and forwards
    it elsewhere, so it is told by its backend key instead: a pooler hands the
    client a key of its own (to route cancels), whose process id is not the
    server process that runs our statements."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    pooled = row is None or int(row[0]) != conn.info.backend_pid
    if not conn.autocommit:
        conn.rollback()  # leave no transaction open for the caller
    return pooled


def pgbouncer_mode(settings: Settings, url: str) -> bool:
    """SENTINEL_PGBOUNCER, else detected on `url`."""
    if settings.pgbouncer is not None:
        return settings.pgbouncer
    with connection(url, pgbouncer=False) as conn:
        return behind_pooler(conn)


def session_url(settings: Settings, url: str) -> str:
    """The direct URL of a worker's one session connection (liveness lock,
    LISTEN): SENTINEL_SESSION_DATABASE_URL, else the pool's `url`."""
    return settings.session_database_url or url


@contextlib.contextmanager
def connection(url: str, *, pgbouncer: bool | None = None) -> Iterator[psycopg.Connection]:
    conn = connect(url, pgbouncer=pgbouncer)
    try:
        yield conn
    finally:
        conn.close()


def make_pool(
    url: str, *, max_size: int = 8, name: str = "sentinel", pgbouncer: bool | None = None
) -> ConnectionPool:
    """An opened pool of autocommit connections; fails fast on a wrong URL.

    Nothing on it may depend on session state, so that `url` may be PgBouncer
    in transaction mode: behind it (`pgbouncer`, or detected when None) its
    connections never prepare statements on the server."""
    # Check the URL with a direct connection first: a pool would only time out.
    with connection(url, pgbouncer=False) as first:
        if pgbouncer is None:
            pgbouncer = behind_pooler(first)
    kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT}
    if pgbouncer:
        kwargs["prepare_threshold"] = None
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs=kwargs,
        configure=use_fast_json,
        check=_check_if_idle,
        reset=_given_back_now,
        name=name,
        open=False,
        timeout=10,  # how long a caller waits for a connection (say, in an outage)
        # psycopg_pool retries a failed connection with a delay that doubles
        # without bound (1, 2, 4 … 32 s) for reconnect_timeout: after a 35 s
        # outage the pool would stay empty for half a minute more. Giving up
        # soon instead lets each waiting caller grow the pool on demand, so
        # the first request after the server returns gets a connection.
        reconnect_timeout=2,
        # Connections above min_size idle this long are closed: a quiet
        # worker gives back what a busy minute opened.
        max_idle=60,
    )
    pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
    return pool
