"""What a person reads, as frozen dataclasses: the rows of every list and
view, the header's counts and a detection with its evidence.

The CLI's tables and `--json` (`dataclasses.asdict`), the dashboard and the
HTTP API to come all show these, so they never disagree. Ages and durations
are seconds, computed by the database against one clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Summary:
    """The header: the fleet, the queue, open recommendations, recent events."""

    now: datetime
    workers: Mapping[str, int]  # by status
    queued: int
    retrying: int
    running: int
    dead: int  # counted up to count_cap
    open_recommendations: Mapping[str, int]  # by severity, up to count_cap in all
    events_last_minute: int  # counted up to count_cap
    count_cap: int
    shelved: int = 0  # open ones on a shelf (not counted as open), up to count_cap
    suppressed: int = 0  # open ones suppressed (not counted as open), up to count_cap
    # Seconds the replica read from is behind its primary; None: the primary.
    replica_lag: float | None = None


@dataclass(frozen=True)
class Stats:
    """The fleet in numbers (the API's /api/stats): the header's counts and
    the runs by status, the queue and its oldest waiting run."""

    now: datetime
    workers: Mapping[str, int]  # by status
    runs: Mapping[str, int]  # by shown status; succeeded, failed, dead up to count_cap
    queue_depth: int  # queued runs, retrying ones included
    oldest_queued_age: float | None  # seconds the longest-waiting due queued run has waited
    open_findings: Mapping[str, int]  # open recommendations by severity, up to count_cap
    events_last_minute: int  # counted up to count_cap
    count_cap: int


@dataclass(frozen=True)
class TokenRow:
    """An API bearer token as listed: never the token, nor its hash."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class WorkerRow:
    id: int
    name: str
    worker_role: str
    worker_type: str
    host: str | None
    status: str
    heartbeat_age: float | None
    running: int  # runs it holds now
    capacity: int | None  # max_concurrent_runs, as it registered
    runtimes: tuple[str, ...]
    version: str | None
    created: datetime
    uptime: float | None  # since it started; an inactive one's stops at its last heartbeat


@dataclass(frozen=True)
class RunRow:
    id: int
    stream: str
    window_start: datetime
    status: str  # as people read it: queued, retrying, running, succeeded, failed, dead
    attempts: int
    max_attempts: int
    owner: str | None
    lease_left: float | None
    event_count: int
    detection_count: int
    evidence_count: int
    recommendation_count: int
    duration: float | None  # a running run's: so far
    error: str | None
    recovered: int
    due_in: float | None
    created: datetime
    started_at: datetime | None
    finished_at: datetime | None
    usual_duration: float | None  # a running run's: the median pass of its stream's latest
    long: bool  # running far longer than usual (statements.LONG_FACTOR, LONG_FLOOR)


def run_status(status: str, attempts: int) -> str:
    """The status as people read it: a queued run that failed before is retrying."""
    return "retrying" if status == "queued" and attempts > 0 else status


@dataclass(frozen=True)
class StreamRow:
    id: int
    key: str
    enabled: bool
    cursor: int
    replaying: bool  # a replay is re-reading the stream (stream.replay_since)
    lag: int  # events past the cursor, counted up to statements.LAG_CAP
    lag_capped: bool
    last_event_age: float | None
    open_detections: int
    silent: bool
    state: str  # disabled, replaying, silent or live


@dataclass(frozen=True)
class RecommendationRow:
    id: int
    detection_id: int
    severity: str
    stream: str
    rule: str
    kind: str
    # the review as people read it (ShownRecommendationStatus): open, shelved,
    # suppressed, acknowledged, dismissed
    status: str
    state: str  # the combined state (sentinel.types.FindingState)
    cleared_at: datetime | None  # when its episode cleared (the database clock)
    text: str
    created: datetime
    updated: datetime
    age: float
    updated_age: float


@dataclass(frozen=True)
class ShelfRow:
    """A shelf (`sentinel shelve`): what it matches, why, by whom, until when."""

    id: int
    stream_glob: str
    rule_glob: str | None  # None: any rule
    severity: str | None  # None: any severity
    reason: str
    actor: str
    created: datetime
    expires_at: datetime
    ended_at: datetime | None
    ended_by: str | None  # a person (unshelved) or `system` (its expiry processed)
    state: str  # live, expired, unshelved
    expires_in: float | None  # a live one's seconds left
    age: float
    findings: int  # the open findings on it now


@dataclass(frozen=True)
class JournalRow:
    """One change of a finding's state (finding_journal, append-only)."""

    id: int
    at: datetime  # the database clock
    actor: str  # a person, or `system` (opened, cleared)
    from_state: str | None  # None: the finding was opened
    to_state: str
    comment: str | None


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
    kind: str  # one of sentinel.rules.evidence.KINDS
    event_id: int | None
    data: Any


@dataclass(frozen=True)
class Point:
    """A reading the detail charts."""

    occurred_at: str | None
    value: float
    z: float | None
    event_id: int | None
    triggering: bool


@dataclass(frozen=True)
class Detail:
    """A detection with its recommendation, its evidence and what of it is charted."""

    id: int
    severity: str
    stream: str
    rule: str
    kind: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    cleared_at: datetime | None
    run_id: int | None
    anchor_event_id: int | None
    recommendation_id: int | None
    recommendation_status: str | None  # as people read it (ShownRecommendationStatus)
    recommendation_state: str | None  # the combined state, when it has one
    recommendation_text: str | None
    recommendation_age: float | None
    evidence: tuple[Evidence, ...]
    points: tuple[Point, ...] = ()
    baseline: Mapping[str, Any] | None = None
    window: Mapping[str, Any] | None = None
    rule_as_was: Mapping[str, Any] | None = None
    shelf_id: int | None = None  # its recommendation's shelf
    suppressed_by: int | None = None  # the detection whose finding suppresses it


@dataclass(frozen=True)
class Page:
    """The rows a view shows and how many the filter lets through (up to cap)."""

    rows: tuple[Any, ...]
    total: int
    cap: int


@dataclass(frozen=True)
class NotificationRow:
    """One notification of the outbox (sentinel/notify/)."""

    id: int
    status: str  # queued, sending, sent, failed, dead, skipped
    kind: str  # firing, repeat, resolved
    route: str
    channel: str
    severity: str | None
    stream: str | None
    rule: str | None
    recommendation_id: int
    attempts: int
    max_attempts: int
    idempotency_key: str
    last_error: str | None
    created: datetime
    not_before: datetime
    sent_at: datetime | None
    lease_owner: str | None  # the worker delivering it (or that last did)


@dataclass(frozen=True)
class CompletionRow:
    """A run's completion record: the DSSE envelope and what its payload says."""

    id: int
    run_id: int
    stream: str
    fence: int
    signed: bool
    key_id: str | None
    created: datetime
    window_start: str | None
    events: int | None
    detections: int | None
    fingerprints: tuple[str, ...]
    worker: str | None
    envelope: Mapping[str, Any]
