"""The alarm-system health gauges on a real Postgres: the worker's loop
recomputes them at most once a minute, a scrape of /metrics serves them
without the database, and through an outage of the database the last values
stay; only a worker serving /metrics has them."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from sentinel.health import HealthServer
from sentinel.metrics import REGISTRY
from sentinel.settings import Settings
from sentinel.worker.alarms import AlarmGauges, AlarmGaugesConfig
from tests.integration.alarm_history import History


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    # Short waits: the outage below must fail the refresh in about a second.
    with ConnectionPool(
        db_url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
        timeout=1,
        reconnect_timeout=1,
    ) as opened:
        yield opened


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels or None)


def _flood(conn: psycopg.Connection, n: int) -> None:
    """`n` findings opened in the last few minutes, on the database's clock."""
    [(now,)] = conn.execute("SELECT now()")
    h = History(conn, now)
    for j in range(n):
        h.finding(now - timedelta(minutes=3) + timedelta(seconds=j), f"r.{j}", f"plant/m-{j}")


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        body = reply.read().decode()
    out = {}
    for line in body.splitlines():
        if line.startswith("sentinel_alarm_") and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_refreshed_once_a_minute_and_kept_through_an_outage(
    db_url: str, conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    _flood(conn, 12)
    gauges = AlarmGauges(pool, AlarmGaugesConfig(every_seconds=60))
    gauges.tick(1000.0)  # the first tick computes at once
    assert _value("sentinel_alarm_findings") == 12
    assert _value("sentinel_alarm_in_flood") == 1
    assert _value("sentinel_alarm_findings_last_10m") == 12
    assert _value("sentinel_alarm_rate_per_10m_peak") == 12
    assert _value("sentinel_alarm_floods") == 1
    assert _value("sentinel_alarm_rate_per_10m_average") == pytest.approx(12 / 1008)
    stamped = _value("sentinel_alarm_report_timestamp_seconds")
    assert stamped is not None and stamped > 0

    _flood(conn, 3)
    gauges.tick(1030.0)  # within the minute: not recomputed
    assert _value("sentinel_alarm_findings") == 12
    gauges.tick(1060.0)
    assert _value("sentinel_alarm_findings") == 15

    stamped = _value("sentinel_alarm_report_timestamp_seconds")
    _flood(conn, 3)  # a refresh that reached the database would count 18
    server = HealthServer(0, lambda: (True, "ok"), host="127.0.0.1")
    admin = make_conninfo(db_url, dbname="postgres")
    name = conninfo_to_dict(db_url)["dbname"]
    with server, psycopg.connect(admin, autocommit=True) as root:
        root.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            root.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            gauges.tick(1120.0)  # fails, bounded by the pool's one-second wait
            scraped = _scrape(server.port)  # the scrape never needs the database
        finally:
            root.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert scraped["sentinel_alarm_findings"] == 15
    assert scraped["sentinel_alarm_in_flood"] == 1
    assert scraped['sentinel_alarm_not_annunciated_findings{why="shelved"}'] == 0
    assert _value("sentinel_alarm_report_timestamp_seconds") == stamped
    gauges.tick(1180.0)  # the database is back: recomputed
    assert _value("sentinel_alarm_findings") == 18
    again = _value("sentinel_alarm_report_timestamp_seconds")
    assert again is not None and stamped is not None and again > stamped


def test_only_a_worker_serving_metrics_has_them() -> None:
    assert AlarmGaugesConfig.from_settings(Settings()) is None
    assert AlarmGaugesConfig.from_settings(Settings(metrics_port=9108)) == AlarmGaugesConfig()
