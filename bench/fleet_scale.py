"""The registry's cost against the size of the fleet: N simulated workers (10,
100 and 500 by default) on one Postgres for a fixed time, each with its own
session connection (liveness lock, sweep turn, LISTEN) and its own pooled
connection, running the real registration, heartbeat, claim and sweep
statements (`Registration`, `Heartbeat`, `RunStore.claim`) at default
settings: a heartbeat every 10 s, a liveness tick every 0.5 s, a claim poll
every second. The queue is empty, so what is measured is what a fleet costs
the server for being a fleet; passes cost by events, not by workers.

For each N: connections per worker (pg_stat_activity), server CPU seconds per
worker-second (utime + stime from /proc of the backends serving the workers,
and of every postgres process), and the SIGKILL-to-inactive time of a few
workers killed one after another (a kill is simulated by stopping a worker's
threads without a word and shutting its sockets down, so the server sees
what it sees when a process dies: the session ends, its lock goes).

The baseline is the same fleet at the smallest N, in the same run: ends with
`ratio=<per-worker cost at the smallest N / at the largest>` (target ≥ 0.67:
a worker costs the server no more in a large fleet than in a small one).
`--every-worker-sweeps` measures the registry as it was before the sweep turn
(every worker sweeping every tick), for comparison.

Uses a throwaway embedded Postgres with max_connections raised, or
SENTINEL_DATABASE_URL's server (a local one: its processes are read from
/proc), which must allow 2 × N + 10 connections.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import resource
import socket
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table
from sentinel.db import migrate
from sentinel.db.connect import connect
from sentinel.registration.heartbeat import Heartbeat
from sentinel.registration.registrar import Registration
from sentinel.settings import Settings, load_settings
from sentinel.types import Channel
from sentinel.worker.service import POLL_SECONDS
from sentinel.worker.store import RunStore


class Counts:
    """Statements the fleet ran, to show the work was done at each size (a
    saturated machine would look cheap per worker by doing less)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self.values = {"beat": 0, "turn": 0, "sweep": 0, "claim": 0}

    def add(self, what: str) -> None:
        with self._mutex:
            self.values[what] += 1

    def snapshot(self) -> dict[str, int]:
        with self._mutex:
            return dict(self.values)


COUNTS = Counts()


def _counted(what: str, method: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        COUNTS.add(what)
        return method(*args, **kwargs)

    return call


Registration.beat = _counted("beat", Registration.beat)  # type: ignore[method-assign]
Registration.my_turn = _counted("turn", Registration.my_turn)  # type: ignore[method-assign]
Registration.sweep = _counted("sweep", Registration.sweep)  # type: ignore[method-assign]


class OneConnection:
    """An idle worker's pool as the server sees it: one connection (the pool's
    min_size), lent to one caller at a time."""

    def __init__(self, url: str) -> None:
        self.conn = connect(url, pgbouncer=False)
        self._mutex = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self._mutex:
            yield self.conn


class Quiet:
    """The worker's LISTEN on `sentinel_run`, with nothing to wake."""

    channels = (Channel.RUN,)

    def received(self, notify: psycopg.Notify) -> None:
        pass

    def reconnected(self) -> None:
        pass


class SimWorker:
    def __init__(self, url: str, name: str, settings: Settings) -> None:
        self.name = name
        self.pool = OneConnection(url)
        self.registration = Registration(settings, url, self.pool, name=name)  # type: ignore[arg-type]
        self.worker_id = self.registration.register()
        self.registration.session.subscribe(Quiet())
        self.heartbeat = Heartbeat(self.registration, in_hand=set, on_lost=lambda ids, why: None)
        self.settings = settings
        self.alive = True

    def start(self) -> None:
        self.registration.session.start()
        self.heartbeat.start()

    def claim(self) -> None:
        if self.alive:
            COUNTS.add("claim")
            with self.pool.connection() as conn:
                RunStore(conn).claim(
                    self.worker_id, self.settings.max_concurrent_runs, self.settings.lease_seconds
                )

    def kill(self) -> None:
        """Die without a word: the threads stop, the sockets are shut."""
        self.alive = False
        self.heartbeat.stop()
        session = self.registration.session
        session._stop.set()  # the listen thread ends, as if killed
        for conn in (session._conn, self.pool.conn):
            if conn is not None and not conn.closed:
                _shut(conn)

    def stop(self) -> None:
        if self.alive:
            self.alive = False
            self.heartbeat.stop()
            with contextlib.suppress(psycopg.Error):
                self.registration.deregister()
        self.registration.session.stop()
        with contextlib.suppress(psycopg.Error):
            self.pool.conn.close()


def _shut(conn: psycopg.Connection) -> None:
    """End the connection's socket without PostgreSQL's Terminate message, as
    the kernel does for a killed process."""
    with contextlib.suppress(OSError, psycopg.Error):
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def _claims(workers: list[SimWorker], stop: threading.Event) -> None:
    """Every worker's claim poll, once a POLL_SECONDS each, spread over it (one
    thread for the fleet: the statements are each worker's own)."""
    while not stop.is_set():
        started = time.monotonic()
        for i, worker in enumerate(workers):
            due = started + POLL_SECONDS * i / len(workers)
            if (wait := due - time.monotonic()) > 0 and stop.wait(wait):
                return
            with contextlib.suppress(psycopg.Error):
                worker.claim()
        if (rest := started + POLL_SECONDS - time.monotonic()) > 0:
            stop.wait(rest)


@dataclass(frozen=True)
class Result:
    n: int
    connections: int
    backend_cpu: float  # CPU seconds of the backends serving the workers
    server_cpu: float  # of every postgres process
    seconds: float
    detections: list[float]
    counts: dict[str, int]  # statements run in the measured time

    def rate(self, what: str) -> float:
        """Per worker-second (fleet-wide per second for sweeps)."""
        per = self.seconds if what == "sweep" else self.n * self.seconds
        return self.counts[what] / per

    @property
    def per_worker(self) -> float:
        """Backend CPU seconds per worker-second."""
        return self.backend_cpu / (self.n * self.seconds)


def _cpu(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            out[pid] = times.user + times.system
    return out


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def _fleet_round(
    url: str, monitor: psycopg.Connection, postmaster: psutil.Process, n: int, args: Any
) -> Result:
    settings = load_settings()
    monitor.execute("TRUNCATE worker RESTART IDENTITY CASCADE")
    with ThreadPoolExecutor(8) as starting:
        workers = list(starting.map(lambda i: SimWorker(url, f"sim-{n}-{i}", settings), range(n)))
    stop = threading.Event()
    claims = threading.Thread(target=_claims, args=(workers, stop), daemon=True)
    try:
        for worker in workers:
            worker.start()
        claims.start()
        time.sleep(args.warmup)  # every thread in its rhythm before measuring
        mine = monitor.execute("SELECT pg_backend_pid()").fetchone()[0]
        backends = [
            int(pid)
            for (pid,) in monitor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s",
                [mine],
            ).fetchall()
        ]
        everything = [postmaster.pid, *(c.pid for c in postmaster.children(recursive=True))]
        backend_before, server_before = _cpu(backends), _cpu(everything)
        counted = COUNTS.snapshot()
        started = time.monotonic()
        time.sleep(args.seconds)
        seconds = time.monotonic() - started
        backend_cpu = _delta(backend_before, _cpu(backends))
        server_cpu = _delta(server_before, _cpu(everything))
        counts = {k: v - counted[k] for k, v in COUNTS.snapshot().items()}
        detections = [_kill_one(monitor, workers) for _ in range(args.kills)]
    finally:
        stop.set()
        claims.join(timeout=5)
        with ThreadPoolExecutor(8) as stopping:
            list(stopping.map(SimWorker.stop, workers))
    return Result(n, len(backends), backend_cpu, server_cpu, seconds, detections, counts)


def _kill_one(monitor: psycopg.Connection, workers: list[SimWorker]) -> float:
    """Seconds from a simulated SIGKILL until the fleet marks it inactive."""
    victim = random.choice([w for w in workers if w.alive])
    time.sleep(random.uniform(0.5, 1.5))  # somewhere in the tick
    killed = time.monotonic()
    victim.kill()
    deadline = killed + 30
    while time.monotonic() < deadline:
        row = monitor.execute(
            "SELECT status::text FROM worker WHERE id = %s", [victim.worker_id]
        ).fetchone()
        if row and row[0] == "inactive":
            return time.monotonic() - killed
        time.sleep(0.005)
    return float("inf")


@contextlib.contextmanager
def _server(largest: int) -> Iterator[str]:
    """A throwaway database on SENTINEL_DATABASE_URL's server, or on a
    throwaway embedded server with room for the largest fleet."""
    needed = 2 * largest + 20
    base = os.environ.get("SENTINEL_DATABASE_URL")
    server = None
    if base is None:
        from tests import pg

        server = pg.embedded()
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {needed + 50}")
        server.stop()  # max_connections needs a restart
        server.start()
        base = server.admin_url
    name = f"sentinel_bench_fleet_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            allowed = int(conn.execute("SHOW max_connections").fetchone()[0])
            if allowed < needed:
                raise SystemExit(f"max_connections is {allowed}; {largest} workers need {needed}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = psycopg.conninfo.conninfo_to_dict(base)
        url = psycopg.conninfo.make_conninfo(**{**info, "dbname": name})
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


def _past_restart_grace(conn: psycopg.Connection) -> None:
    """Liveness locks are not judged in the first heartbeat interval after the
    server starts (docs/registration.md): wait that out."""
    grace = Settings().heartbeat_interval_seconds
    row = conn.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())").fetchone()
    if row is not None and (wait := grace - float(row[0])) > 0:
        print(f"waiting {wait:.1f}s: the server started less than {grace:g}s ago")
        time.sleep(wait)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleets", default="10,100,500", help="comma list of fleet sizes")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per fleet")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--kills", type=int, default=3, help="simulated SIGKILLs per fleet")
    parser.add_argument(
        "--every-worker-sweeps",
        action="store_true",
        help="the registry before the sweep turn: every worker sweeps every tick",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the simulated deaths' recoveries, as expected
    sizes = sorted(int(n) for n in args.fleets.split(","))
    if sizes[0] <= args.kills:
        parser.error(f"the smallest fleet needs more than --kills={args.kills} workers")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * sizes[-1] + 256)), hard))
    if args.every_worker_sweeps:
        Registration.my_turn = _counted("turn", lambda self: True)  # type: ignore[method-assign]
    with _server(sizes[-1]) as url, psycopg.connect(url, autocommit=True) as monitor:
        backend = monitor.execute("SELECT pg_backend_pid()").fetchone()[0]
        postmaster = psutil.Process(backend).parent()
        _past_restart_grace(monitor)
        results = [_fleet_round(url, monitor, postmaster, n, args) for n in sizes]
    print_table(
        [
            "workers",
            "conns/worker",
            "ms cpu/worker-s",
            "server cpu s",
            "turns/worker-s",
            "claims/worker-s",
            "beats/worker-s",
            "sweeps/s",
            "kill→inactive s (median, max)",
        ],
        [
            (
                r.n,
                f"{r.connections / r.n:.2f}",
                f"{1000 * r.per_worker:.3f}",
                f"{r.server_cpu:.2f}",
                f"{r.rate('turn'):.2f}",
                f"{r.rate('claim'):.2f}",
                f"{r.rate('beat'):.3f}",
                f"{r.rate('sweep'):.2f}",
                f"{statistics.median(r.detections):.2f}, {max(r.detections):.2f}",
            )
            for r in results
        ],
    )
    for r in results:
        print(f"detections n={r.n}: " + " ".join(f"{d:.3f}" for d in r.detections))
    print(f"ratio={results[0].per_worker / results[-1].per_worker:.3f}")


if __name__ == "__main__":
    main()
