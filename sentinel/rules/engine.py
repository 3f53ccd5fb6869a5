"""The pure rule engine: a stream's new events + each rule's saved state in,
findings + new states + problems out. No database, no clock of its own.

Incremental by construction: every detector keeps all it needs in its JSON
state, so running pass after pass gives the findings of one run over all the
events. Bad input never stops a stream: an event a rule cannot read is a
Problem and is skipped; a rule that fails is one Problem, its findings from
this pass are dropped and its state is left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sentinel.rules.kinds import KINDS
from sentinel.rules.kinds._base import PassContext
from sentinel.rules.model import Event, Problem, StreamPass
from sentinel.rules.pack import RulePack
from sentinel.rules.rule import Rule

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._enabled = tuple(rule for rule in pack.rules if rule.enabled)
        self._by_stream: dict[str, tuple[Rule, ...]] = {}

    def rules_for(self, stream: str) -> tuple[Rule, ...]:
        """The enabled rules whose globs match the stream key (cached per key)."""
        rules = self._by_stream.get(stream)
        if rules is None:
            rules = tuple(rule for rule in self._enabled if rule.applies_to(stream))
            self._by_stream[stream] = rules
        return rules

    def run(
        self,
        stream: str,
        events: Sequence[Event],
        states: Mapping[str, dict[str, Any]],
        now: datetime,
        last_event_at: datetime | None,
    ) -> StreamPass:
        ctx = PassContext(stream, now, last_event_at)
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
            found, problems = len(ctx.findings), len(ctx.problems)
            try:
                new_states[rule.ref] = KINDS[rule.kind].run(rule, ctx, seen, old or {})
            except Exception as exc:  # a broken rule must not stop the stream
                log.warning(
                    "rule failed",
                    extra={"action": "rule_failed", "rule": rule.ref, "stream": stream},
                    exc_info=True,
                )
                del ctx.findings[found:]
                del ctx.problems[problems:]
                ctx.problems.append(
                    Problem(rule.ref, None, f"rule failed: {type(exc).__name__}: {exc}")
                )
                if old is not None:
                    new_states[rule.ref] = old
        next_due = _next_due(self, stream, new_states)
        return StreamPass(ctx.findings, new_states, ctx.problems, next_due)


def _next_due(engine: Engine, stream: str, states: Mapping[str, dict[str, Any]]) -> datetime | None:
    """When the stream must next be looked at without new events."""
    times = [
        due
        for rule in engine.rules_for(stream)
        if (due := KINDS[rule.kind].due(rule, states.get(rule.ref) or {})) is not None
    ]
    return min(times, default=None)
