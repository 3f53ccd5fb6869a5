"""Typed rows and results of the lease protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
class Counts:
    events: int = 0
    detections: int = 0
    evidence: int = 0
    recommendations: int = 0
    problems: int = 0
    severities: tuple[str, ...] = ()  # of the new detections

    def plus(self, other: Counts) -> Counts:
        return Counts(
            events=self.events + other.events,
            detections=self.detections + other.detections,
            evidence=self.evidence + other.evidence,
            recommendations=self.recommendations + other.recommendations,
            problems=self.problems + other.problems,
            severities=self.severities + other.severities,
        )


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
