"""What every kind shares: reading parameters with all their issues, reading a
number from an event, and building findings with fingerprint and evidence.
An episode (a finding while it lasts) is in `episode.py`."""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from sentinel.rules import conditions, template
from sentinel.rules.conditions import MISSING
from sentinel.rules.durations import parse_duration
from sentinel.rules.model import Event, EvidenceItem, Finding, Problem

if TYPE_CHECKING:
    from sentinel.rules.rule import Rule

State = dict[str, Any]


class Detector(Protocol):
    def __call__(
        self, rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]
    ) -> State: ...


@dataclass(frozen=True)
class KindSpec:
    name: str
    keys: frozenset[str]  # the kind's own keys (beyond the common ones)
    required: frozenset[str]
    supplies: frozenset[str]  # template placeholders the kind fills in
    parse: Callable[[Reader], Any]
    run: Detector
    # Clock-driven kinds: from the rule's state after a pass, the earliest
    # time it could fire with no new event (None: not before one arrives).
    # The planner makes the stream due then; every other kind needs events.
    due: Callable[[Rule, Mapping[str, Any]], datetime | None] = lambda rule, state: None


# -- parameters ---------------------------------------------------------------


class Reader:
    """Reads a rule's kind keys, collecting every issue rather than stopping."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.issues: list[str] = []

    def has(self, key: str) -> bool:
        return key in self.raw and self.raw[key] is not None

    def issue(self, reason: str) -> None:
        self.issues.append(reason)

    def number(self, key: str, *, required: bool = False, positive: bool = False) -> float | None:
        if not self.has(key):
            if required:
                self.issue(f"missing '{key}'")
            return None
        value = self.raw[key]
        if not conditions.is_number(value) or not math.isfinite(value):
            self.issue(f"{key} must be a number, not {value!r}")
            return None
        if positive and value <= 0:
            self.issue(f"{key} must be greater than 0, not {value!r}")
            return None
        return float(value)

    def integer(self, key: str, *, default: int | None, minimum: int) -> int | None:
        if not self.has(key):
            return default
        value = self.raw[key]
        if type(value) is not int or value < minimum:
            self.issue(f"{key} must be a whole number of at least {minimum}, not {value!r}")
            return None
        return value

    def duration(self, key: str, *, required: bool = False) -> float | None:
        """Seconds (> 0)."""
        if not self.has(key):
            if required:
                self.issue(f"missing '{key}'")
            return None
        try:
            seconds = parse_duration(self.raw[key]).total_seconds()
        except ValueError as exc:
            self.issue(f"{key}: {exc}")
            return None
        if seconds <= 0:
            self.issue(f"{key} must be longer than 0, not {self.raw[key]!r}")
            return None
        return seconds

    def field(self, key: str = "field") -> conditions.Getter | None:
        if not self.has(key):
            self.issue(f"missing '{key}'")
            return None
        try:
            return conditions.compile_path(self.raw[key])
        except conditions.ConditionError as exc:
            self.issue(f"{key}: {exc}")
            return None

    def condition(self, key: str = "when") -> conditions.Predicate | None:
        if not self.has(key):
            self.issue(f"missing '{key}'")
            return None
        problems = conditions.validate(self.raw[key])
        if problems:
            for problem in problems:
                self.issue(problem.replace("when", key, 1) if key != "when" else problem)
            return None
        return conditions.compile_condition(self.raw[key])


# -- reading events -------------------------------------------------------------


def read_number(get: conditions.Getter, field_name: str, event: Event) -> float | str:
    """The field's value as a number, or the reason it cannot be used (a str)."""
    value = get(event.payload)
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return cast(float, value)
        return f"{field_name} is not a finite number: {value!r}"
    if kind is int:
        return cast(int, value)
    if value is MISSING:
        return f"{field_name} is missing"
    if value is None:
        return f"{field_name} is null"
    if isinstance(value, bool):
        return f"{field_name} is a boolean, not a number: {value!r}"
    if conditions.is_number(value):
        return cast(float, value)
    shown = repr(value)
    return f"{field_name} is not a number: {shown if len(shown) < 40 else shown[:37] + '...'}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def round_sig(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits}g}")


# -- findings -------------------------------------------------------------------


def fingerprint(rule_ref: str, stream: str, kind: str, anchor: int | str | None) -> str:
    identity = "empty" if anchor is None else str(anchor)
    return hashlib.sha256(f"{rule_ref}|{stream}|{kind}|{identity}".encode()).hexdigest()


def point(event: Event, value: Any, **extra: Any) -> dict[str, Any]:
    return {"event_id": event.id, "occurred_at": iso(event.occurred_at), "value": value, **extra}


class Series:
    """The last few readings of a rule's field, kept in its state so that the
    evidence shows the run-up to a detection, across passes."""

    SIZE = 30

    def __init__(self, saved: Sequence[Sequence[Any]] | None) -> None:
        self.points: deque[tuple[int, datetime, float]] = deque(
            ((p[0], from_iso(p[1]), p[2]) for p in saved or ()), maxlen=self.SIZE
        )

    def add(self, event: Event, value: float) -> None:
        self.points.append((event.id, event.occurred_at, value))

    def dump(self) -> list[list[Any]]:
        return [[i, iso(at), value] for i, at, value in self.points]

    def evidence(self) -> list[dict[str, Any]]:
        return [{"event_id": i, "occurred_at": iso(at), "value": v} for i, at, v in self.points]


@dataclass
class PassContext:
    stream: str
    now: datetime
    last_event_at: datetime | None
    # False while the engine feeds a rule the first part of a pass: a
    # clock-driven rule judges "now" only on the last part (more events follow).
    final: bool = True
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, rule: Rule, event_id: int | None, reason: str) -> None:
        self.problems.append(Problem(rule.ref, event_id, reason))

    def render(self, rule: Rule, values: Mapping[str, Any], payload: Any = MISSING) -> str:
        """The rule's recommendation for these values (and triggering payload)."""
        context = {**rule.raw, **values, "stream": self.stream, "rule": rule.ref}
        context.setdefault("field", rule.raw.get("field"))
        return template.render(rule.recommendation, context, payload)

    def find(
        self,
        rule: Rule,
        *,
        kind: str,
        anchor: int | str | None,
        anchor_event_id: int | None,
        first_seen: datetime,
        last_seen: datetime,
        summary: str,
        evidence: list[EvidenceItem],
        values: Mapping[str, Any],
        payload: Any = MISSING,
        recommendation: str | None = None,
    ) -> None:
        """One finding; `recommendation` (already rendered: an episode's, from
        its opening) else the rule's template filled from `values`."""
        if recommendation is None:
            recommendation = self.render(rule, values, payload)
        evidence.append(EvidenceItem("rule", None, dict(rule.raw)))
        self.findings.append(
            Finding(
                rule_ref=rule.ref,
                stream=self.stream,
                kind=kind,
                severity=rule.severity,
                summary=summary,
                fingerprint=fingerprint(rule.ref, self.stream, kind, anchor),
                anchor_event_id=anchor_event_id,
                first_seen=first_seen,
                last_seen=last_seen,
                evidence=tuple(evidence),
                recommendation=recommendation,
            )
        )
