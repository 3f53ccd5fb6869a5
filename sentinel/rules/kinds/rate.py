"""`rate`: a value changing faster than allowed, in units per minute.

The rate at an event is (value - oldest value in the window) / minutes
between them, over the points of the last `window` (occurred_at), once the
window holds `min_points`. Two consecutive points further apart than
`max_gap` start a new window (and end any episode): a data gap is not a
slope. One finding per direction per episode: it opens at the first point
whose rate is beyond the limit, every further such point updates it (last
seen, peak rate, points beyond), and it clears at the first point within the
limit once the window has slid past the last violation (no point beyond for
one `window`), or at a gap longer than `max_gap`.
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
from sentinel.rules.kinds.episode import CLEARED, OPEN, Episode
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
    episodes: dict[str, Episode | None] = {
        d: Episode.load((state.get("episodes") or {}).get(d)) for d in ("rise", "fall")
    }
    # The window as it stood at each open episode's last violation: an open
    # episode is reported with it, so any split into batches reports the same.
    at_hit: dict[str, list[list[Any]]] = dict(state.get("at_hit") or {})
    span, max_gap = params.window, params.max_gap
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        at = event.occurred_at
        if window and max_gap is not None and at - window[-1][1] > max_gap:
            window.clear()
            for direction, ep in episodes.items():  # a data gap ends the episode
                if ep is not None:
                    _report(rule, ctx, direction, ep, _points(window), cleared_at=at)
                    episodes[direction] = None
                    at_hit.pop(direction, None)
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
            ep = episodes[direction]
            if violated:
                if ep is None:
                    ep = episodes[direction] = _open(
                        rule, ctx, direction, event, value, rate, window
                    )
                ep.hit(event, value, abs(rate), rate_per_minute=round_sig(rate, 4))
                at_hit[direction] = _points(window)
            elif ep is not None:
                # Clear once the window has slid past the last violation.
                ep.quiet(event)
                if at - ep.last_seen >= span:
                    _report(rule, ctx, direction, ep, _points(window), cleared_at=at)
                    episodes[direction] = None
                    at_hit.pop(direction, None)
    for direction, ep in episodes.items():
        if ep is not None and ep.seen:
            _report(rule, ctx, direction, ep, at_hit.get(direction) or _points(window))
    return {
        "points": _points(window, limit=None),
        "episodes": {d: ep.dump() if ep else None for d, ep in episodes.items()},
        "at_hit": at_hit,
    }


def _points(window: deque[Point], limit: int | None = Series.SIZE) -> list[list[Any]]:
    """The window's points as saved in the state (the newest `limit`)."""
    shown = list(window)[-limit:] if limit else list(window)
    return [[p[0], iso(p[1]), p[2]] for p in shown]


def _open(
    rule: Rule,
    ctx: PassContext,
    direction: str,
    event: Event,
    value: float,
    rate: float,
    window: deque[Point],
) -> Episode:
    params: Params = rule.params
    first = window[0]
    limit = params.max_rise if direction == "rise" else params.max_fall
    shown = round_sig(rate, 4)
    trigger = {
        "direction": direction,
        "rate_per_minute": shown,
        "limit_per_minute": limit,
        **point(event, value),
        "window_start": {
            "event_id": first[0],
            "occurred_at": iso(first[1]),
            "value": first[2],
            "role": "window start",
        },
        "window": {
            "start": iso(first[1]),
            "end": iso(event.occurred_at),
            "points": len(window),
            "window_seconds": params.window.total_seconds(),
        },
    }
    values = {"value": value, "rate": shown, "direction": direction, "limit": limit}
    recommendation = ctx.render(rule, values, event.payload)
    return Episode(f"rate.{direction}", event.id, first[1], trigger, recommendation)


def _report(
    rule: Rule,
    ctx: PassContext,
    direction: str,
    ep: Episode,
    series: list[list[Any]],
    cleared_at: datetime | None = None,
) -> None:
    params: Params = rule.params
    trigger = ep.trigger
    limit = trigger["limit_per_minute"]
    start = trigger["window_start"]
    evidence = [
        EvidenceItem("point", start["event_id"], start),
        EvidenceItem("window", None, trigger["window"]),
        EvidenceItem(
            "series",
            None,
            {
                "points": [
                    {"event_id": i, "occurred_at": at, "value": v} for i, at, v in series
                ]
            },
        ),
    ]
    word = "rising" if direction == "rise" else "falling"
    summary = (
        f"{params.field} {word} at {abs(trigger['rate_per_minute']):g}/min (limit {limit:g}/min)"
    )
    if ep.points > 1 and ep.peak is not None:
        summary += f"; peak {abs(ep.peak['rate_per_minute']):g}/min, {ep.points} points beyond"
    ep.report(
        rule,
        ctx,
        status=OPEN if cleared_at is None else CLEARED,
        summary=summary,
        evidence=evidence,
        values={},
        cleared_at=cleared_at,
    )


SPEC = KindSpec(
    name="rate",
    keys=frozenset({"field", "window", "max_rise", "max_fall", "min_points", "max_gap"}),
    required=frozenset({"field", "window"}),
    supplies=frozenset({"value", "field", "rate", "direction", "limit"}),
    parse=parse,
    run=run,
)
