"""The pooled path behind a real PgBouncer in transaction mode (Debian's
`pgbouncer`; skipped where it is not installed): detected, no server-side
prepared statements, the session connection refused through it, and a
worker's round through it."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from sentinel.db.connect import behind_pooler, connect, make_pool, pgbouncer_mode
from sentinel.errors import ConfigError
from sentinel.ingest.store import ingest_events
from sentinel.registration.registrar import Registration
from sentinel.sample import generate
from sentinel.settings import load_settings
from sentinel.worker.service import WorkerService
from tests import pg


@pytest.fixture
def pooled_url(bouncer: pg.Bouncer, db_url: str) -> str:
    return bouncer.url(db_url)


def test_pgbouncer_is_detected_and_the_setting_overrides(pooled_url: str, db_url: str) -> None:
    with (
        psycopg.connect(pooled_url, autocommit=True) as through,
        psycopg.connect(db_url, autocommit=True) as direct,
    ):
        assert behind_pooler(through) and not behind_pooler(direct)
    assert pgbouncer_mode(load_settings(), pooled_url)
    assert not pgbouncer_mode(load_settings(), db_url)
    assert pgbouncer_mode(load_settings(pgbouncer=True), db_url)
    assert not pgbouncer_mode(load_settings(pgbouncer=False), pooled_url)
    with make_pool(pooled_url, max_size=2) as pool:
        assert pool.kwargs["prepare_threshold"] is None
    with make_pool(db_url, max_size=2) as pool:
        assert "prepare_threshold" not in pool.kwargs  # psycopg's default: prepare


def _statement_elsewhere(url: str, *, prepare_threshold: int | None) -> None:
    """Run one statement often enough to be prepared, then again while another
    client holds the server connection it was prepared on."""
    with psycopg.connect(url, autocommit=True, prepare_threshold=prepare_threshold) as mine:
        for _ in range(3):
            mine.execute("SELECT count(*) FROM worker WHERE id > %s", [0])
        with psycopg.connect(url, autocommit=True) as other, other.transaction():
            other.execute("SELECT 1")  # PgBouncer hands it our server connection
            mine.execute("SELECT count(*) FROM worker WHERE id > %s", [0])


def test_server_side_prepared_statements_break_behind_it_and_are_off(pooled_url: str) -> None:
    # What the fix is for: a prepared statement lives on one server connection.
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        _statement_elsewhere(pooled_url, prepare_threshold=0)
    _statement_elsewhere(pooled_url, prepare_threshold=None)
    conn = connect(pooled_url)  # detected: psycopg's default threshold is off
    try:
        assert conn.prepare_threshold is None
    finally:
        conn.close()


def test_a_session_connection_through_pgbouncer_is_refused(pooled_url: str, db_url: str) -> None:
    with make_pool(pooled_url, max_size=2) as pool:
        registration = Registration(load_settings(), pooled_url, pool, name="w-bounced")
        with pytest.raises(ConfigError, match="SENTINEL_SESSION_DATABASE_URL"):
            registration.register()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    environment["SENTINEL_DATABASE_URL"] = pooled_url
    done = subprocess.run(
        [sys.executable, "-m", "sentinel", "worker"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sentinel: error: "), done.stderr
    assert "SENTINEL_SESSION_DATABASE_URL" in lines[0] and "Traceback" not in done.stderr


def test_a_round_with_the_pool_through_pgbouncer_processes_every_event(
    pooled_url: str, db_url: str
) -> None:
    events = generate.generate(generate.recent_start())
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest_events(conn, events)
    settings = load_settings(session_database_url=db_url, max_concurrent_runs=2)
    service = WorkerService(settings, pooled_url, name="w-through")
    service.start()
    try:
        assert service.services.pool.kwargs["prepare_threshold"] is None
        summary = service.run_once()
        again = service.run_once()  # the same statements, many times over
    finally:
        service.close()
    assert summary.ok and len(summary.completed) == len(generate.STREAMS)
    assert sum(c.counts.events for c in summary.completed) == len(events)
    assert again.ok
    with psycopg.connect(db_url) as conn:
        found = {tuple(r) for r in conn.execute("SELECT rule_ref, stream FROM detection")}
    assert found == set(generate.EXPECTED)
