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
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"


class FindingState(StrEnum):
    """A finding's combined state: its episode (active while open, cleared when
    it ends) and a person's review of its recommendation. Shelved and
    suppressed come later."""

    UNACKNOWLEDGED_ACTIVE = "unacknowledged-active"
    ACKNOWLEDGED_ACTIVE = "acknowledged-active"
    UNACKNOWLEDGED_CLEARED = "unacknowledged-cleared"
    DONE = "done"  # cleared and acknowledged
    DISMISSED = "dismissed"


def finding_state(status: str, cleared: bool) -> FindingState:
    """The combined state of a recommendation's `status` and whether its
    detection's episode has cleared."""
    if status == RecommendationStatus.DISMISSED:
        return FindingState.DISMISSED
    if status == RecommendationStatus.ACKNOWLEDGED:
        return FindingState.DONE if cleared else FindingState.ACKNOWLEDGED_ACTIVE
    return FindingState.UNACKNOWLEDGED_CLEARED if cleared else FindingState.UNACKNOWLEDGED_ACTIVE


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
