"""The vocabulary: every status, severity, role and channel name, once.

The schema's enum types, the settings, the CLI's choices, the metrics' labels,
the read model and the dashboard's tones are all built from these. Pure:
imports nothing of Sentinel's, so any layer may use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

WorkerId = NewType("WorkerId", int)
RunId = NewType("RunId", int)
StreamId = NewType("StreamId", int)
DetectionId = NewType("DetectionId", int)


class WorkerType(StrEnum):
    LOCAL = "local"
    REMOTE = "remote"
    CONTAINER = "container"


class WorkerRole(StrEnum):
    SENTINEL = "sentinel"
    SCHEDULER = "scheduler"
    HYBRID = "hybrid"


class WorkerStatus(StrEnum):
    ACTIVE = "active"
    DRAINING = "draining"
    INACTIVE = "inactive"


class RunStatus(StrEnum):
    """As stored. People also read `retrying` (ShownRunStatus)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


class ShownRunStatus(StrEnum):
    """What the CLI and the dashboard show: a queued run that failed before is
    retrying."""

    QUEUED = "queued"
    RETRYING = "retrying"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class RecommendationStatus(StrEnum):
    """As stored. People also read `shelved` and `suppressed`
    (ShownRecommendationStatus)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"


class ShownRecommendationStatus(StrEnum):
    """What the CLI and the dashboard show: an open recommendation written
    while a shelf matched is shelved, one written while a finding that
    suppresses it was active is suppressed (neither is counted as open)."""

    OPEN = "open"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"


class FindingState(StrEnum):
    """A finding's combined state: its episode (active while open, cleared when
    it ends), a person's review of its recommendation, and whether it was
    written shelved or suppressed (docs/alarms.md has the transitions)."""

    UNACKNOWLEDGED_ACTIVE = "unacknowledged-active"
    ACKNOWLEDGED_ACTIVE = "acknowledged-active"
    UNACKNOWLEDGED_CLEARED = "unacknowledged-cleared"
    DONE = "done"  # cleared and acknowledged
    DISMISSED = "dismissed"
    SHELVED = "shelved"  # written while a shelf matched; not open, never notified
    SUPPRESSED = "suppressed"  # written while a finding that suppresses it was active


def finding_state(
    status: str, cleared: bool, *, shelved: bool = False, suppressed: bool = False
) -> FindingState:
    """The combined state of a recommendation's `status`, whether its
    detection's episode has cleared, and whether it is on a shelf
    (`shelf_id`) or suppressed (`suppressed_by`). A review takes a finding off
    its shelf and out of its suppression, so those two are only ever open.
    The findings store's and the shelves' SQL spell the same CASE."""
    if status == RecommendationStatus.DISMISSED:
        return FindingState.DISMISSED
    if shelved:
        return FindingState.SHELVED
    if suppressed:
        return FindingState.SUPPRESSED
    if status == RecommendationStatus.ACKNOWLEDGED:
        return FindingState.DONE if cleared else FindingState.ACKNOWLEDGED_ACTIVE
    return FindingState.UNACKNOWLEDGED_CLEARED if cleared else FindingState.UNACKNOWLEDGED_ACTIVE


def shown_recommendation_status(
    status: str, *, shelved: bool = False, suppressed: bool = False
) -> ShownRecommendationStatus:
    """The status as people read it (ShownRecommendationStatus)."""
    if status == RecommendationStatus.OPEN and shelved:
        return ShownRecommendationStatus.SHELVED
    if status == RecommendationStatus.OPEN and suppressed:
        return ShownRecommendationStatus.SUPPRESSED
    return ShownRecommendationStatus(status)


class NotificationStatus(StrEnum):
    """A notification in the outbox: queued (waiting for its time), sending
    (leased by a worker), sent, failed (retried after a backoff), dead (out of
    attempts, the last error kept), skipped (no longer worth telling: its
    finding was acknowledged, shelved or suppressed first, or a mute window)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED = "skipped"


class NotificationKind(StrEnum):
    FIRING = "firing"  # the finding opened
    REPEAT = "repeat"  # still active and unacknowledged after the repeat interval
    RESOLVED = "resolved"  # its episode cleared


class Channel(StrEnum):
    """NOTIFY channels: hints to look again, never the only way to find out."""

    RUN = "sentinel_run"  # runs planned, requeued or finished
    RECOMMENDATION = "sentinel_recommendation"  # findings written or reviewed
    # Streams given new events (payload: a JSON array of their keys, see
    # sentinel/db/announce.py; empty: look at every stream).
    STREAM = "sentinel_stream"
    COMPLETION = "sentinel_completion"  # a run's completion record stored (payload: run id)


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The enum's values in declaration order (for SQL enums, click choices)."""
    return tuple(member.value for member in enum)
