"""Everything the dashboard reads, and the two writes a person may make.

The only module of the TUI that talks to the database. Each call returns
frozen dataclasses; every age is computed by the database against
`coalesce(%(now)s, now())`, so production uses the database clock and tests pin
it. Every query is bounded (LIMITs, capped counts, index probes), so a refresh
costs what is on screen (at most ROW_LIMIT rows a view, counts up to a cap),
not the size of the history.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.db import connect as db_connect
from sentinel.db import queries, schema
from sentinel.errors import DatabaseUnavailable
from sentinel.findings import review
from sentinel.tui import filters

SQL = queries.beside(__file__)

ROW_LIMIT = 200  # rows fetched per view (a screen shows a few dozen)
RECENT_REVIEWED = 100  # acknowledged / dismissed recommendations shown, each
COUNT_CAP = 10_000  # dead runs, open recommendations, events in the last minute
LAG_CAP = 1_000  # per stream: a lag at the cap is shown as "1000+"
EVIDENCE_LIMIT = 200
SILENCE_SECONDS = 300.0  # a stream whose newest event is older than this is "silent"
LONG_FACTOR = 5.0  # a running run is "long" past this many times its stream's usual pass
LONG_FLOOR = 60.0  # … and never before this many seconds
USUAL_RUNS = 20  # the usual pass: the median of this many latest succeeded runs
STATEMENT_TIMEOUT_MS = 10_000


class View(StrEnum):
    FLEET = "fleet"
    RUNS = "runs"
    STREAMS = "streams"
    RECOMMENDATIONS = "recommendations"
    DETECTIONS = "detections"


@dataclass(frozen=True)
class Summary:
    now: datetime
    workers: Mapping[str, int]
    queued: int
    retrying: int
    running: int
    dead: int
    open_recommendations: Mapping[str, int]
    events_last_minute: int
    count_cap: int = COUNT_CAP


@dataclass(frozen=True)
class WorkerRow:
    id: int
    name: str
    role: str
    type: str
    host: str | None
    status: str
    heartbeat_age: float | None
    running: int
    capacity: int | None
    runtimes: tuple[str, ...]
    version: str | None
    uptime: float | None


@dataclass(frozen=True)
class RunRow:
    id: int
    stream: str
    window_start: datetime
    status: str  # as shown: queued, retrying, running, succeeded, failed, dead
    attempts: int
    max_attempts: int
    owner: str | None
    lease_left: float | None
    event_count: int
    detection_count: int
    evidence_count: int
    recommendation_count: int
    duration: float | None
    error: str | None
    recovered: int
    due_in: float | None
    usual_duration: float | None = None  # the median pass of the stream's latest runs
    long: bool = False  # running far longer than usual (LONG_FACTOR, LONG_FLOOR)


@dataclass(frozen=True)
class StreamRow:
    id: int
    key: str
    enabled: bool
    cursor: int
    replaying: bool  # a replay is re-reading the stream (stream.replay_since)
    lag: int
    lag_capped: bool
    last_event_age: float | None
    open_detections: int
    silent: bool
    state: str = "live"  # disabled, replaying, silent or live


@dataclass(frozen=True)
class RecommendationRow:
    id: int
    detection_id: int
    severity: str
    stream: str
    rule: str
    kind: str
    text: str
    status: str
    age: float
    updated_age: float


@dataclass(frozen=True)
class DetectionRow:
    id: int
    severity: str
    stream: str
    rule: str
    kind: str
    summary: str
    first_seen_age: float
    last_seen_age: float
    recommendation_id: int | None
    recommendation_status: str | None
    run_id: int | None


@dataclass(frozen=True)
class Evidence:
    id: int
    kind: str
    event_id: int | None
    data: Any


@dataclass(frozen=True)
class Point:
    occurred_at: str | None
    value: float
    z: float | None
    event_id: int | None
    triggering: bool


@dataclass(frozen=True)
class Detail:
    id: int
    severity: str
    stream: str
    rule: str
    kind: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    run_id: int | None
    anchor_event_id: int | None
    recommendation_id: int | None
    recommendation_status: str | None
    recommendation_text: str | None
    recommendation_age: float | None
    evidence: tuple[Evidence, ...]
    points: tuple[Point, ...] = ()
    baseline: Mapping[str, Any] | None = None
    window: Mapping[str, Any] | None = None
    rule_as_was: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Snapshot:
    view: View
    summary: Summary
    rows: tuple[Any, ...] = field(default=())
    total: int = 0  # rows the filter lets through, counted up to COUNT_CAP
    count_cap: int = COUNT_CAP


class Source:
    """A lazily (re)opened connection; a lost one is dropped and reopened on
    the next call, so callers see `DatabaseUnavailable` and simply retry."""

    def __init__(self, url: str, *, now: datetime | None = None) -> None:
        self.url = url
        self.now = now
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    # ---- connection -------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            try:
                self._conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=db_connect.CONNECT_TIMEOUT,
                    application_name="sentinel-tui",
                    options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                    # never a generic plan: the filters' empty lists must fold away
                    prepare_threshold=None,
                )
            except psycopg.OperationalError as exc:
                raise db_connect.explain(exc, self.url) from exc
        return self._conn

    def _read(self, *steps: tuple[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Run named queries in one read-only transaction (one `now()`)."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                    cur.execute("SET TRANSACTION READ ONLY")
                    results = []
                    for name, params in steps:
                        cur.execute(SQL[name], {"now": self.now, **params})
                        results.append(cur.fetchall())
                    return results
            except psycopg.OperationalError as exc:
                self._drop()
                raise DatabaseUnavailable(_one_line(exc)) from exc
            except psycopg.Error:
                if conn.broken:
                    self._drop()
                raise

    def ping(self) -> None:
        """Connect now: raises DatabaseUnavailable with one clear line."""
        with self._lock:
            self._connection()

    # ---- reads ------------------------------------------------------------

    def summary(self) -> Summary:
        return _summary(self._read(_SUMMARY)[0][0])

    def snapshot(
        self, view: View, flt: filters.Filter = filters.Filter(), *, show_empty: bool = False
    ) -> Snapshot:
        summary_rows, rows, count = self._read(*statements(view, flt, show_empty=show_empty))
        return Snapshot(
            view=view,
            summary=_summary(summary_rows[0]),
            rows=_ROWS[view](rows),
            total=count[0]["n"],
        )

    def rows(
        self, view: View, flt: filters.Filter = filters.Filter(), *, show_empty: bool = False
    ) -> tuple[Any, ...]:
        rows: tuple[Any, ...] = self.snapshot(view, flt, show_empty=show_empty).rows
        return rows

    def workers(self) -> tuple[WorkerRow, ...]:
        return self.rows(View.FLEET)  # type: ignore[no-any-return]

    def runs(self) -> tuple[RunRow, ...]:
        return self.rows(View.RUNS)  # type: ignore[no-any-return]

    def streams(self) -> tuple[StreamRow, ...]:
        return self.rows(View.STREAMS)  # type: ignore[no-any-return]

    def recommendations(self) -> tuple[RecommendationRow, ...]:
        return self.rows(View.RECOMMENDATIONS)  # type: ignore[no-any-return]

    def detections(self) -> tuple[DetectionRow, ...]:
        return self.rows(View.DETECTIONS)  # type: ignore[no-any-return]

    def detail(self, detection_id: int) -> Detail | None:
        head, items = self._read(
            ("detection", {"detection_id": detection_id}),
            ("evidence", {"detection_id": detection_id, "limit": EVIDENCE_LIMIT}),
        )
        if not head:
            return None
        evidence = tuple(Evidence(**row) for row in items)
        return Detail(**head[0], evidence=evidence, **interpret(evidence))

    # ---- the two writes ---------------------------------------------------

    def acknowledge(self, recommendation_id: int) -> review.Reviewed:
        return self._write(review.acknowledge, recommendation_id)

    def dismiss(self, recommendation_id: int) -> review.Reviewed:
        return self._write(review.dismiss, recommendation_id)

    def _write(self, fn: Any, recommendation_id: int) -> review.Reviewed:
        with self._lock:
            conn = self._connection()
            try:
                result: review.Reviewed = fn(conn, recommendation_id)
                return result
            except psycopg.OperationalError as exc:
                self._drop()
                raise DatabaseUnavailable(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# ---- row builders -----------------------------------------------------------

_SUMMARY = ("summary", {"cap": COUNT_CAP})
_STEPS: dict[View, tuple[str, dict[str, Any]]] = {
    View.FLEET: ("workers", {"limit": ROW_LIMIT}),
    View.RUNS: (
        "runs",
        {
            "limit": ROW_LIMIT,
            "long_factor": LONG_FACTOR,
            "long_floor": LONG_FLOOR,
            "usual_runs": USUAL_RUNS,
        },
    ),
    View.STREAMS: ("streams", {"limit": ROW_LIMIT, "lag_cap": LAG_CAP}),
    View.RECOMMENDATIONS: ("recommendations", {"limit": ROW_LIMIT, "recent": RECENT_REVIEWED}),
    View.DETECTIONS: ("detections", {"limit": ROW_LIMIT}),
}

SHOWN_RUN_STATUSES = ("queued", "retrying", "running", "succeeded", "failed", "dead")
STREAM_STATES = ("live", "silent", "replaying", "disabled")
# Each view's qualifiers: closed ones (their values) and free-text ones.
QUALIFIERS: dict[View, tuple[dict[str, tuple[str, ...]], tuple[str, ...]]] = {
    View.FLEET: ({"status": schema.WORKER_STATUSES}, ("worker",)),
    View.RUNS: ({"status": SHOWN_RUN_STATUSES}, ("stream", "worker")),
    View.STREAMS: ({"status": STREAM_STATES}, ("stream",)),
    View.RECOMMENDATIONS: (
        {"status": schema.RECOMMENDATION_STATUSES, "severity": schema.SEVERITIES},
        ("stream", "rule"),
    ),
    View.DETECTIONS: (
        {"status": (*schema.RECOMMENDATION_STATUSES, "-"), "severity": schema.SEVERITIES},
        ("stream", "rule"),
    ),
}


def filter_params(view: View, flt: filters.Filter, *, show_empty: bool = False) -> dict[str, Any]:
    """The filter as the view's query parameters (see `filters.params`)."""
    closed, text = QUALIFIERS[view]
    params: dict[str, Any] = filters.params(flt, closed, text)
    if view == View.RUNS:  # retrying is a queued run that failed before
        shown = params.pop("status")
        params["run_status"] = [s for s in schema.RUN_STATUSES if s in shown] + (
            ["queued"] if "retrying" in shown and "queued" not in shown else []
        )
        params["retrying"] = [False] * ("queued" in shown) + [True] * ("retrying" in shown)
        params["show_empty"] = show_empty
        params["filtered"] = any(params[k] for k in params if k.endswith(("_re", "_not")))
    if view == View.STREAMS:
        params["silence"] = SILENCE_SECONDS
    return params


def statements(
    view: View, flt: filters.Filter = filters.Filter(), *, show_empty: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """The named queries, with their parameters, that one snapshot of a view
    runs (the bench explains them): the header, the rows, how many match."""
    name, params = _STEPS[view]
    where = filter_params(view, flt, show_empty=show_empty)
    return [_SUMMARY, (name, {**params, **where}), (f"{name}_count", {**where, "cap": COUNT_CAP})]


def _summary(row: dict[str, Any]) -> Summary:
    return Summary(
        now=row["now"],
        workers=dict(row["workers"]),
        queued=row["queued"],
        retrying=row["retrying"],
        running=row["running"],
        dead=row["dead"],
        open_recommendations=dict(row["open_recommendations"]),
        events_last_minute=row["events_last_minute"],
    )


def _workers(rows: list[dict[str, Any]]) -> tuple[WorkerRow, ...]:
    out = []
    for row in rows:
        runtimes, capacity, version = row["runtimes"], row["capacity"], row["version"]
        started = _timestamp(row["started_at"]) or row["created"]
        out.append(
            WorkerRow(
                id=row["id"],
                name=row["name"],
                role=row["role"],
                type=row["type"],
                host=row["host"],
                status=row["status"],
                heartbeat_age=row["heartbeat_age"],
                running=row["running"],
                capacity=int(capacity) if capacity and capacity.isdigit() else None,
                runtimes=tuple(str(r) for r in runtimes) if isinstance(runtimes, list) else (),
                version=str(version) if version is not None else None,
                uptime=(row["now"] - started).total_seconds() if started else None,
            )
        )
    return tuple(out)


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def run_status(status: str, attempts: int) -> str:
    """The status as people read it: a queued run that failed before is retrying."""
    return "retrying" if status == "queued" and attempts > 0 else status


def _runs(rows: list[dict[str, Any]]) -> tuple[RunRow, ...]:
    return tuple(
        RunRow(**{**row, "status": run_status(row["status"], row["attempts"])}) for row in rows
    )


def _streams(rows: list[dict[str, Any]]) -> tuple[StreamRow, ...]:
    out = []
    for row in rows:
        age = row["last_event_age"]
        out.append(
            StreamRow(
                **row,
                lag_capped=row["lag"] >= LAG_CAP,
                silent=row["enabled"] and (age is None or age > SILENCE_SECONDS),
            )
        )
    return tuple(out)


def _recommendations(rows: list[dict[str, Any]]) -> tuple[RecommendationRow, ...]:
    return tuple(RecommendationRow(**row) for row in rows)


def _detections(rows: list[dict[str, Any]]) -> tuple[DetectionRow, ...]:
    return tuple(DetectionRow(**row) for row in rows)


_ROWS: dict[View, Any] = {
    View.FLEET: _workers,
    View.RUNS: _runs,
    View.STREAMS: _streams,
    View.RECOMMENDATIONS: _recommendations,
    View.DETECTIONS: _detections,
}


# ---- evidence ---------------------------------------------------------------


def interpret(evidence: tuple[Evidence, ...]) -> dict[str, Any]:
    """Pull the chartable parts out of the evidence: points (the series and
    window leading up to it, and the triggering ones), the baseline, the window
    and the rule as it was."""
    points: dict[tuple[Any, Any], Point] = {}
    baseline = window = rule = None

    def add(raw: Any, event_id: int | None, triggering: bool) -> None:
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, dict):
                continue
            value = item.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            eid = item.get("event_id", event_id)
            when = item.get("occurred_at")
            key = (eid, when) if eid is not None or when is not None else (len(points), None)
            old = points.get(key)
            z = item.get("z")
            points[key] = Point(
                occurred_at=str(when) if when is not None else None,
                value=float(value),
                z=float(z) if isinstance(z, int | float) else None,
                event_id=eid if isinstance(eid, int) else None,
                triggering=triggering or (old.triggering if old else False),
            )

    for item in evidence:
        data = item.data
        if item.kind == "baseline" and isinstance(data, dict):
            baseline = data
        elif item.kind == "rule" and isinstance(data, dict):
            rule = data
        elif item.kind == "window":
            if isinstance(data, dict):
                window = data
                add(data.get("points", []), None, False)
            else:
                add(data, None, False)
        elif item.kind == "series" and isinstance(data, dict):
            add(data.get("points", []), None, False)  # the readings leading up to it
        elif item.kind in ("trigger", "point"):
            raw = data.get("points", data) if isinstance(data, dict) else data
            add(raw, item.event_id, True)
    ordered = sorted(points.values(), key=lambda p: (p.occurred_at or "", p.event_id or 0))
    return {"points": tuple(ordered), "baseline": baseline, "window": window, "rule_as_was": rule}
