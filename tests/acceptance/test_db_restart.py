"""A database that restarts under a running fleet: the workers ride it out."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from sentinel.db import migrate
from sentinel.ingest.store import ingest_events
from sentinel.sample import generate
from tests import pg
from tests.acceptance.fleet import all_processed, fleet, scalar, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def private_server() -> Iterator[pg.Server]:
    """A server of our own, to stop and start."""
    server = pg.embedded()
    yield server
    pg.destroy(server)


def test_workers_ride_out_a_database_restart_and_process_every_event_once(
    private_server: pg.Server, tmp_path: Path
) -> None:
    url = private_server.create_database("sentinel")
    migrate.upgrade(url)
    events = generate.generate(datetime(2026, 11, 22, 6, tzinfo=UTC))
    half = len(events) // 2
    with psycopg.connect(url, autocommit=True) as conn:
        ingest_events(conn, events[:half])
    with fleet(url, tmp_path, 3) as workers:
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
