"""A database that restarts under a running fleet: the workers ride it out,
with the pool direct or through PgBouncer."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sentinel.db import migrate
from sentinel.ingest.store import ingest_events
from sentinel.sample import generate
from sentinel.settings import load_settings
from tests import pg
from tests.acceptance.fleet import Worker, all_processed, fleet, scalar, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def private_server() -> Iterator[pg.Server]:
    """A server of our own, to stop and start."""
    server = pg.embedded()
    yield server
    pg.destroy(server)


@pytest.fixture(params=["direct", "pgbouncer"])
def private_route(request: pytest.FixtureRequest, private_server: pg.Server) -> Iterator[str]:
    """How the workers reach the private server: directly, or with the pool
    through PgBouncer in transaction mode (which outlives the restart, as it
    would in production) and the session connection direct. Yields the pool's
    URL (the session's is the database's own)."""
    url = private_server.create_database("sentinel")
    migrate.upgrade(url)
    if request.param == "direct":
        yield url
        return
    if pg.pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    with pg.pgbouncer(private_server) as bouncer:
        yield bouncer.url(url)


def test_workers_ride_out_a_database_restart_and_process_every_event_once(
    private_server: pg.Server, private_route: str, tmp_path: Path
) -> None:
    url = private_server.url("sentinel")
    events = generate.generate(generate.recent_start())
    half = len(events) // 2
    with psycopg.connect(url, autocommit=True) as conn:
        ingest_events(conn, events[:half])
    via = {"SENTINEL_DATABASE_URL": private_route, "SENTINEL_SESSION_DATABASE_URL": url}
    with fleet(url, tmp_path, 3, **via) as workers:
        wait_for(lambda: all_processed(url), timeout=60, what="first half processed")
        private_server.stop()
        time.sleep(3)  # the outage itself, not a synchronisation
        assert all(w.alive() for w in workers)
        private_server.start()
        with psycopg.connect(url, autocommit=True) as conn:
            ingest_events(conn, events[half:])
        wait_for(lambda: all_processed(url), timeout=90, interval=0.2, what="second half")
        wait_for(
            lambda: scalar(url, "SELECT count(*) FROM worker WHERE status = 'active'") == 3,
            timeout=30,
            what="every worker active again",
        )
        assert all(w.alive() for w in workers), "no worker exited"
        warnings = [r for w in workers for r in w.records() if r.get("level") == "warning"]
        assert warnings, "the outage was logged"
        for worker in workers:
            worker.signal(signal.SIGTERM)
        assert [w.wait() for w in workers] == [0, 0, 0]
    processed = scalar(url, "SELECT sum(event_count) FROM run WHERE status = 'succeeded'")
    assert processed == len(events)
    assert scalar(url, "SELECT count(*) FROM event") == len(events)


def test_an_outage_longer_than_the_lease_mid_pass_leaves_no_run_stuck(
    private_server: pg.Server, tmp_path: Path
) -> None:
    """Default settings; Postgres stopped mid-pass on a large stream for longer
    than the lease, then started again: the run is finished within a lease of
    the server's return, and every event is counted once."""
    url = private_server.create_database("sentinel")
    migrate.upgrade(url)
    events = 300_000
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO event (source, stream, kind, occurred_at, external_id, payload) "
            "SELECT 'gen', 'plant-a/line-1/press-1', 'measurement', "
            "       timestamptz '2026-11-01' + g * interval '1 second', 'e' || g, "
            "       jsonb_build_object('temperature_c', 70 + g %% 10, 'pressure_bar', 100) "
            "  FROM generate_series(1, %s) g",
            [events],
        )
    defaults = load_settings()
    worker = Worker(url, tmp_path, "w-outage", {"SENTINEL_LOG_FORMAT": "json"})
    try:
        # Mid-pass: the first batch is committed, the rest is not.
        mid_pass = wait_for(
            lambda: scalar(url, "SELECT id FROM run WHERE status = 'running' AND event_count > 0"),
            timeout=120,
            interval=0.02,
            what="a pass half way",
        )
        private_server.stop()
        # The outage lasts until the worker itself has gone longer than the
        # lease without a heartbeat (its own log says so), plus a margin.
        wait_for(
            lambda: any(
                (r.get("heartbeat_age") or 0) > defaults.lease_seconds + 5
                for r in worker.records()
                if r.get("message") == "database unavailable"
            ),
            timeout=defaults.lease_seconds + 30,
            interval=0.5,
            what="the worker past its lease without a heartbeat",
        )
        assert worker.alive()
        private_server.start()
        wait_for(
            lambda: all_processed(url)
            and scalar(url, "SELECT status::text FROM run WHERE id = %s", [mid_pass])
            == "succeeded",
            timeout=defaults.lease_seconds,
            interval=0.2,
            what="every event processed within a lease of the server's return",
        )
        counted = scalar(url, "SELECT sum(event_count) FROM run WHERE status = 'succeeded'")
        assert counted == events
        outage = [r for r in worker.records() if r.get("message") == "database unavailable"]
        assert outage and all(r.get("error") for r in outage), "the outage was logged with why"
        assert len(outage) < defaults.lease_seconds + 5, "the retries back off"
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    finally:
        worker.stop()
