"""A worker in-process while its database goes away: what it reports, and the
runs an outage made it drop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from sentinel.db import migrate
from sentinel.metrics import REGISTRY
from sentinel.settings import load_settings
from sentinel.worker.executor import Unsettled
from sentinel.worker.service import WorkerService
from sentinel.worker.store import RunStore
from tests import pg
from tests.acceptance.fleet import wait_for


def _age() -> float:
    value = REGISTRY.get_sample_value("sentinel_heartbeat_age_seconds")
    assert value is not None
    return value


@pytest.fixture
def private_server() -> Iterator[pg.Server]:
    """A server of our own, to stop and start."""
    server = pg.embedded()
    yield server
    pg.destroy(server)


@pytest.mark.slow
def test_readiness_fails_within_a_heartbeat_and_the_age_grows_while_the_database_is_away(
    private_server: pg.Server,
) -> None:
    url = private_server.create_database("sentinel")
    migrate.upgrade(url)
    settings = load_settings(heartbeat_interval_seconds=1, lease_seconds=5)
    service = WorkerService(settings, url, name="w-outage")
    service.start()
    loop = threading.Thread(target=service.run_forever, daemon=True)
    loop.start()
    try:
        wait_for(lambda: service.readiness()[0], what="ready")
        private_server.stop()
        wait_for(
            lambda: not service.readiness()[0],
            timeout=settings.heartbeat_interval_seconds,
            interval=0.02,
            what="unready within one heartbeat",
        )
        assert service.readiness()[1].startswith("database unavailable: ")
        before = _age()
        wait_for(lambda: _age() > before + 1.5, timeout=5, what="the heartbeat age growing")

        private_server.start()
        wait_for(lambda: service.readiness()[0], timeout=15, what="ready again")
        assert _age() < settings.heartbeat_interval_seconds * 2
    finally:
        service.request_stop()
        loop.join(timeout=30)
        service.close()


def test_a_run_dropped_in_an_outage_is_settled_at_the_next_tick(db_url: str) -> None:
    """The pass failed and the failure could not be recorded: the next tick
    that reaches the database records it (attempt counted, backoff applied)
    instead of leaving the run to wait out its lease."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stream (key) VALUES ('s1')")
    settings = load_settings(worker_role="scheduler")  # plans, never claims
    service = WorkerService(settings, db_url, name="w-settle")
    service.start()
    try:
        parts = service.services
        assert parts.planner.run_once(exact=True) == 1
        with parts.pool.connection() as conn:
            [claim] = RunStore(conn).claim(parts.executor.worker_id, 1, 30)
        parts.executor.defer(Unsettled(claim, "OperationalError: server closed the connection", 60))
        service.tick()
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "SELECT status::text, lease_owner, error, not_before > now() FROM run"
            ).fetchone()
        assert row == ("queued", None, "OperationalError: server closed the connection", True)
        service.tick()  # settled once: nothing left to do
    finally:
        service.close()
