"""Prometheus metrics of one Sentinel process.

Every metric lives on the module's own `REGISTRY` (not prometheus-client's
global one), so importing Sentinel in another program adds nothing to that
program's metrics, and tests can read exactly what Sentinel exports. The health
server (`sentinel.health`) serves `generate_latest(REGISTRY)` on `/metrics`
when `SENTINEL_METRICS_PORT` is set.

Counters count what *this* process did since it started; sum them over the
fleet in PromQL. The alert rules in `deploy/monitoring/` use these names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from sentinel.types import RunStatus, Severity

REGISTRY = CollectorRegistry()

RUNS_CLAIMED = Counter(
    "sentinel_runs_claimed",
    "Runs this worker claimed.",
    registry=REGISTRY,
)
RUNS_PLANNED = Counter(
    "sentinel_runs_planned",
    "Runs this worker planned, by what made the stream due: clock (the run "
    "interval's tick), announced (ingest's notification) or sweep (new events "
    "nobody announced).",
    ["by"],
    registry=REGISTRY,
)
RUNS_FINISHED = Counter(
    "sentinel_runs_finished",
    "Runs this worker finished, by outcome: succeeded, failed (retried later) or dead.",
    ["status"],
    registry=REGISTRY,
)
PASS_SECONDS = Histogram(
    "sentinel_pass_duration_seconds",
    "Wall time of one sentinel pass (claim to completion or failure).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "sentinel_events_processed",
    "Events read by the passes this worker completed.",
    registry=REGISTRY,
)
DETECTIONS = Counter(
    "sentinel_detections",
    "Detections written by this worker, by severity (info, warning, critical).",
    ["severity"],
    registry=REGISTRY,
)
RECOMMENDATIONS = Counter(
    "sentinel_recommendations",
    "Recommendations written by this worker.",
    registry=REGISTRY,
)
HEARTBEAT_AGE = Gauge(
    "sentinel_heartbeat_age_seconds",
    "Seconds since this worker's last successful heartbeat (grows while heartbeats fail).",
    registry=REGISTRY,
)
LEASE_LOSSES = Counter(
    "sentinel_lease_losses",
    "Passes whose lease was lost before completion (nothing was written).",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "sentinel_queue_depth",
    "Queued runs in the whole fleet, as last sampled by this worker.",
    registry=REGISTRY,
)
RUNS_IN_HAND = Gauge(
    "sentinel_runs_in_hand",
    "Runs this worker currently holds.",
    registry=REGISTRY,
)
NOTIFICATIONS_SENT = Counter(
    "sentinel_notifications_sent",
    "Notifications this worker delivered, by channel.",
    ["channel"],
    registry=REGISTRY,
)
NOTIFICATIONS_FAILED = Counter(
    "sentinel_notifications_failed",
    "Notification deliveries that failed and will be retried, by channel.",
    ["channel"],
    registry=REGISTRY,
)
NOTIFICATIONS_DEAD = Counter(
    "sentinel_notifications_dead",
    "Notifications given up on (out of attempts, or refused for good), by channel.",
    ["channel"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "sentinel_notification_delivery_seconds",
    "From a notification written (with its finding) to delivered, by channel.",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "sentinel_outbox_depth",
    "Undelivered notifications in the whole fleet, as last sampled by this worker.",
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "sentinel_outbox_oldest_age_seconds",
    "Age of the oldest undelivered notification (keeps growing while the database is away).",
    registry=REGISTRY,
)
# Alarm-system health (`sentinel report alarms` over its default 7 days),
# recomputed by the worker at most once a minute (worker/alarms.py) and only
# where /metrics is served: the whole fleet's findings, the same on every
# worker (take max() over them), kept through a database outage.
ALARM_FINDINGS = Gauge(
    "sentinel_alarm_findings",
    "Annunciated findings (neither shelved nor suppressed) opened in the last 7 days.",
    registry=REGISTRY,
)
ALARM_RATE_AVERAGE = Gauge(
    "sentinel_alarm_rate_per_10m_average",
    "Findings per 10 minutes over the last 7 days, on average (EEMUA 191: about 1).",
    registry=REGISTRY,
)
ALARM_RATE_PEAK = Gauge(
    "sentinel_alarm_rate_per_10m_peak",
    "The most findings in one 10-minute window of the last 7 days (over 10: a flood).",
    registry=REGISTRY,
)
ALARM_LAST_10M = Gauge(
    "sentinel_alarm_findings_last_10m",
    "Findings opened in the last 10 minutes.",
    registry=REGISTRY,
)
ALARM_IN_FLOOD = Gauge(
    "sentinel_alarm_in_flood",
    "1 while the plant is in an alarm flood (its last 10 minutes are a flood window).",
    registry=REGISTRY,
)
ALARM_FLOODS = Gauge(
    "sentinel_alarm_floods",
    "Flood periods in the last 7 days.",
    registry=REGISTRY,
)
ALARM_FLOOD_RATIO = Gauge(
    "sentinel_alarm_flood_time_ratio",
    "Share of the last 7 days in flood, 0 to 1 (ISA-18.2: under 0.01).",
    registry=REGISTRY,
)
ALARM_CHATTERING = Gauge(
    "sentinel_alarm_chattering",
    "Rule-and-stream pairs that opened 3 or more findings within a minute in the last 7 days.",
    registry=REGISTRY,
)
ALARM_STALE = Gauge(
    "sentinel_alarm_stale",
    "Findings active and unacknowledged for over 24 hours, now.",
    registry=REGISTRY,
)
ALARM_TOP10_RATIO = Gauge(
    "sentinel_alarm_top10_ratio",
    "Share of the last 7 days' findings opened by the 10 most frequent rules, 0 to 1.",
    registry=REGISTRY,
)
ALARM_SHELVES = Gauge(
    "sentinel_alarm_shelves",
    "Live shelves, now.",
    registry=REGISTRY,
)
ALARM_OLDEST_SHELF_AGE = Gauge(
    "sentinel_alarm_oldest_shelf_age_seconds",
    "Age of the oldest live shelf (0 when none).",
    registry=REGISTRY,
)
ALARM_NOT_ANNUNCIATED = Gauge(
    "sentinel_alarm_not_annunciated_findings",
    "Findings of the last 7 days written shelved or suppressed, by why (not in the figures).",
    ["why"],
    registry=REGISTRY,
)
ALARM_REPORT_TIME = Gauge(
    "sentinel_alarm_report_timestamp_seconds",
    "When the alarm gauges were last computed (the database clock, Unix time; 0: not yet).",
    registry=REGISTRY,
)
WORKER_INFO = Info(
    "sentinel_worker",
    "This worker: name, role and Sentinel version.",
    registry=REGISTRY,
)

# Export every label value from the start (at 0), so that rate() and increase()
# see the first dead run or critical detection instead of a series appearing.
for _status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DEAD):
    RUNS_FINISHED.labels(_status.value)
for _severity in Severity:
    DETECTIONS.labels(_severity.value)
for _why in ("shelved", "suppressed"):
    ALARM_NOT_ANNUNCIATED.labels(_why)

__all__ = [
    "ALARM_CHATTERING",
    "ALARM_FINDINGS",
    "ALARM_FLOODS",
    "ALARM_FLOOD_RATIO",
    "ALARM_IN_FLOOD",
    "ALARM_LAST_10M",
    "ALARM_NOT_ANNUNCIATED",
    "ALARM_OLDEST_SHELF_AGE",
    "ALARM_RATE_AVERAGE",
    "ALARM_RATE_PEAK",
    "ALARM_REPORT_TIME",
    "ALARM_SHELVES",
    "ALARM_STALE",
    "ALARM_TOP10_RATIO",
    "DELIVERY_SECONDS",
    "DETECTIONS",
    "EVENTS_PROCESSED",
    "HEARTBEAT_AGE",
    "LEASE_LOSSES",
    "NOTIFICATIONS_DEAD",
    "NOTIFICATIONS_FAILED",
    "NOTIFICATIONS_SENT",
    "OUTBOX_DEPTH",
    "OUTBOX_OLDEST_AGE",
    "PASS_SECONDS",
    "QUEUE_DEPTH",
    "RECOMMENDATIONS",
    "REGISTRY",
    "RUNS_CLAIMED",
    "RUNS_FINISHED",
    "RUNS_IN_HAND",
    "WORKER_INFO",
]
