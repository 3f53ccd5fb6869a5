"""`run`: events grouped into runs (CI pipelines, batch jobs) by `correlate`,
each run judged for three problems, one finding per run and problem:

  run.hung        it began and has not ended within `max_duration`, judged on
                  the newest event time the rule has seen and, on the last
                  part of a pass (PassContext.final), on the database clock
                  (`now`), as `silence` is. An episode: it clears when the run
                  ends, as the same finding. `due` is the earliest time an
                  open run would become hung: the planner runs the stream then.
  run.incomplete  it ended without each of its `requires` stages (or, with
                  `ordered`, with one begun before the one listed before it
                  ended). Momentary.
  run.slow        it took far longer than the workflow's recent completed runs
                  (timeline.Usual: at least `slow_factor` × their median and an
                  outlier by the modified z-score), with at least
                  `min_history` of them. Momentary.

An event naming a stage (its `stage` field, default payload.job, is set) is a
stage of its run; any other event is checked against `end_when`, then
`start_when`. A run opens at its first event of any sort, and began then. A
run whose start event was not seen is never judged incomplete or slow;
`success_when` (optional, on the end event) narrows both checks, and the
history, to the runs that succeeded. An event of a run that has ended (the
last ENDED keys are remembered) is passed over. At most `max_open` runs are
open at once: past that the oldest is dropped unjudged, a problem. All of it
lives in the JSON state, so any split into batches gives the same findings.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from sentinel.rules.conditions import (
    MISSING,
    ConditionError,
    Getter,
    Predicate,
    compile_path,
    split_field,
)
from sentinel.rules.durations import format_duration
from sentinel.rules.kinds._base import KindSpec, PassContext, Reader, State, from_iso, iso
from sentinel.rules.kinds.episode import CLEARED, OPEN
from sentinel.rules.kinds.timeline import Run, usual
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule

ENDED: Final = 500  # ended run keys remembered, so their late events open nothing
MAX_HISTORY: Final = 1000
MAX_OPEN: Final = 10_000
HUNG, INCOMPLETE, SLOW = "run.hung", "run.incomplete", "run.slow"


@dataclass(frozen=True)
class Params:
    correlate: tuple[Getter, ...]
    correlate_names: tuple[str, ...]
    start_when: Predicate
    end_when: Predicate
    success_when: Predicate | None
    max_duration: timedelta | None
    requires: tuple[str, ...]
    ordered: bool
    stage: Getter
    stage_name: str
    conclusion: Getter
    slow: bool
    slow_factor: float
    min_history: int
    history: int
    max_open: int


def _path(reader: Reader, key: str, default: str) -> tuple[Getter, str] | None:
    value = reader.raw.get(key, default)
    try:
        return compile_path(value), value
    except ConditionError as exc:
        reader.issue(f"{key}: {exc}")
        return None


def _correlate(reader: Reader) -> tuple[tuple[Getter, ...], tuple[str, ...]] | None:
    if not reader.has("correlate"):
        reader.issue("missing 'correlate' (the field, or list of fields, naming a run)")
        return None
    value = reader.raw["correlate"]
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        reader.issue(f"correlate must be a field or a list of fields, not {value!r}")
        return None
    getters: list[Getter] = []
    for name in names:
        try:
            split_field(name)
        except ConditionError as exc:
            reader.issue(f"correlate: {exc}")
            continue
        getters.append(compile_path(name))
    if len(getters) != len(names):
        return None
    return tuple(getters), tuple(names)


def _requires(reader: Reader) -> tuple[str, ...] | None:
    if not reader.has("requires"):
        return ()
    value = reader.raw["requires"]
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s for s in value):
        reader.issue(f"requires must be a list of stage names, not {value!r}")
        return None
    if len(set(value)) != len(value):
        reader.issue(f"requires names a stage twice: {value!r}")
        return None
    return tuple(value)


def _flag(reader: Reader, key: str, default: bool) -> bool | None:
    value = reader.raw.get(key, default)
    if not isinstance(value, bool):
        reader.issue(f"{key} must be true or false, not {value!r}")
        return None
    return value


def parse(reader: Reader) -> Params | None:
    correlate = _correlate(reader)
    start_when = reader.condition("start_when")
    end_when = reader.condition("end_when")
    success_when = reader.condition("success_when") if reader.has("success_when") else None
    max_duration = reader.duration("max_duration")
    requires = _requires(reader)
    ordered = _flag(reader, "ordered", False)
    if ordered and not requires:
        reader.issue("ordered needs 'requires' (the stages, in their order)")
    stage = _path(reader, "stage", "payload.job")
    conclusion = _path(reader, "conclusion", "payload.conclusion")
    slow = _flag(reader, "slow", True)
    slow_factor = reader.number("slow_factor", positive=True)
    if slow_factor is not None and slow_factor < 1:
        reader.issue(f"slow_factor must be at least 1, not {slow_factor:g}")
    min_history = reader.integer("min_history", default=5, minimum=2)
    history = reader.integer("history", default=max(30, min_history or 0), minimum=2)
    if history is not None and min_history is not None:
        if history > MAX_HISTORY:
            reader.issue(f"history must be at most {MAX_HISTORY}, not {history}")
        elif history < min_history:
            reader.issue(f"history ({history}) must be at least min_history ({min_history})")
    max_open = reader.integer("max_open", default=100, minimum=1)
    if max_open is not None and max_open > MAX_OPEN:
        reader.issue(f"max_open must be at most {MAX_OPEN}, not {max_open}")
    if slow is False:
        for key in ("slow_factor", "min_history", "history"):
            if reader.has(key):
                reader.issue(f"{key} is for the slow-run check, which slow: false turns off")
    if max_duration is None and not requires and slow is False:
        reader.issue("nothing to find: give max_duration or requires, or leave slow on")
    if (
        reader.issues
        or correlate is None
        or start_when is None
        or end_when is None
        or requires is None
        or ordered is None
        or stage is None
        or conclusion is None
        or slow is None
        or min_history is None
        or history is None
        or max_open is None
    ):
        return None
    return Params(
        correlate=correlate[0],
        correlate_names=correlate[1],
        start_when=start_when,
        end_when=end_when,
        success_when=success_when,
        max_duration=timedelta(seconds=max_duration) if max_duration is not None else None,
        requires=requires,
        ordered=ordered,
        stage=stage[0],
        stage_name=stage[1],
        conclusion=conclusion[0],
        slow=slow,
        slow_factor=slow_factor if slow_factor is not None else 2.0,
        min_history=min_history,
        history=history,
        max_open=max_open,
    )


# -- the detector -----------------------------------------------------------------


def _key(params: Params, event: Event) -> str:
    """The run key ('1234', or '1234/2' for two fields), or ValueError naming
    the field that is missing."""
    parts: list[str] = []
    for get, name in zip(params.correlate, params.correlate_names, strict=True):
        value = get(event.payload)
        if value is MISSING or value is None:
            raise ValueError(f"{name} is {'missing' if value is MISSING else 'null'}")
        if type(value) is str:
            parts.append(value)
        elif type(value) is int:  # the usual run number: what json.dumps writes, cheaper
            parts.append(str(value))
        else:
            parts.append(json.dumps(value, sort_keys=True))
    return "/".join(parts)


class _Pass:
    """One call of the detector: the state loaded, the events applied, the
    findings made, the state dumped."""

    def __init__(self, rule: Rule, ctx: PassContext, state: Mapping[str, Any]) -> None:
        self.rule, self.ctx = rule, ctx
        self.p: Params = rule.params
        self.clock = from_iso(state["clock"]) if state.get("clock") else None
        self.open: dict[str, Run] = {}
        for saved in state.get("open", ()):  # a list: its order is the opening order
            run = Run.load(saved)
            self.open[run.key] = run
        self.ended: deque[str] = deque(state.get("ended", ()))
        self.ended_keys = set(self.ended)
        self.history: deque[list[Any]] = deque(
            (list(h) for h in state.get("history", ())), maxlen=self.p.history
        )
        self.touched: set[str] = set()  # hung runs to report at the end of the call
        self.next_deadline = self._deadline()

    # -- hung ---------------------------------------------------------------------

    def _deadline(self) -> datetime | None:
        """When the first open run not yet reported hung becomes hung."""
        limit = self.p.max_duration
        if limit is None:
            return None
        times = [run.first + limit for run in self.open.values() if run.hung_at is None]
        return min(times, default=None)

    def judge(self, now: datetime) -> None:
        """Every open run that has been open longer than max_duration at `now`."""
        if self.next_deadline is None or now <= self.next_deadline:
            return
        limit = self.p.max_duration
        assert limit is not None
        for run in self.open.values():
            if run.hung_at is None and now - run.first > limit:
                run.hung_at = now
                run.hung_text = self.ctx.render(self.rule, self._hung_values(run), run.payload)
                self.touched.add(run.key)
        self.next_deadline = self._deadline()

    def _hung_values(self, run: Run) -> dict[str, Any]:
        assert run.hung_at is not None and self.p.max_duration is not None
        took = format_duration(max(run.hung_at, run.last) - run.first)
        return {
            "run": run.key,
            "problem": f"has not ended after {took} (max {format_duration(self.p.max_duration)})",
            "duration": took,
            "started": iso(run.first),
        }

    def report_hung(
        self, run: Run, end: Event | None = None, dropped_at: datetime | None = None
    ) -> None:
        """The hung finding: open; cleared by the run's `end`; or cleared when
        the run is dropped past max_open (`dropped_at`: no longer watched)."""
        assert run.hung_at is not None and self.p.max_duration is not None
        limit = format_duration(self.p.max_duration)
        cleared_at = end.occurred_at if end is not None else dropped_at
        last_seen = max(run.hung_at, run.last, cleared_at or run.last)
        if end is not None:
            took = format_duration(end.occurred_at - run.first)
            summary = f"run {run.key} did not end within {limit}: it ended after {took} (cleared)"
        else:
            took = format_duration(last_seen - run.first)
            summary = f"run {run.key} has not ended after {took} (max {limit})"
            if dropped_at is not None:
                summary += f"; no longer watched: more than {self.p.max_open} runs open (cleared)"
        episode = {
            "status": OPEN if cleared_at is None else CLEARED,
            "start": iso(run.first),
            "hung_from": iso(run.first + self.p.max_duration),
            "seen_hung_at": iso(run.hung_at),
            "last_seen": iso(last_seen),
            "max_duration_s": self.p.max_duration.total_seconds(),
            "cleared_at": iso(cleared_at) if cleared_at else None,
            "dropped": dropped_at is not None,
        }
        trigger_id = run.start_id if run.start_id is not None else run.first_id
        trigger_at = run.start if run.start is not None else run.first
        self.ctx.find(
            self.rule,
            kind=HUNG,
            anchor=run.key,
            anchor_event_id=trigger_id,
            first_seen=run.first,
            last_seen=last_seen,
            summary=summary,
            evidence=[
                EvidenceItem(
                    "trigger",
                    trigger_id,
                    {
                        "event_id": trigger_id,
                        "occurred_at": iso(trigger_at),
                        "role": "start",
                        "payload": run.payload,
                    },
                ),
                EvidenceItem("episode", trigger_id, episode),
                EvidenceItem("run", trigger_id, run.timeline(end)),
            ],
            values={},
            recommendation=run.hung_text,
        )

    # -- events -------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if self.clock is None or event.occurred_at > self.clock:
            self.clock = event.occurred_at
        self.judge(self.clock)
        try:
            key = _key(self.p, event)
        except ValueError as exc:
            self.ctx.problem(self.rule, event.id, str(exc))
            return
        if key in self.ended_keys:
            return  # a late event of a run already judged
        stage = self.p.stage(event.payload)
        if stage is not MISSING and stage is not None and (not isinstance(stage, str) or not stage):
            self.ctx.problem(
                self.rule, event.id, f"{self.p.stage_name} is not a stage name: {stage!r}"
            )
            return
        run = self.open.get(key)
        if run is None:
            if len(self.open) >= self.p.max_open:
                self._drop_oldest(event)
            run = self.open[key] = Run.new(key, event)
            if self.p.max_duration is not None:
                due = run.first + self.p.max_duration
                if self.next_deadline is None or due < self.next_deadline:
                    self.next_deadline = due
        else:
            before = run.first
            run.saw(event)
            if run.first < before and run.hung_at is None and self.p.max_duration is not None:
                due = run.first + self.p.max_duration
                if self.next_deadline is None or due < self.next_deadline:
                    self.next_deadline = due
        if run.hung_at is not None:
            self.touched.add(key)
        if isinstance(stage, str):
            run.stage(stage, event, self.p.conclusion(event.payload))
        elif self.p.end_when(event.payload):
            self._end(run, event)
        elif self.p.start_when(event.payload):
            run.started(event)
        # A late event may have opened a run (or moved its beginning) already
        # older than max_duration by the clock.
        self.judge(self.clock)

    def _forget(self, key: str) -> None:
        del self.open[key]
        self.touched.discard(key)
        if len(self.ended) >= ENDED:
            self.ended_keys.discard(self.ended.popleft())
        self.ended.append(key)
        self.ended_keys.add(key)

    def _drop_oldest(self, event: Event) -> None:
        oldest = next(iter(self.open.values()))
        self._forget(oldest.key)
        if oldest.hung_at is not None:
            assert self.clock is not None
            self.report_hung(oldest, dropped_at=self.clock)
        self.ctx.problem(
            self.rule,
            event.id,
            f"run {oldest.key} dropped unjudged: more than {self.p.max_open} runs open at once "
            "(max_open)",
        )

    def _end(self, run: Run, end: Event) -> None:
        # (A run that ended after max_duration was judged hung before its end
        # was applied: the clock had reached the end's time.)
        self._forget(run.key)
        if run.hung_at is not None:
            self.report_hung(run, end)
        if run.start is None:
            return  # began before the rule saw it: what it did is unknown
        if self.p.success_when is not None and not self.p.success_when(end.payload):
            return
        if self.p.requires:
            self._check_stages(run, end)
        if self.p.slow:
            self._check_duration(run, end)

    def _check_stages(self, run: Run, end: Event) -> None:
        ran = run.ran()
        missing = [name for name in self.p.requires if name not in ran]
        disorder: list[list[str]] = []
        if self.p.ordered:
            present = [ran[name] for name in self.p.requires if name in ran]
            disorder = [[a.name, b.name] for a, b in pairwise(present) if b.first < a.last]
        if not missing and not disorder:
            return
        said = []
        if missing:
            said.append(f"ended without {', '.join(missing)}")
        for before, after in disorder:
            said.append(f"began {after} before {before} ended")
        problem = "; ".join(said)
        timeline = run.timeline(end)
        timeline.update(
            requires=list(self.p.requires),
            ordered=self.p.ordered,
            missing=missing,
            out_of_order=disorder,
        )
        self._momentary(
            run,
            end,
            INCOMPLETE,
            problem,
            evidence=[EvidenceItem("run", end.id, timeline)],
            values={"missing": missing or None},
        )

    def _check_duration(self, run: Run, end: Event) -> None:
        took = (end.occurred_at - run.first).total_seconds()
        past = [h[1] for h in self.history]
        if len(past) >= self.p.min_history:
            seen = usual(past)
            if seen.median > 0 and took > seen.limit(self.p.slow_factor):
                problem = (
                    f"took {format_duration(took)}, against a usual {format_duration(seen.median)}"
                    f" (median of the last {seen.n} runs)"
                )
                window = {
                    "start": self.history[0][0],
                    "end": self.history[-1][0],
                    "duration_s": took,
                    **seen.shown(self.p.slow_factor),
                    "points": [
                        {"occurred_at": h[0], "value": h[1], "run": h[2]} for h in self.history
                    ],
                }
                self._momentary(
                    run,
                    end,
                    SLOW,
                    problem,
                    evidence=[
                        EvidenceItem("window", end.id, window),
                        EvidenceItem("run", end.id, run.timeline(end)),
                    ],
                    values={"usual": format_duration(seen.median)},
                    value=took,
                )
        self.history.append([iso(end.occurred_at), took, run.key])

    def _momentary(
        self,
        run: Run,
        end: Event,
        kind: str,
        problem: str,
        *,
        evidence: list[EvidenceItem],
        values: dict[str, Any],
        value: float | None = None,
    ) -> None:
        trigger: dict[str, Any] = {
            "event_id": end.id,
            "occurred_at": iso(end.occurred_at),
            "kind": end.kind,
            "role": "end",
            "payload": dict(end.payload),
        }
        if value is not None:
            trigger["value"] = value
        took = format_duration(end.occurred_at - run.first)
        self.ctx.find(
            self.rule,
            kind=kind,
            anchor=run.key,
            anchor_event_id=end.id,
            first_seen=run.first,
            last_seen=end.occurred_at,
            summary=f"run {run.key} {problem}",
            evidence=[EvidenceItem("trigger", end.id, trigger), *evidence],
            values={
                "run": run.key,
                "problem": problem,
                "duration": took,
                "started": iso(run.first),
                **values,
            },
            payload={**run.payload, **end.payload},
        )

    # -- the end of the call ----------------------------------------------------

    def finish(self) -> State:
        if self.ctx.final:
            now = self.ctx.now if self.clock is None else max(self.clock, self.ctx.now)
            self.judge(now)
        for run in self.open.values():
            if run.key in self.touched:
                self.report_hung(run)
        due = self._deadline()
        return {
            "due": iso(due) if due else None,
            "clock": iso(self.clock) if self.clock else None,
            "open": [run.dump() for run in self.open.values()],
            "ended": list(self.ended),
            "history": list(self.history),
        }


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    one = _Pass(rule, ctx, state)
    for event in events:
        one.apply(event)
    return one.finish()


def due(rule: Rule, state: Mapping[str, Any]) -> datetime | None:
    return from_iso(state["due"]) if state.get("due") else None


SPEC = KindSpec(
    name="run",
    keys=frozenset(
        {
            "correlate",
            "start_when",
            "end_when",
            "success_when",
            "max_duration",
            "requires",
            "ordered",
            "stage",
            "conclusion",
            "slow",
            "slow_factor",
            "min_history",
            "history",
            "max_open",
        }
    ),
    required=frozenset({"correlate", "start_when", "end_when"}),
    supplies=frozenset({"run", "problem", "duration", "started", "missing", "usual"}),
    parse=parse,
    run=run,
    due=due,
)
