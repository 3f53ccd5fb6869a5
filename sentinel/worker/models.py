"""Typed rows and results of the lease protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinel.findings.models import Counts


@dataclass(frozen=True)
class Claim:
    """A run this worker holds, and the fence that proves it."""

    id: int
    stream_id: int
    stream: str
    window_start: datetime
    fence: int
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class QuietBatch:
    """A batch of a pass that found nothing to write (no findings, so no
    notifications): all it commits is its run's counts, its stream's cursor
    and its rules' changed state. Such batches are completed many at once."""

    claim: Claim
    worker_id: int
    from_xact: int
    to_xact: int
    first_event_id: int | None
    last_event_id: int | None
    events: int
    problems: list[dict[str, Any]]
    final: bool
    next_due: datetime | None
    states: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class StreamsPlanned:
    """What event-driven planning did: the streams given a run now, and the
    due ones to try again after so many seconds (their gap, or their run in
    progress); a due stream in neither has a queued run that will read its
    events."""

    planned: list[str]
    retry: dict[str, float]


@dataclass(frozen=True)
class Completed:
    run_id: int
    counts: Counts


@dataclass(frozen=True)
class LeaseLost:
    """The run was no longer ours when we came to complete it: nothing written."""

    run_id: int


@dataclass(frozen=True)
class CursorMoved:
    """A replay kept moving the stream's cursor under the pass: given back
    untouched (no attempt spent), to be claimed again."""

    run_id: int


@dataclass(frozen=True)
class Failed:
    run_id: int
    status: str | None  # queued (will retry), dead or failed; None: not yet recorded
    error: str


Outcome = Completed | LeaseLost | CursorMoved | Failed
