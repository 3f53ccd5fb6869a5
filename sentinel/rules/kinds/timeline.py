"""What the `run` kind remembers between passes: each open run (its first and
last event, its start, the stages seen with their times and conclusion, and
whether it was reported hung), and a workflow's recent durations with their
robust centre and spread. Plain JSON in and out (`load` / `dump`), bounded:
a run keeps at most MAX_STAGES stage names and a few scalar payload fields."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sentinel.rules.kinds._base import from_iso, iso, round_sig
from sentinel.rules.model import Event

MAX_STAGES: Final = 32  # stage names kept per run; more are counted, not kept
MAX_PAYLOAD_FIELDS: Final = 32  # scalar payload fields kept for templates
MAX_TEXT: Final = 256  # longer strings are left out of the kept payload
SKIPPED: Final = "skipped"  # a stage with this conclusion did not run
# The modified z-score (Iglewicz and Hoaglin): 0.6745 (x - median) / MAD;
# above 3.5 is their cut for an outlier.
MAD_Z: Final = 0.6745
OUTLIER_Z: Final = 3.5


def _scalars(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's top-level scalar fields, bounded (what templates read:
    `{payload.url}`, `{payload.branch}`)."""
    kept: dict[str, Any] = {}
    for key, value in payload.items():
        if len(kept) == MAX_PAYLOAD_FIELDS:
            break
        if (
            value is None
            or isinstance(value, bool | int | float)
            or (isinstance(value, str) and len(value) <= MAX_TEXT)
        ):
            kept[key] = value
    return kept


@dataclass
class Stage:
    name: str
    first: datetime
    last: datetime
    conclusion: Any  # the newest non-null conclusion seen (JSON scalar), or None
    events: int
    event_id: int  # its first event

    def ran(self) -> bool:
        return bool(self.conclusion != SKIPPED)

    def dump(self) -> list[Any]:
        return [
            self.name,
            iso(self.first),
            iso(self.last),
            self.conclusion,
            self.events,
            self.event_id,
        ]

    @classmethod
    def load(cls, saved: Sequence[Any]) -> Stage:
        name, first, last, conclusion, events, event_id = saved
        return cls(name, from_iso(first), from_iso(last), conclusion, events, event_id)

    def shown(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "first": iso(self.first),
            "last": iso(self.last),
            "conclusion": self.conclusion,
            "events": self.events,
            "event_id": self.event_id,
        }


@dataclass
class Run:
    """One open run. It began at its earliest event (`first`): a run whose
    start event was not seen is tracked from its first event, and judged
    hung from then, but never incomplete or slow (what it did before is
    unknown)."""

    key: str
    first: datetime
    first_id: int
    last: datetime
    events: int
    payload: dict[str, Any]  # scalars of its start event (until then: of its first event)
    start: datetime | None = None
    start_id: int | None = None
    stages: list[Stage] = field(default_factory=list)
    dropped: int = 0  # stage names beyond MAX_STAGES
    hung_at: datetime | None = None  # when it was seen hung (reported); None: not
    hung_text: str = ""  # the hung finding's recommendation, rendered when it opened

    @classmethod
    def new(cls, key: str, event: Event) -> Run:
        at = event.occurred_at
        return cls(key, at, event.id, at, 1, _scalars(event.payload))

    def saw(self, event: Event) -> None:
        at = event.occurred_at
        if at < self.first:
            self.first, self.first_id = at, event.id
        self.last = max(self.last, at)
        self.events += 1

    def started(self, event: Event) -> None:
        """A start event (the earliest one counts, if several arrive)."""
        if self.start is None or event.occurred_at < self.start:
            self.start, self.start_id = event.occurred_at, event.id
            self.payload = _scalars(event.payload)

    def stage(self, name: str, event: Event, conclusion: Any) -> None:
        at = event.occurred_at
        known = next((s for s in self.stages if s.name == name), None)
        if conclusion is not None and not isinstance(conclusion, str | int | float | bool):
            conclusion = str(conclusion)[:MAX_TEXT]
        if known is None:
            if len(self.stages) >= MAX_STAGES:
                self.dropped += 1
                return
            self.stages.append(Stage(name, at, at, conclusion, 1, event.id))
            return
        if at < known.first:
            known.first, known.event_id = at, event.id
        known.last = max(known.last, at)
        known.events += 1
        if conclusion is not None:
            known.conclusion = conclusion

    def ran(self) -> dict[str, Stage]:
        """The stages that ran (seen, and not concluded `skipped`), by name."""
        return {s.name: s for s in self.stages if s.ran()}

    def timeline(self, end: Event | None = None) -> dict[str, Any]:
        """The run as evidence: start, stages in the order they began, end."""
        stages = sorted(self.stages, key=lambda s: (s.first, s.event_id))
        return {
            "run": self.key,
            "began": iso(self.first),
            "first_event_id": self.first_id,
            "start": iso(self.start) if self.start else None,
            "start_event_id": self.start_id,
            "stages": [s.shown() for s in stages],
            "stages_not_kept": self.dropped,
            "end": iso(end.occurred_at) if end else None,
            "end_event_id": end.id if end else None,
            "duration_s": (end.occurred_at - self.first).total_seconds() if end else None,
            "events": self.events,
        }

    def dump(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "first": iso(self.first),
            "first_id": self.first_id,
            "last": iso(self.last),
            "events": self.events,
            "payload": self.payload,
            "start": iso(self.start) if self.start else None,
            "start_id": self.start_id,
            "stages": [s.dump() for s in self.stages],
            "dropped": self.dropped,
            "hung_at": iso(self.hung_at) if self.hung_at else None,
            "hung_text": self.hung_text,
        }

    @classmethod
    def load(cls, saved: Mapping[str, Any]) -> Run:
        return cls(
            key=saved["key"],
            first=from_iso(saved["first"]),
            first_id=saved["first_id"],
            last=from_iso(saved["last"]),
            events=saved["events"],
            payload=dict(saved["payload"]),
            start=from_iso(saved["start"]) if saved["start"] else None,
            start_id=saved["start_id"],
            stages=[Stage.load(s) for s in saved["stages"]],
            dropped=saved["dropped"],
            hung_at=from_iso(saved["hung_at"]) if saved["hung_at"] else None,
            hung_text=saved["hung_text"],
        )


@dataclass(frozen=True)
class Usual:
    """A workflow's usual duration, from its recent completed runs."""

    n: int
    median: float
    mad: float  # median absolute deviation from the median

    def limit(self, factor: float) -> float:
        """Slower than this is slow: at least `factor` × the median, and an
        outlier by the modified z-score (> 3.5; with a MAD of 0, any run
        longer than the median is one)."""
        return max(factor * self.median, self.median + OUTLIER_Z * self.mad / MAD_Z)

    def shown(self, factor: float) -> dict[str, Any]:
        return {
            "n": self.n,
            "median_s": round_sig(self.median),
            "mad_s": round_sig(self.mad),
            "slow_factor": factor,
            "outlier_z": OUTLIER_Z,
            "threshold_s": round_sig(self.limit(factor)),
        }


def usual(durations: Sequence[float]) -> Usual:
    median = statistics.median(durations)
    mad = statistics.median(abs(d - median) for d in durations)
    return Usual(len(durations), median, mad)
