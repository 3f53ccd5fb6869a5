"""`sentinel demo`: the sample plant, end to end, on whatever database is
configured (the embedded one by default).

Migrate, load the sample rule pack, ingest the sample events with their
injected faults, run a small local fleet of real `sentinel worker` processes
until every event is processed, stop them (SIGTERM: drain and deregister),
and summarise what they found.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from sentinel.db import migrate
from sentinel.db.connect import connection
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.sample import generate
from sentinel.worker.packs import PackStore

FLEET_SIZE = 3
TIMEOUT_SECONDS = 90.0

RESET_SQL = """
TRUNCATE recommendation, evidence, detection, rule_state, run, event, stream, rule_pack, worker
RESTART IDENTITY CASCADE
"""

PENDING_SQL = """
SELECT
  (SELECT count(*) FROM run WHERE status IN ('queued', 'running')) AS active_runs,
  (SELECT count(*) FROM stream s
    WHERE s.enabled AND EXISTS (SELECT 1 FROM event e
                                 WHERE e.stream = s.key AND e.xact >= s.cursor_xid)) AS behind
"""


@dataclass(frozen=True)
class DemoResult:
    events: int
    duplicates: int
    workers: int
    runs: dict[str, int]
    recommendations: list[tuple[str, str, str, str]]  # severity, stream, rule, text


def run_demo(url: str, *, reset: bool, say: Callable[[str], None]) -> DemoResult:
    say("migrating the database")
    migrate.upgrade(url)
    with connection(url) as conn:
        if reset:
            say("resetting: removing previous demo data")
            conn.execute(RESET_SQL)
        pack = packs.load_path(packs.bundled_pack_path())
        PackStore(conn).save(pack)
        say(f"loaded the sample plant's rule pack ({len(pack.rules)} rules)")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
        events = generate.generate(start)
        result = ingest_events(conn, events)
        say(
            f"ingested {result.accepted} sample events "
            f"({result.duplicate} already stored, {len(result.rejected)} rejected)"
        )
    fleet = _start_fleet(url)
    say(f"started a local fleet of {len(fleet)} `sentinel worker` processes")
    try:
        _wait_until_processed(url, say)
    finally:
        _stop_fleet(fleet)
    say("stopped the fleet (SIGTERM: drained and deregistered)")
    return _summary(url, result.accepted, result.duplicate, len(fleet))


def _start_fleet(url: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "SENTINEL_DATABASE_URL": url,
        "SENTINEL_RUN_INTERVAL_SECONDS": "2",
        "SENTINEL_HEARTBEAT_INTERVAL_SECONDS": "1",
        "SENTINEL_LEASE_SECONDS": "10",
        "SENTINEL_LOG_FORMAT": "json",
    }
    env.pop("SENTINEL_WORKER_NAME", None)  # each process gets its own default name
    env.pop("SENTINEL_METRICS_PORT", None)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "sentinel", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(FLEET_SIZE)
    ]


def _wait_until_processed(url: str, say: Callable[[str], None]) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    with connection(url) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(PENDING_SQL).fetchone()
            assert row is not None
            active, behind = row
            if not active and not behind:
                return
            time.sleep(0.5)
    say("the fleet did not finish within the time limit; showing what it found so far")


def _stop_fleet(fleet: list[subprocess.Popen[bytes]]) -> None:
    for process in fleet:
        process.send_signal(signal.SIGTERM)
    for process in fleet:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _summary(url: str, accepted: int, duplicate: int, workers: int) -> DemoResult:
    with connection(url) as conn:
        runs = dict(
            conn.execute("SELECT status::text, count(*) FROM run GROUP BY status").fetchall()
        )
        recommendations = _recommendations(conn)
    return DemoResult(accepted, duplicate, workers, runs, recommendations)


def _recommendations(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    rows = conn.execute(
        """
        SELECT r.severity::text, d.stream, d.rule_ref, r.text
          FROM recommendation r JOIN detection d ON d.id = r.detection_id
         ORDER BY array_position(ARRAY['critical', 'warning', 'info'], r.severity::text),
                  d.stream, d.rule_ref, d.first_seen
        """
    ).fetchall()
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]
