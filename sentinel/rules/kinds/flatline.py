"""`flatline`: a value that does not move while events keep arriving.

A run is a stretch of consecutive points whose spread (max - min) stays
within `epsilon` (default 0: exactly equal). A point outside the band starts
a new run at that point. A run is one episode: it opens when the run has
lasted `for` (occurred_at from its first point) or reached `points` points
(its anchor is the run's first point), every further flat point updates it
(last_seen, points), and it clears at the first point outside the band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from sentinel.rules.kinds.episode import CLEARED, OPEN, Episode
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
    ep = Episode.load(state.get("episode"))
    eps, hold, points = params.epsilon, params.hold, params.points
    series = Series(state.get("series"))

    def snapshot() -> dict[str, Any]:
        return {"start_value": start_value, "low": low, "high": high, "count": count}

    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        if start_at is None or max(high, value) - min(low, value) > eps:
            if ep is not None:  # the value moved: the flat run is over
                _report(rule, ctx, ep, snapshot(), series, cleared_at=event.occurred_at)
                ep = None
            series.add(event, value)
            start_id, start_at, start_value = event.id, event.occurred_at, value
            low = high = value
            count = 1
        else:
            series.add(event, value)
            low, high = min(low, value), max(high, value)
            count += 1
        held = event.occurred_at - start_at
        if ep is not None:
            ep.hit(event, value, count)
        elif (hold is not None and held >= hold) or (points is not None and count >= points):
            assert start_id is not None
            trigger = point(event, value)
            values = {"value": value, "held": format_duration(held), "seen": count}
            ep = Episode(
                "flatline", start_id, start_at, trigger, ctx.render(rule, values, event.payload)
            )
            ep.hit(event, value, count)
    if ep is not None and ep.seen:
        _report(rule, ctx, ep, snapshot(), series)
    return {
        "start_id": start_id,
        "start_at": iso(start_at) if start_at else None,
        "start_value": start_value,
        "low": low,
        "high": high,
        "count": count,
        "series": series.dump(),
        "episode": ep.dump() if ep is not None else None,
    }


def _report(
    rule: Rule,
    ctx: PassContext,
    ep: Episode,
    flat: Mapping[str, Any],
    series: Series,
    cleared_at: datetime | None = None,
) -> None:
    params: Params = rule.params
    held = ep.last_seen - ep.first_seen
    ep.report(
        rule,
        ctx,
        status=OPEN if cleared_at is None else CLEARED,
        summary=(
            f"{params.field} flat at {flat['start_value']:g} for {format_duration(held)} "
            f"({flat['count']} points, spread {flat['high'] - flat['low']:g})"
        ),
        evidence=[
            EvidenceItem(
                "window",
                ep.anchor,
                {
                    "start": iso(ep.first_seen),
                    "end": iso(ep.last_seen),
                    "first_event_id": ep.anchor,
                    "points": flat["count"],
                    "min": flat["low"],
                    "max": flat["high"],
                    "epsilon": params.epsilon,
                },
            ),
            EvidenceItem("series", None, {"points": series.evidence()}),
        ],
        values={},
        cleared_at=cleared_at,
    )


SPEC = KindSpec(
    name="flatline",
    keys=frozenset({"field", "for", "points", "epsilon"}),
    required=frozenset({"field"}),
    supplies=frozenset({"value", "field", "held", "seen"}),
    parse=parse,
    run=run,
)
