"""Typed rows and results of the lease protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
