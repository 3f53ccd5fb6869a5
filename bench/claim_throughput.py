"""No-op runs per second through Sentinel's plan → claim → complete (the batch
completer's: one fenced statement per claimed batch, as a worker completes
runs that found nothing; their completion records left out), with 1, 2
and 4 worker processes, at a worker's default capacity (4) and at batch 10,
against a bare `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT
n)` loop at the same batch, and against pgqueuer (drain mode, batch 10, its
default durable tables, psycopg's async driver) — all on the same database
in the same run, alternating, several rounds, medians.

Prints a table, Sentinel / pgqueuer at batch 10 (target ≥ 1.5), and ends with
`ratio=<sentinel / bare at the same batch>` (median over the rows; higher is
better; target ≥ 0.7). pgqueuer is a bench-only extra: `pip install -e
".[bench]"` (without it, its rows are skipped). Uses SENTINEL_DATABASE_URL,
or a throwaway embedded Postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, throwaway_database
from sentinel.worker.models import QuietBatch
from sentinel.worker.store import RunStore

DEFAULT_BATCH = 4  # SENTINEL_MAX_CONCURRENT_RUNS: what a worker claims at once
BATCHES = (DEFAULT_BATCH, 10)
PGQUEUER_BATCH = 10
LEASE = 30.0


class Go:
    """Workers connect, then wait here until the jobs are planned."""

    def __init__(self, processes: int) -> None:
        self.ready = multiprocessing.Barrier(processes + 1)
        self.start = multiprocessing.Event()

    def wait(self) -> None:
        self.ready.wait()
        self.start.wait()


def _reset(url: str, runs: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE run, stream, worker, completion RESTART IDENTITY CASCADE")
        conn.execute(
            "INSERT INTO stream (key) SELECT 'bench/' || g FROM generate_series(1, %s) g", [runs]
        )
        conn.execute(
            "INSERT INTO worker (name, capabilities, last_heartbeat) "
            "SELECT 'bench-' || g, '{}', now() FROM generate_series(1, 8) g"
        )


def _sentinel_plan(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        RunStore(conn).plan(3600, 5)
        conn.execute("ANALYZE run")  # as autovacuum would in a running fleet


def _bare_plan(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO run (stream_id, window_start) SELECT id, date_trunc('hour', now()) "
            "FROM stream ON CONFLICT DO NOTHING"
        )
        conn.execute("ANALYZE run")


def _sentinel_worker(url: str, worker_id: int, batch: int, go: Go) -> None:
    """Claim a batch, complete it with the worker's batch completer's
    statement: one fenced statement for all of the runs (the completion
    records a worker writes beside it are left out, as before)."""
    with psycopg.connect(url, autocommit=True) as conn:
        store = RunStore(conn)
        go.wait()
        while claims := store.claim(worker_id, batch, LEASE):
            quiet = [
                QuietBatch(
                    claim=claim,
                    worker_id=worker_id,
                    from_xact=0,
                    to_xact=0,
                    first_event_id=None,
                    last_event_id=None,
                    events=0,
                    problems=[],
                    final=True,
                    next_due=None,
                    states={},
                )
                for claim in claims
            ]
            store.complete_many(quiet, worker_id)


def _bare_worker(url: str, worker_id: int, batch: int, go: Go) -> None:
    """The floor: claim with a bare UPDATE, finish each run."""
    with psycopg.connect(url, autocommit=True) as conn:
        go.wait()
        while True:
            ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE run SET status = 'running', lease_owner = %s WHERE id IN ("
                    "SELECT id FROM run WHERE status = 'queued' ORDER BY id LIMIT %s "
                    "FOR UPDATE SKIP LOCKED) RETURNING id",
                    [worker_id, batch],
                ).fetchall()
            ]
            if not ids:
                return
            for run_id in ids:
                conn.execute("UPDATE run SET status = 'succeeded' WHERE id = %s", [run_id])


def _pgqueuer_install(url: str) -> None:
    async def install() -> None:
        from pgqueuer import Queries

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            queries = Queries.from_psycopg_connection(conn)
            if not await queries.schema_is_installed():
                await queries.install()

    asyncio.run(install())


def _pgqueuer_plan(url: str, runs: int) -> None:
    """Enqueue the jobs in one statement, as `plan` inserts the runs."""

    async def enqueue() -> None:
        from pgqueuer import Queries

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await Queries.from_psycopg_connection(conn).enqueue(
                ["noop"] * runs, [None] * runs, [0] * runs
            )

    asyncio.run(enqueue())


def _pgqueuer_worker(url: str, worker_id: int, batch: int, go: Go) -> None:
    """A pgqueuer consumer in drain mode: exits once the queue is empty."""

    async def consume() -> None:
        from pgqueuer import Queries, QueueManager  # imported by main() before the fork
        from pgqueuer.types import QueueExecutionMode

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            qm = QueueManager(Queries.from_psycopg_connection(conn))

            @qm.entrypoint("noop")
            async def noop(job: Any) -> None:
                return None

            go.wait()
            await qm.run(
                batch_size=batch,
                mode=QueueExecutionMode.drain,
                dequeue_timeout=timedelta(seconds=1),
            )

    asyncio.run(consume())


def _pgqueuer_left(conn: psycopg.Connection) -> int:
    """Jobs not yet done: a finished job leaves the queue table when its
    completion is committed (pgqueuer buffers those, a batch at a time)."""
    row = conn.execute("SELECT count(*) FROM pgqueuer").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class System:
    name: str
    reset: Callable[[str, int], None]
    plan: Callable[[str, int], None]
    worker: Callable[[str, int, int, Go], None]
    left: Callable[[psycopg.Connection], int]


def _runs_left(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM run WHERE status <> 'succeeded'").fetchone()
    return int(row[0]) if row else 0


def _pgqueuer_reset(url: str, runs: int) -> None:
    _reset(url, runs)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")


SENTINEL = System(
    "sentinel", _reset, lambda url, runs: _sentinel_plan(url), _sentinel_worker, _runs_left
)
BARE = System("bare loop", _reset, lambda url, runs: _bare_plan(url), _bare_worker, _runs_left)
PGQUEUER = System("pgqueuer", _pgqueuer_reset, _pgqueuer_plan, _pgqueuer_worker, _pgqueuer_left)


def _measure(url: str, system: System, processes: int, runs: int, batch: int) -> float:
    system.reset(url, runs)
    go = Go(processes)
    procs = [
        multiprocessing.Process(target=system.worker, args=(url, i + 1, batch, go))
        for i in range(processes)
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        for p in procs:
            p.start()
        go.ready.wait()  # every worker started and connected: no start-up timed
        started = time.perf_counter()
        system.plan(url, runs)
        go.start.set()
        # Until the last completion is committed, not until the processes
        # exit: pgqueuer's drain mode takes seconds to shut down.
        while system.left(conn):
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
        for p in procs:
            p.join()
        left = system.left(conn)
    assert left == 0, f"{system.name}: {left} of {runs} runs left"
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with_pgqueuer = importlib.util.find_spec("pgqueuer") is not None
    if with_pgqueuer:
        importlib.import_module("pgqueuer.qm")  # the forked workers inherit it
    if not with_pgqueuer:
        print("pgqueuer is not installed (pip install -e '.[bench]'): its rows are skipped")
    with throwaway_database() as url:
        if with_pgqueuer:
            _pgqueuer_install(url)
        rows = []
        ratios = []
        versus_pgqueuer = []
        for processes in (1, 2, 4):
            for batch in BATCHES:
                systems = [SENTINEL, BARE]
                if with_pgqueuer and batch == PGQUEUER_BATCH:
                    systems.append(PGQUEUER)
                rates: dict[str, list[float]] = {s.name: [] for s in systems}
                for _ in range(args.rounds):  # alternate to share the machine's noise
                    for system in systems:
                        rates[system.name].append(
                            _measure(url, system, processes, args.runs, batch)
                        )
                o, b = statistics.median(rates["sentinel"]), statistics.median(rates["bare loop"])
                q = statistics.median(rates["pgqueuer"]) if "pgqueuer" in rates else None
                ratios.append(o / b)
                if q is not None:
                    versus_pgqueuer.append(o / q)
                rows.append(
                    [
                        processes,
                        batch,
                        o,
                        b,
                        "" if q is None else q,
                        f"{o / b:.2f}",
                        "" if q is None else f"{o / q:.2f}",
                    ]
                )
        print_table(
            [
                "workers",
                "batch",
                "sentinel runs/s",
                "bare runs/s",
                "pgqueuer jobs/s",
                "vs bare",
                "vs pgqueuer",
            ],
            rows,
        )
        print(f"runs={args.runs} rounds={args.rounds}")
        if versus_pgqueuer:
            print(
                f"sentinel / pgqueuer at batch {PGQUEUER_BATCH}: "
                f"{statistics.median(versus_pgqueuer):.3f} (median over 1, 2, 4 workers)"
            )
        print(f"ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
