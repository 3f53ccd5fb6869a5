"""What the rule engine takes and gives: plain frozen values, no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


class Event(NamedTuple):
    """One stored event as a pass sees it (a tuple: a pass builds one per
    row, so it must be cheap to make)."""

    id: int
    stream: str
    kind: str
    occurred_at: datetime  # tz-aware
    received_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One piece of evidence. `kind` is "trigger", "point", "baseline",
    "window" or "rule"; `data` is JSON-serialisable."""

    kind: str
    event_id: int | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Finding:
    rule_ref: str
    stream: str
    kind: str  # the rule kind, refined where useful: "threshold.above", "spc.WE2"
    severity: str
    summary: str
    fingerprint: str  # sha256 of rule|stream|kind|anchor: equal across retries and replays
    anchor_event_id: int | None
    first_seen: datetime
    last_seen: datetime
    evidence: tuple[EvidenceItem, ...]
    recommendation: str


@dataclass(frozen=True, slots=True)
class Problem:
    """An event a rule could not evaluate, or a rule that failed (event_id None)."""

    rule_ref: str
    event_id: int | None
    reason: str


@dataclass(slots=True)
class StreamPass:
    findings: list[Finding] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    next_due: datetime | None = None  # the earliest clock-driven rule's `due`
