"""`threshold`: one finding per episode beyond `above` / `below`.

An episode starts at the first event beyond the limit (its anchor) and closes
only when the value crosses the clear level (`clear_below` for `above`,
`clear_above` for `below`; the limit itself by default), so a value
oscillating between the clear level and the limit stays one episode. With
`for`, the value must stay beyond the limit that long (occurred_at) before
the episode fires; falling back inside the limit first cancels it.
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
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule

IDLE, PENDING, ACTIVE = "idle", "pending", "active"


@dataclass(frozen=True)
class Side:
    name: str  # "above" or "below"
    limit: float
    clear: float


@dataclass(frozen=True)
class Params:
    field: str
    get: Getter
    sides: tuple[Side, ...]
    hold: timedelta | None


def parse(reader: Reader) -> Params | None:
    get = reader.field()
    above = reader.number("above")
    below = reader.number("below")
    clear_below = reader.number("clear_below")
    clear_above = reader.number("clear_above")
    hold = reader.duration("for")
    if not reader.has("above") and not reader.has("below"):
        reader.issue("needs 'above' and/or 'below'")
    if clear_below is not None:
        if not reader.has("above"):
            reader.issue("clear_below only applies with 'above'")
        elif above is not None and clear_below >= above:
            reader.issue(f"clear_below ({clear_below:g}) must be below above ({above:g})")
    if clear_above is not None:
        if not reader.has("below"):
            reader.issue("clear_above only applies with 'below'")
        elif below is not None and clear_above <= below:
            reader.issue(f"clear_above ({clear_above:g}) must be above below ({below:g})")
    if above is not None and below is not None and below >= above:
        reader.issue(f"below ({below:g}) must be less than above ({above:g})")
    if reader.issues or get is None:
        return None
    sides = []
    if above is not None:
        sides.append(Side("above", above, above if clear_below is None else clear_below))
    if below is not None:
        sides.append(Side("below", below, below if clear_above is None else clear_above))
    return Params(
        field=reader.raw["field"],
        get=get,
        sides=tuple(sides),
        hold=timedelta(seconds=hold) if hold is not None else None,
    )


class _Episode:
    __slots__ = ("anchor", "anchor_at", "anchor_value", "phase")

    def __init__(self, saved: Mapping[str, Any] | None) -> None:
        saved = saved or {}
        self.phase: str = saved.get("phase", IDLE)
        self.anchor: int | None = saved.get("anchor")
        at = saved.get("anchor_at")
        self.anchor_at: datetime | None = from_iso(at) if at else None
        self.anchor_value: float | None = saved.get("anchor_value")

    def dump(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "anchor": self.anchor,
            "anchor_at": iso(self.anchor_at) if self.anchor_at else None,
            "anchor_value": self.anchor_value,
        }


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    episodes = [(side, _Episode(state.get(side.name))) for side in params.sides]
    series = Series(state.get("series"))
    hold = params.hold
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        series.add(event, value)
        for side, ep in episodes:
            if side.name == "above":
                beyond, cleared = value > side.limit, value < side.clear
            else:
                beyond, cleared = value < side.limit, value > side.clear
            if ep.phase == ACTIVE:
                if cleared:
                    ep.phase = IDLE
                continue
            if not beyond:
                ep.phase = IDLE  # an on-delay that did not hold is cancelled
                continue
            if ep.phase == IDLE:
                ep.phase, ep.anchor, ep.anchor_at = PENDING, event.id, event.occurred_at
                ep.anchor_value = value
            assert ep.anchor_at is not None
            if hold is None or event.occurred_at - ep.anchor_at >= hold:
                ep.phase = ACTIVE
                _fire(rule, ctx, side, ep, event, value, hold, series)
    return {**{side.name: ep.dump() for side, ep in episodes}, "series": series.dump()}


def _fire(
    rule: Rule,
    ctx: PassContext,
    side: Side,
    ep: _Episode,
    event: Event,
    value: float,
    hold: timedelta | None,
    series: Series,
) -> None:
    params: Params = rule.params
    assert ep.anchor_at is not None
    word = "above" if side.name == "above" else "below"
    evidence = [
        EvidenceItem(
            "trigger",
            event.id,
            {
                "direction": side.name,
                "limit": side.limit,
                "clear": side.clear,
                "field": params.field,
                **point(event, value),
            },
        )
    ]
    summary = f"{params.field} {word} {side.limit:g}: {value:g}"
    evidence.append(EvidenceItem("series", None, {"points": series.evidence()}))
    if hold is not None:
        held = event.occurred_at - ep.anchor_at
        evidence.append(
            EvidenceItem(
                "point",
                ep.anchor,
                {
                    "event_id": ep.anchor,
                    "value": ep.anchor_value,
                    "occurred_at": iso(ep.anchor_at),
                    "role": "anchor",
                },
            )
        )
        evidence.append(
            EvidenceItem(
                "window",
                None,
                {
                    "start": iso(ep.anchor_at),
                    "end": iso(event.occurred_at),
                    "held_seconds": held.total_seconds(),
                    "for_seconds": hold.total_seconds(),
                },
            )
        )
        summary += f" for {format_duration(held)}"
    ctx.find(
        rule,
        kind=f"threshold.{side.name}",
        anchor=ep.anchor,
        anchor_event_id=ep.anchor,
        first_seen=ep.anchor_at,
        last_seen=event.occurred_at,
        summary=summary,
        evidence=evidence,
        values={"value": value, "limit": side.limit, "direction": side.name},
        payload=event.payload,
    )


SPEC = KindSpec(
    name="threshold",
    keys=frozenset({"field", "above", "below", "clear_below", "clear_above", "for"}),
    required=frozenset({"field"}),
    supplies=frozenset({"value", "field", "limit", "direction"}),
    parse=parse,
    run=run,
)
