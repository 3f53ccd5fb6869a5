"""`rate`: a value changing faster than allowed, in units per minute.

The rate at an event is (value - oldest value in the window) / minutes
between them, over the points of the last `window` (occurred_at), once the
window holds `min_points`. Two consecutive points further apart than
`max_gap` start a new window (and end any episode): a data gap is not a
slope. One finding per direction per episode; the episode lasts until the
rate is back within the limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sentinel.rules.conditions import Getter
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
    round_sig,
)
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule

Point = tuple[int, datetime, float]


@dataclass(frozen=True)
class Params:
    field: str
    get: Getter
    window: timedelta
    max_rise: float | None
    max_fall: float | None
    min_points: int
    max_gap: timedelta | None


def parse(reader: Reader) -> Params | None:
    get = reader.field()
    window = reader.duration("window", required=True)
    max_rise = reader.number("max_rise", positive=True)
    max_fall = reader.number("max_fall", positive=True)
    min_points = reader.integer("min_points", default=2, minimum=2)
    max_gap = reader.duration("max_gap")
    if not reader.has("max_rise") and not reader.has("max_fall"):
        reader.issue("needs 'max_rise' and/or 'max_fall' (per minute)")
    if reader.issues or get is None or window is None or min_points is None:
        return None
    return Params(
        field=reader.raw["field"],
        get=get,
        window=timedelta(seconds=window),
        max_rise=max_rise,
        max_fall=max_fall,
        min_points=min_points,
        max_gap=timedelta(seconds=max_gap) if max_gap is not None else None,
    )


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    window: deque[Point] = deque((p[0], from_iso(p[1]), p[2]) for p in state.get("points", []))
    active: dict[str, int] = dict(state.get("active", {}))
    span, max_gap = params.window, params.max_gap
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        at = event.occurred_at
        if window and max_gap is not None and at - window[-1][1] > max_gap:
            window.clear()
            active.clear()
        window.append((event.id, at, value))
        while at - window[0][1] > span:
            window.popleft()
        if len(window) < params.min_points:
            continue
        first = window[0]
        minutes = (at - first[1]).total_seconds() / 60.0
        if minutes <= 0:
            continue
        rate = (value - first[2]) / minutes
        for direction, violated in (
            ("rise", params.max_rise is not None and rate > params.max_rise),
            ("fall", params.max_fall is not None and rate < -params.max_fall),
        ):
            if not violated:
                active.pop(direction, None)
            elif direction not in active:
                active[direction] = event.id
                _fire(rule, ctx, direction, event, value, rate, window)
    return {
        "points": [[p[0], iso(p[1]), p[2]] for p in window],
        "active": active,
    }


def _fire(
    rule: Rule,
    ctx: PassContext,
    direction: str,
    event: Event,
    value: float,
    rate: float,
    window: deque[Point],
) -> None:
    params: Params = rule.params
    first = window[0]
    limit = params.max_rise if direction == "rise" else params.max_fall
    shown = round_sig(rate, 4)
    evidence = [
        EvidenceItem(
            "trigger",
            event.id,
            {
                "direction": direction,
                "rate_per_minute": shown,
                "limit_per_minute": limit,
                **point(event, value),
            },
        ),
        EvidenceItem(
            "point",
            first[0],
            {
                "event_id": first[0],
                "occurred_at": iso(first[1]),
                "value": first[2],
                "role": "window start",
            },
        ),
        EvidenceItem(
            "window",
            None,
            {
                "start": iso(first[1]),
                "end": iso(event.occurred_at),
                "points": len(window),
                "window_seconds": params.window.total_seconds(),
            },
        ),
        EvidenceItem(
            "series",
            None,
            {
                "points": [
                    {"event_id": i, "occurred_at": iso(at), "value": v}
                    for i, at, v in list(window)[-Series.SIZE :]
                ]
            },
        ),
    ]
    word = "rising" if direction == "rise" else "falling"
    ctx.find(
        rule,
        kind=f"rate.{direction}",
        anchor=event.id,
        anchor_event_id=event.id,
        first_seen=first[1],
        last_seen=event.occurred_at,
        summary=f"{params.field} {word} at {abs(shown):g}/min (limit {limit:g}/min)",
        evidence=evidence,
        values={"value": value, "rate": shown, "direction": direction, "limit": limit},
        payload=event.payload,
    )


SPEC = KindSpec(
    name="rate",
    keys=frozenset({"field", "window", "max_rise", "max_fall", "min_points", "max_gap"}),
    required=frozenset({"field", "window"}),
    supplies=frozenset({"value", "field", "rate", "direction", "limit"}),
    parse=parse,
    run=run,
)
