"""No-op runs per second through Sentinel's plan → claim → complete, with 1, 2
and 4 worker processes, against a bare `UPDATE … WHERE id IN (SELECT … FOR
UPDATE SKIP LOCKED LIMIT n)` loop on the same database at the same batch size.

Prints a table and ends with `ratio=<sentinel / bare>` (higher is better;
target ≥ 0.7). Uses SENTINEL_DATABASE_URL, or a throwaway embedded Postgres.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database
from sentinel.findings.models import Counts
from sentinel.worker.store import RunStore

BATCH = 4
LEASE = 30.0


def _reset(url: str, runs: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE run, stream, worker RESTART IDENTITY CASCADE")
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


def _sentinel_worker(url: str, worker_id: int) -> None:
    """Claim a batch, complete each run through the fenced path."""
    with psycopg.connect(url, autocommit=True) as conn:
        store = RunStore(conn)
        while claims := store.claim(worker_id, BATCH, LEASE):
            for claim in claims:  # what a pass with nothing to report commits
                store.complete(
                    claim,
                    worker_id,
                    from_xact=0,
                    to_xact=0,
                    first_event_id=None,
                    last_event_id=None,
                    counts=Counts(),
                    problems=[],
                )


def _bare_worker(url: str, worker_id: int) -> None:
    """The floor: claim with a bare UPDATE, finish each run."""
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE run SET status = 'running', lease_owner = %s WHERE id IN ("
                    "SELECT id FROM run WHERE status = 'queued' ORDER BY id LIMIT %s "
                    "FOR UPDATE SKIP LOCKED) RETURNING id",
                    [worker_id, BATCH],
                ).fetchall()
            ]
            if not ids:
                return
            for run_id in ids:
                conn.execute("UPDATE run SET status = 'succeeded' WHERE id = %s", [run_id])


def _measure(url: str, plan: Any, target: Any, processes: int, runs: int) -> float:
    _reset(url, runs)
    procs = [multiprocessing.Process(target=target, args=(url, i + 1)) for i in range(processes)]
    started = time.perf_counter()
    plan(url)
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        done = conn.execute("SELECT count(*) FROM run WHERE status = 'succeeded'").fetchone()
    assert done == (runs,), f"{done} of {runs} runs finished"
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with throwaway_database() as url:
        rows = []
        ratios = []
        for processes in (1, 2, 4):
            ours, bare = [], []
            for _ in range(args.rounds):  # alternate to share the machine's noise
                ours.append(_measure(url, _sentinel_plan, _sentinel_worker, processes, args.runs))
                bare.append(_measure(url, _bare_plan, _bare_worker, processes, args.runs))
            o, b = statistics.median(ours), statistics.median(bare)
            ratios.append(o / b)
            rows.append((processes, o, b, o / b))
        print(f"{'workers':>7}  {'sentinel runs/s':>15}  {'bare runs/s':>11}  {'ratio':>5}")
        for processes, o, b, r in rows:
            print(f"{processes:>7}  {o:>15.0f}  {b:>11.0f}  {r:>5.2f}")
        print(f"batch={BATCH} runs={args.runs} rounds={args.rounds}")
        print(f"ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
