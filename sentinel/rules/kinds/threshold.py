"""`threshold`: one finding per episode beyond `above` / `below`.

An episode starts at the first event beyond the limit (its anchor) and closes
only when the value crosses the clear level (`clear_below` for `above`,
`clear_above` for `below`; the limit itself by default), so a value
oscillating between the clear level and the limit stays one episode. With
`for` (on-delay), the value must stay beyond the limit that long (occurred_at)
before the episode fires; falling back inside the limit first cancels it.
With `keep_for` (off-delay, like Prometheus' keep_firing_for), the value must
stay past the clear level that long before the episode closes; a point back
beyond the limit meanwhile continues the same episode. While open, every
point beyond updates the finding (last_seen, peak, points beyond).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
    hold: float | None  # seconds: the on-delay (`for`)
    keep: float | None  # seconds: the off-delay (`keep_for`)


def parse(reader: Reader) -> Params | None:
    get = reader.field()
    above = reader.number("above")
    below = reader.number("below")
    clear_below = reader.number("clear_below")
    clear_above = reader.number("clear_above")
    hold = reader.duration("for")
    keep = reader.duration("keep_for")
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
        hold=hold,
        keep=keep,
    )


class _Side:
    """One side's state: idle, pending (an on-delay running from `anchor`)
    or active (an open episode)."""

    __slots__ = ("anchor", "anchor_at", "anchor_value", "episode", "phase")

    def __init__(self, saved: Mapping[str, Any] | None) -> None:
        saved = saved or {}
        self.phase: str = saved.get("phase", IDLE)
        self.anchor: int | None = saved.get("anchor")
        at = saved.get("anchor_at")
        self.anchor_at: datetime | None = from_iso(at) if at else None
        self.anchor_value: float | None = saved.get("anchor_value")
        self.episode = Episode.load(saved.get("episode"))

    def dump(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "anchor": self.anchor,
            "anchor_at": iso(self.anchor_at) if self.anchor_at else None,
            "anchor_value": self.anchor_value,
            "episode": self.episode.dump() if self.episode else None,
        }


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    sides = [(side, _Side(state.get(side.name))) for side in params.sides]
    series = Series(state.get("series"))
    hold, keep = params.hold, params.keep
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        series.add(event, value)
        for side, st in sides:
            if side.name == "above":
                beyond, cleared = value > side.limit, value < side.clear
            else:
                beyond, cleared = value < side.limit, value > side.clear
            ep = st.episode
            if ep is not None:
                if beyond:
                    ep.hit(event, value, abs(value - side.limit))
                elif not cleared:
                    ep.unsettled()  # inside the hysteresis band
                else:
                    ep.quiet(event)
                    if keep is None or ep.calm_for(event) >= keep:
                        _report(rule, ctx, side, ep, series, cleared_at=event.occurred_at)
                        st.episode, st.phase = None, IDLE
                continue
            if not beyond:
                st.phase = IDLE  # an on-delay that did not hold is cancelled
                continue
            if st.phase == IDLE:
                st.phase, st.anchor, st.anchor_at = PENDING, event.id, event.occurred_at
                st.anchor_value = value
            assert st.anchor_at is not None and st.anchor is not None
            if hold is None or (event.occurred_at - st.anchor_at).total_seconds() >= hold:
                st.phase = ACTIVE
                st.episode = _open(rule, ctx, side, st, event, value)
    for side, st in sides:
        if st.episode is not None and st.episode.seen:
            _report(rule, ctx, side, st.episode, series)
    return {**{side.name: st.dump() for side, st in sides}, "series": series.dump()}


def _open(
    rule: Rule, ctx: PassContext, side: Side, st: _Side, event: Event, value: float
) -> Episode:
    params: Params = rule.params
    assert st.anchor is not None and st.anchor_at is not None
    trigger = {
        "direction": side.name,
        "limit": side.limit,
        "clear": side.clear,
        "field": params.field,
        **point(event, value),
    }
    if params.hold is not None:
        trigger["anchor_value"] = st.anchor_value
    values = {"value": value, "limit": side.limit, "direction": side.name}
    ep = Episode(
        f"threshold.{side.name}",
        st.anchor,
        st.anchor_at,
        trigger,
        ctx.render(rule, values, event.payload),
    )
    ep.hit(event, value, abs(value - side.limit))
    return ep


def _report(
    rule: Rule,
    ctx: PassContext,
    side: Side,
    ep: Episode,
    series: Series,
    cleared_at: datetime | None = None,
) -> None:
    params: Params = rule.params
    trigger = ep.trigger
    assert ep.peak is not None
    summary = f"{params.field} {side.name} {side.limit:g}: {trigger['value']:g}"
    evidence = [EvidenceItem("series", None, {"points": series.evidence()})]
    if params.hold is not None:
        end = from_iso(trigger["occurred_at"])
        held = end - ep.first_seen
        evidence.append(
            EvidenceItem(
                "point",
                ep.anchor,
                {
                    "event_id": ep.anchor,
                    "value": trigger.get("anchor_value"),
                    "occurred_at": iso(ep.first_seen),
                    "role": "anchor",
                },
            )
        )
        evidence.append(
            EvidenceItem(
                "window",
                None,
                {
                    "start": iso(ep.first_seen),
                    "end": trigger["occurred_at"],
                    "held_seconds": held.total_seconds(),
                    "for_seconds": params.hold,
                },
            )
        )
        summary += f" for {format_duration(held)}"
    if ep.points > 1:
        summary += f"; peak {ep.peak['value']:g}, {ep.points} points beyond"
    ep.report(
        rule,
        ctx,
        status=OPEN if cleared_at is None else CLEARED,
        summary=summary,
        evidence=evidence,
        values={"value": trigger["value"], "limit": side.limit, "direction": side.name},
        cleared_at=cleared_at,
    )


SPEC = KindSpec(
    name="threshold",
    keys=frozenset({"field", "above", "below", "clear_below", "clear_above", "for", "keep_for"}),
    required=frozenset({"field"}),
    supplies=frozenset({"value", "field", "limit", "direction"}),
    parse=parse,
    run=run,
)
