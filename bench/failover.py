"""Seconds from SIGKILL of a worker holding a run to that run's completion by
another worker, with default settings. Median over several trials; ends with
`seconds=<median>` (target: under 2 s). A baseline for context: the time the
surviving worker takes to complete a fresh run it was simply handed (the floor
of claim + pass + complete, no failure involved).

Uses SENTINEL_DATABASE_URL, or a throwaway embedded Postgres.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database
from sentinel.settings import Settings
from tests.acceptance.fleet import Worker, wait_for

DEFAULTS = {"SENTINEL_LOG_FORMAT": "json", "SENTINEL_WORKER_ROLE": "sentinel"}


def _one(url: str, conn: psycopg.Connection, logs: Path, trial: int) -> tuple[float, float]:
    conn.execute("TRUNCATE run, stream RESTART IDENTITY CASCADE")
    conn.execute("INSERT INTO stream (key) VALUES ('bench/failover'), ('bench/fresh')")
    blocker = psycopg.connect(url, autocommit=True)
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE rule_state IN ACCESS EXCLUSIVE MODE")  # hold passes
    conn.execute("INSERT INTO run (stream_id, window_start) VALUES (1, now())")
    victim = Worker(url, logs, f"victim-{trial}", DEFAULTS)
    rescuer = None
    try:
        wait_for(
            lambda: conn.execute(
                "SELECT 1 FROM run r JOIN worker w ON w.id = r.lease_owner "
                "WHERE w.name = %s AND r.status = 'running'",
                [f"victim-{trial}"],
            ).fetchone(),
            what="victim holds the run",
        )
        rescuer = Worker(url, logs, f"rescuer-{trial}", DEFAULTS)
        wait_for(
            lambda: conn.execute(
                "SELECT 1 FROM worker WHERE name = %s AND status = 'active'",
                [f"rescuer-{trial}"],
            ).fetchone(),
            what="rescuer registered",
        )
        time.sleep(0.5)  # let the rescuer settle into its loop
        killed = time.perf_counter()
        victim.signal(signal.SIGKILL)
        blocker.execute("ROLLBACK")
        wait_for(
            lambda: conn.execute(
                "SELECT 1 FROM run WHERE id = 1 AND status = 'succeeded'"
            ).fetchone(),
            timeout=60,
            interval=0.01,
            what="the run finished elsewhere",
        )
        failover = time.perf_counter() - killed
        # Baseline: a fresh run handed to the live rescuer.
        started = time.perf_counter()
        conn.execute("INSERT INTO run (stream_id, window_start) VALUES (2, now())")
        conn.execute("SELECT pg_notify('sentinel_run', '')")
        wait_for(
            lambda: conn.execute(
                "SELECT 1 FROM run WHERE stream_id = 2 AND status = 'succeeded'"
            ).fetchone(),
            timeout=60,
            interval=0.01,
            what="the fresh run",
        )
        return failover, time.perf_counter() - started
    finally:
        blocker.close()
        victim.stop()
        if rescuer is not None:
            rescuer.signal(signal.SIGTERM)
            rescuer.wait()
            rescuer.stop()


def _past_restart_grace(conn: psycopg.Connection) -> None:
    """Liveness locks are not judged in the first heartbeat interval after the
    server starts (docs/registration.md); a throwaway server has just started,
    so wait that out to measure the steady state."""
    grace = Settings().heartbeat_interval_seconds
    row = conn.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())").fetchone()
    assert row is not None
    if (wait := grace - float(row[0])) > 0:
        print(f"waiting {wait:.1f}s: the server started less than {grace:g}s ago")
        time.sleep(wait)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with (
        throwaway_database() as url,
        tempfile.TemporaryDirectory() as logs,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        _past_restart_grace(conn)
        results = [_one(url, conn, Path(logs), t) for t in range(args.trials)]
    failovers = [r[0] for r in results]
    fresh = [r[1] for r in results]
    print(f"{'trial':>5}  {'failover s':>10}  {'fresh run s':>11}")
    for i, (f, b) in enumerate(results):
        print(f"{i:>5}  {f:>10.3f}  {b:>11.3f}")
    print(
        f"median failover {statistics.median(failovers):.3f}s, fresh run "
        f"{statistics.median(fresh):.3f}s"
    )
    print(f"seconds={statistics.median(failovers):.3f}")


if __name__ == "__main__":
    main()
