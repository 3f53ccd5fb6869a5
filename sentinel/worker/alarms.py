"""The alarm-system health gauges on `/metrics`: `sentinel report alarms`'s
figures over its default period (views/alarms.py), recomputed by the loop on
the worker's pool at most once a minute. A scrape reads the gauges only,
never the database; when the database is away the last values stay (and
`sentinel_alarm_report_timestamp_seconds` says how old they are).

Only a worker that serves `/metrics` (SENTINEL_METRICS_PORT) computes them:
the report scans the period's findings, and nobody else would read them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from psycopg_pool import ConnectionPool

from sentinel import metrics
from sentinel.errors import first_line
from sentinel.registration.heartbeat import DB_ERRORS
from sentinel.settings import Settings
from sentinel.views import alarms
from sentinel.views.alarms import AlarmReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlarmGaugesConfig:
    every_seconds: float = 60.0
    since: timedelta = alarms.DEFAULT_SINCE

    def __post_init__(self) -> None:
        if self.every_seconds <= 0:
            raise ValueError(f"invalid alarm gauges config: {self}")
        alarms.buckets_for(self.since)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlarmGaugesConfig | None:
        """None (no gauges) unless the worker serves /metrics."""
        return cls() if settings.metrics_port is not None else None


class AlarmGauges:
    def __init__(self, pool: ConnectionPool, config: AlarmGaugesConfig) -> None:
        self.pool = pool
        self.config = config
        self._next: float | None = None
        self._failing = False

    def tick(self, now: float) -> None:
        """At the first tick, then every `every_seconds`; a database error is
        logged (once per outage) and the gauges keep their values."""
        if self._next is not None and now < self._next:
            return
        self._next = now + self.config.every_seconds
        try:
            self.run_once()
        except DB_ERRORS as exc:
            if not self._failing:
                log.warning(
                    "alarm gauges not refreshed; keeping the last values",
                    extra={"action": "alarm_gauges", "error": first_line(exc)},
                )
            self._failing = True
        else:
            self._failing = False

    def run_once(self) -> AlarmReport:
        with self.pool.connection() as conn:
            report = alarms.read(conn, since=self.config.since)
        publish(report)
        return report


def publish(r: AlarmReport) -> None:
    """The report's figures onto the gauges."""
    metrics.ALARM_FINDINGS.set(r.findings)
    metrics.ALARM_RATE_AVERAGE.set(r.average_per_10m)
    metrics.ALARM_RATE_PEAK.set(r.peak_per_10m)
    metrics.ALARM_LAST_10M.set(r.last_10m)
    metrics.ALARM_IN_FLOOD.set(1 if r.in_flood else 0)
    metrics.ALARM_FLOODS.set(len(r.floods))
    metrics.ALARM_FLOOD_RATIO.set(r.flood_percent / 100)
    metrics.ALARM_CHATTERING.set(r.chattering_total)
    metrics.ALARM_STALE.set(r.stale_total)
    metrics.ALARM_TOP10_RATIO.set(r.top10_percent / 100)
    metrics.ALARM_SHELVES.set(r.shelves_total)
    metrics.ALARM_OLDEST_SHELF_AGE.set(r.oldest_shelf_age or 0.0)
    metrics.ALARM_NOT_ANNUNCIATED.labels("shelved").set(r.shelved_findings)
    metrics.ALARM_NOT_ANNUNCIATED.labels("suppressed").set(r.suppressed_findings)
    metrics.ALARM_REPORT_TIME.set(r.now.timestamp())
