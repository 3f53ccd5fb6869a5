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
from datetime import datetime
from pathlib import Path

import psycopg

from sentinel.db import migrate
from sentinel.db.connect import connection
from sentinel.errors import SentinelError
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.sample import generate
from sentinel.worker.packs import PackStore

FLEET_SIZE = 3
TIMEOUT_SECONDS = 90.0

RESET_SQL = """
TRUNCATE finding_journal, recommendation, evidence, detection, rule_state, run, event, stream,
         rule_pack, worker, shelf
RESTART IDENTITY CASCADE
"""

# Done once every worker of the fleet has registered (so the summary shows the
# whole fleet, even on a run with nothing new) and nothing is left to do.
PENDING_SQL = """
SELECT
  (SELECT count(*) FROM worker
    WHERE status = 'active' AND (meta->>'pid')::int = ANY(%(pids)s)) AS registered,
  (SELECT count(*) FROM run WHERE status IN ('queued', 'running')) AS active_runs,
  (SELECT count(*) FROM stream s
    WHERE s.enabled AND EXISTS (SELECT 1 FROM stream_activity a
                                 WHERE a.stream = s.key AND a.xact >= s.cursor_xid)) AS behind
"""


@dataclass(frozen=True)
class DemoResult:
    events: int
    duplicates: int
    workers: list[tuple[str, int]]  # name, runs it completed in this demo
    runs: dict[str, int]
    recommendations: list[tuple[str, str, str, str]]  # severity, stream, rule, text


def run_demo(url: str, *, reset: bool, log_dir: Path, say: Callable[[str], None]) -> DemoResult:
    say("migrating the database")
    migrate.upgrade(url)
    with connection(url) as conn:
        if reset:
            say("resetting: removing previous demo data")
            conn.execute(RESET_SQL)
        pack = packs.load_path(packs.bundled_pack_path())
        PackStore(conn).save(pack)
        say(f"loaded the sample plant's rule pack ({len(pack.rules)} rules)")
        events = generate.generate(generate.recent_start())
        result = ingest_events(conn, events)
        started = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        say(
            f"ingested {result.accepted} sample events "
            f"({result.duplicate} already stored, {len(result.rejected)} rejected)"
        )
    fleet = _start_fleet(url, log_dir)
    say(f"started a local fleet of {len(fleet)} `sentinel worker` processes (logs in {log_dir})")
    try:
        _wait_until_processed(url, fleet, log_dir, say)
    finally:
        _stop_fleet(fleet)
    say("stopped the fleet (SIGTERM: drained and deregistered)")
    return _summary(url, result.accepted, result.duplicate, started)


def _start_fleet(url: str, log_dir: Path) -> list[subprocess.Popen[bytes]]:
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
    log_dir.mkdir(parents=True, exist_ok=True)
    fleet = []
    for number in range(1, FLEET_SIZE + 1):
        with open(log_dir / f"worker-{number}.log", "wb") as log:
            fleet.append(
                subprocess.Popen(
                    [sys.executable, "-m", "sentinel", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    return fleet


def _wait_until_processed(
    url: str,
    fleet: list[subprocess.Popen[bytes]],
    log_dir: Path,
    say: Callable[[str], None],
) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    with connection(url) as conn:
        while time.monotonic() < deadline:
            if all(process.poll() is not None for process in fleet):
                last = (log_dir / "worker-1.log").read_text(errors="replace").strip()
                tail = last.splitlines()[-1] if last else "no output"
                raise SentinelError(f"every demo worker exited; worker-1 said: {tail}")
            row = conn.execute(PENDING_SQL, {"pids": [p.pid for p in fleet]}).fetchone()
            assert row is not None
            registered, active, behind = row
            if registered == len(fleet) and not active and not behind:
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


def _summary(url: str, accepted: int, duplicate: int, started: datetime) -> DemoResult:
    with connection(url) as conn:
        runs = dict(
            conn.execute("SELECT status::text, count(*) FROM run GROUP BY status").fetchall()
        )
        workers = conn.execute(
            """
            SELECT w.name, count(r.id)
              FROM worker w
              JOIN run r ON r.lease_owner = w.id AND r.finished_at >= %s
             GROUP BY w.name ORDER BY w.name
            """,
            [started],
        ).fetchall()
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
