"""The pure rule engine: a stream's new events + each rule's saved state in,
findings + new states + problems out. No database, no clock of its own (it
reads a monotonic timer only to hold each rule to its time budget).

Incremental by construction: every detector keeps all it needs in its JSON
state, so running pass after pass gives the findings of one run over all the
events. Bad input never stops a stream: an event a rule cannot read is a
Problem and is skipped; a rule that fails is one Problem, its findings from
this pass are dropped and its state is left as it was.

No rule can hold a pass: each has a time budget per pass (PassBudget, shared
by a pass's batches). A rule is fed its events in growing chunks and the
clock is read between them; a rule past its budget is treated as one that
failed, and is skipped for the rest of the pass. A `matches` search that
cannot run in linear time stops at the budget too (sentinel.rules.patterns).

A stream that floods (more than `flood_findings` finding openings in 10
minutes) has its further openings collapsed into one `flood` finding
(sentinel.rules.flood), with its state kept under FLOOD_REF beside the rules'.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sentinel.rules import conditions, flood, patterns
from sentinel.rules.kinds import KINDS
from sentinel.rules.kinds._base import KindSpec, PassContext
from sentinel.rules.model import Event, Problem, StreamPass
from sentinel.rules.pack import RulePack
from sentinel.rules.rule import Rule

log = logging.getLogger(__name__)

DEFAULT_RULE_BUDGET_SECONDS: Final = 5.0  # Settings.rule_budget_seconds
FIRST_CHUNK: Final = 256  # events before the clock is first read
MAX_CHUNK: Final = 16_384


class OverBudget(Exception):
    """The rule used up its time budget for this pass."""


@dataclass
class PassBudget:
    """Each rule's time in one pass, across the pass's batches."""

    seconds: float
    spent: dict[str, float] = field(default_factory=dict)
    over: set[str] = field(default_factory=set)


class Engine:
    def __init__(
        self,
        pack: RulePack,
        *,
        rule_budget_seconds: float = DEFAULT_RULE_BUDGET_SECONDS,
        flood_findings: int = flood.DEFAULT_FLOOD_FINDINGS,
    ) -> None:
        self.pack = pack
        self.rule_budget_seconds = rule_budget_seconds
        self.flood_findings = flood_findings
        self._enabled = tuple(rule for rule in pack.rules if rule.enabled)
        self._by_stream: dict[str, tuple[Rule, ...]] = {}
        # rule ref → the enabled rules whose `suppresses:` names it (the
        # findings store marks a finding suppressed while one of theirs is
        # active on its stream); only refs that have any
        targets = [*(rule.ref for rule in self._enabled), flood.FLOOD_REF]
        self.suppressors: Mapping[str, tuple[str, ...]] = {
            ref: by
            for ref in targets
            if (by := tuple(a.ref for a in self._enabled if a.suppresses_rule(ref)))
        }

    def rules_for(self, stream: str) -> tuple[Rule, ...]:
        """The enabled rules whose globs match the stream key (cached per key)."""
        rules = self._by_stream.get(stream)
        if rules is None:
            rules = tuple(rule for rule in self._enabled if rule.applies_to(stream))
            self._by_stream[stream] = rules
        return rules

    def budget(self) -> PassBudget:
        """A fresh budget for one pass (give the same one to each of its batches)."""
        return PassBudget(self.rule_budget_seconds)

    def run(
        self,
        stream: str,
        events: Sequence[Event],
        states: Mapping[str, dict[str, Any]],
        now: datetime,
        last_event_at: datetime | None,
        *,
        final: bool = True,
        budget: PassBudget | None = None,
    ) -> StreamPass:
        """One batch of a pass; `final` when no batch follows it in this pass
        (clock-driven rules judge `now` only then)."""
        budget = budget or self.budget()
        ctx = PassContext(stream, now, last_event_at, final=final)
        new_states: dict[str, dict[str, Any]] = {}
        by_kinds: dict[frozenset[str], list[Event]] = {}
        for rule in self.rules_for(stream):
            if rule.kinds is None:
                seen: Sequence[Event] = events
            else:
                seen = by_kinds.get(rule.kinds)  # type: ignore[assignment]
                if seen is None:
                    seen = by_kinds[rule.kinds] = [e for e in events if e.kind in rule.kinds]
            old = states.get(rule.ref)
            if old is not None:
                new_states[rule.ref] = old
            if rule.ref in budget.over:
                if seen:
                    reason = f"{len(seen)} event(s) skipped: over its time budget in this pass"
                    ctx.problems.append(Problem(rule.ref, None, reason))
                continue
            found, problems = len(ctx.findings), len(ctx.problems)
            try:
                new_states[rule.ref] = _run_timed(KINDS[rule.kind], rule, ctx, seen, old, budget)
            except Exception as exc:  # a broken or slow rule must not stop the stream
                del ctx.findings[found:]
                del ctx.problems[problems:]
                if isinstance(exc, OverBudget):
                    budget.over.add(rule.ref)
                    reason = f"over its time budget of {budget.seconds:g} s: {exc}"
                    log.warning(
                        "rule over budget",
                        extra={"action": "rule_over_budget", "rule": rule.ref, "stream": stream},
                    )
                else:
                    reason = f"rule failed: {type(exc).__name__}: {exc}"
                    log.warning(
                        "rule failed",
                        extra={"action": "rule_failed", "rule": rule.ref, "stream": stream},
                        exc_info=True,
                    )
                ctx.problems.append(Problem(rule.ref, None, reason))
        findings, flood_state = flood.collapse(
            stream, ctx.findings, events, states.get(flood.FLOOD_REF), self.flood_findings
        )
        if flood_state is not None:
            new_states[flood.FLOOD_REF] = flood_state
        next_due = _next_due(self, stream, new_states)
        return StreamPass(findings, new_states, ctx.problems, next_due)


def _run_timed(
    spec: KindSpec,
    rule: Rule,
    ctx: PassContext,
    events: Sequence[Event],
    old: dict[str, Any] | None,
    budget: PassBudget,
) -> dict[str, Any]:
    """The rule over `events`, chunk by chunk (the same result: a rule's state
    carries it from one chunk to the next as from one pass to the next)."""
    started = time.monotonic()
    spent = budget.spent.get(rule.ref, 0.0)
    ends = started + budget.seconds - spent
    timed_out: list[tuple[Any, str]] = []
    tokens = (patterns.deadline.set(ends), conditions.timeouts.set(timed_out))
    state: dict[str, Any] = old or {}
    final, done = ctx.final, 0
    try:
        for chunk, last in _chunks(events, started, ends):
            ctx.final = final and last
            state = spec.run(rule, ctx, chunk, state)
            done += len(chunk)
            if timed_out:
                _report_timeouts(rule, ctx, chunk, timed_out)
            if time.monotonic() > ends:
                raise OverBudget(f"stopped after {done} of {len(events)} event(s)")
    finally:
        ctx.final = final
        patterns.deadline.reset(tokens[0])
        conditions.timeouts.reset(tokens[1])
        budget.spent[rule.ref] = spent + time.monotonic() - started
    return state


def _chunks(
    events: Sequence[Event], started: float, ends: float
) -> Iterator[tuple[Sequence[Event], bool]]:
    """`events` in chunks that grow while the rule is fast, each with whether
    it is the last; one chunk (the sequence itself) when it is short."""
    if len(events) <= FIRST_CHUNK:
        yield events, True
        return
    lo, size = 0, FIRST_CHUNK
    while lo < len(events):
        hi = min(lo + size, len(events))
        yield events[lo:hi], hi == len(events)
        now = time.monotonic()
        per_event = (now - started) / hi
        left = max(ends - now, 0.0)
        size = min(MAX_CHUNK, size * 4)
        if per_event > 0:
            size = max(16, min(size, int(left / per_event / 2)))
        lo = hi


def _report_timeouts(
    rule: Rule, ctx: PassContext, chunk: Sequence[Event], timed_out: list[tuple[Any, str]]
) -> None:
    """Each search that ran out of time: a Problem of its event (passed as not matching)."""
    ids = {id(event.payload): event.id for event in chunk}
    for payload, reason in timed_out:
        ctx.problem(rule, ids.get(id(payload)), f"{reason}; counted as not matching")
    timed_out.clear()


def _next_due(engine: Engine, stream: str, states: Mapping[str, dict[str, Any]]) -> datetime | None:
    """When the stream must next be looked at without new events."""
    times = [
        due
        for rule in engine.rules_for(stream)
        if (due := KINDS[rule.kind].due(rule, states.get(rule.ref) or {})) is not None
    ]
    return min(times, default=None)
