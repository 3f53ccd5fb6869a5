"""`flatline`: a value that does not move while events keep arriving.

A run is a stretch of consecutive points whose spread (max - min) stays
within `epsilon` (default 0: exactly equal). A point outside the band starts
a new run at that point. A run fires once, when it has lasted `for`
(occurred_at from its first point) or reached `points` points; its anchor is
its first point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sentinel.rules.conditions import Getter
from sentinel.rules.durations import format_duration
from sentinel.rules.kinds._base import (
    KindSpec,
    PassContext,
    Reader,
    Series,
    State,
    from_iso,
    iso,
    point,
    read_number,
)
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule


@dataclass(frozen=True)
class Params:
    field: str
    get: Getter
    hold: timedelta | None
    points: int | None
    epsilon: float


def parse(reader: Reader) -> Params | None:
    get = reader.field()
    hold = reader.duration("for")
    points = reader.integer("points", default=None, minimum=2)
    epsilon = reader.number("epsilon")
    if epsilon is not None and epsilon < 0:
        reader.issue(f"epsilon must not be negative, not {epsilon:g}")
    if reader.has("for") == reader.has("points"):
        reader.issue("needs exactly one of 'for' (duration) or 'points'")
    if reader.issues or get is None:
        return None
    return Params(
        field=reader.raw["field"],
        get=get,
        hold=timedelta(seconds=hold) if hold is not None else None,
        points=points,
        epsilon=epsilon or 0.0,
    )


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    start_id: int | None = state.get("start_id")
    start_at = from_iso(state["start_at"]) if state.get("start_at") else None
    start_value: float | None = state.get("start_value")
    low: float = state.get("low", 0.0)
    high: float = state.get("high", 0.0)
    count: int = state.get("count", 0)
    fired: bool = state.get("fired", False)
    eps, hold, points = params.epsilon, params.hold, params.points
    series = Series(state.get("series"))
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        series.add(event, value)
        if start_at is None or max(high, value) - min(low, value) > eps:
            start_id, start_at, start_value = event.id, event.occurred_at, value
            low = high = value
            count, fired = 1, False
        else:
            low, high = min(low, value), max(high, value)
            count += 1
        if fired:
            continue
        held = event.occurred_at - start_at
        if (hold is not None and held >= hold) or (points is not None and count >= points):
            fired = True
            ctx.find(
                rule,
                kind="flatline",
                anchor=start_id,
                anchor_event_id=start_id,
                first_seen=start_at,
                last_seen=event.occurred_at,
                summary=(
                    f"{params.field} flat at {start_value:g} for {format_duration(held)} "
                    f"({count} points, spread {high - low:g})"
                ),
                evidence=[
                    EvidenceItem("trigger", event.id, point(event, value)),
                    EvidenceItem(
                        "window",
                        start_id,
                        {
                            "start": iso(start_at),
                            "end": iso(event.occurred_at),
                            "first_event_id": start_id,
                            "points": count,
                            "min": low,
                            "max": high,
                            "epsilon": eps,
                        },
                    ),
                    EvidenceItem("series", None, {"points": series.evidence()}),
                ],
                values={"value": value, "held": format_duration(held), "seen": count},
                payload=event.payload,
            )
    return {
        "start_id": start_id,
        "start_at": iso(start_at) if start_at else None,
        "start_value": start_value,
        "low": low,
        "high": high,
        "count": count,
        "series": series.dump(),
        "fired": fired,
    }


SPEC = KindSpec(
    name="flatline",
    keys=frozenset({"field", "for", "points", "epsilon"}),
    required=frozenset({"field"}),
    supplies=frozenset({"value", "field", "held", "seen"}),
    parse=parse,
    run=run,
)
