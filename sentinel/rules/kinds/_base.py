"""What every kind shares: reading parameters with all their issues, reading a
number from an event, and building findings with fingerprint and evidence."""

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


# -- episodes -------------------------------------------------------------------

OPEN, CLEARED = "open", "cleared"


class Episode:
    """One finding while it lasts: it opens at the first violation (its
    anchor: the fingerprint), every further violation updates it (last_seen,
    peak, points beyond, rules fired), and the kind closes it on its clear
    condition. Kept in the rule's state (`dump`/`load`), so a later pass, a
    retry or a replay reports the same detection again with newer evidence,
    never a second one. `calm` counts the points back to normal since the
    last violation (and when that began), for the kinds' clear conditions.

    A kind reports an episode once per pass at most (`report`): when it
    closes, or at the end of a pass that saw points while it was open. The
    recommendation is rendered once, at the opening, and kept, so every
    report of the episode carries the same text.
    """

    __slots__ = (
        "anchor",
        "calm",
        "calm_since",
        "first_seen",
        "kind",
        "last_seen",
        "peak",
        "points",
        "recommendation",
        "rules",
        "seen",
        "trigger",
    )

    def __init__(
        self,
        kind: str,
        anchor: int,
        first_seen: datetime,
        trigger: dict[str, Any],
        recommendation: str,
    ) -> None:
        self.kind = kind
        self.anchor = anchor
        self.first_seen = first_seen
        self.last_seen = first_seen
        self.trigger = trigger
        self.recommendation = recommendation
        self.points = 0
        self.peak: dict[str, Any] | None = None
        self.rules: list[str] = []
        self.calm = 0
        self.calm_since: datetime | None = None
        self.seen = True  # points seen in this pass while open: report at its end

    @classmethod
    def load(cls, saved: Mapping[str, Any] | None) -> Episode | None:
        if not saved:
            return None
        ep = cls.__new__(cls)
        ep.kind = saved["kind"]
        ep.anchor = saved["anchor"]
        ep.first_seen = from_iso(saved["first_seen"])
        ep.last_seen = from_iso(saved["last_seen"])
        ep.trigger = saved["trigger"]
        ep.recommendation = saved["recommendation"]
        ep.points = saved["points"]
        ep.peak = saved["peak"]
        ep.rules = list(saved["rules"])
        ep.calm = saved["calm"]
        ep.calm_since = from_iso(saved["calm_since"]) if saved["calm_since"] else None
        ep.seen = False
        return ep

    def dump(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "anchor": self.anchor,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "trigger": self.trigger,
            "recommendation": self.recommendation,
            "points": self.points,
            "peak": self.peak,
            "rules": self.rules,
            "calm": self.calm,
            "calm_since": iso(self.calm_since) if self.calm_since else None,
        }

    def hit(
        self, event: Event, value: Any, score: float, rules: Sequence[str] = (), **extra: Any
    ) -> None:
        """A violating point: the episode goes on. The peak is the point with
        the highest `score` (the kind's measure of how far beyond)."""
        self.seen = True
        self.last_seen = max(self.last_seen, event.occurred_at)
        self.points += 1
        if self.peak is None or score > self.peak["score"]:
            self.peak = {**point(event, value, **extra), "score": round_sig(score)}
        for name in rules:
            if name not in self.rules:
                self.rules.append(name)
        self.calm, self.calm_since = 0, None

    def quiet(self, event: Event) -> None:
        """A point back to normal (the kind's sense): counted towards clearing."""
        self.seen = True
        self.calm += 1
        if self.calm_since is None:
            self.calm_since = event.occurred_at

    def unsettled(self) -> None:
        """A point neither violating nor normal (inside a hysteresis band):
        the episode goes on and the count back to normal starts again."""
        self.seen = True
        self.calm, self.calm_since = 0, None

    def calm_for(self, event: Event) -> float:
        """Seconds since the stream came back to normal (0 if it is not)."""
        if self.calm_since is None:
            return 0.0
        return (event.occurred_at - self.calm_since).total_seconds()

    def report(
        self,
        rule: Rule,
        ctx: PassContext,
        *,
        status: str,
        summary: str,
        evidence: list[EvidenceItem],
        values: Mapping[str, Any],
        cleared_at: datetime | None = None,
    ) -> None:
        episode = {
            "status": status,
            "start": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "points_beyond": self.points,
            "peak": self.peak,
            "rules": self.rules,
            "cleared_at": iso(cleared_at) if cleared_at else None,
        }
        ctx.find(
            rule,
            kind=self.kind,
            anchor=self.anchor,
            anchor_event_id=self.anchor,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            summary=summary if status == OPEN else f"{summary} (cleared)",
            evidence=[
                EvidenceItem("trigger", self.anchor, self.trigger),
                EvidenceItem("episode", self.anchor, episode),
                *evidence,
            ],
            values=values,
            recommendation=self.recommendation,
        )
        self.seen = False
